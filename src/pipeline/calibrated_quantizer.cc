#include "pipeline/calibrated_quantizer.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "arrowquant/error.h"
#include "util/interrupt.h"
#include "model/calibration_model.h"
#include "model/model_weights.h"
#include "pipeline/scale_search.h"
#include "io/calibration_text.h"

namespace arrowquant {

void InputStats::add(const float* x, int64_t n, int64_t dim) {
  if (abs_sum.empty()) {
    hessian.dim = dim;
    abs_sum.assign(size_t(dim), 0.0);
    sum.assign(size_t(dim), 0.0);
    abs_max.assign(size_t(dim), 0.0f);
  }
  hessian.add(x, n);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t c = 0; c < dim; ++c) {
      const float a = std::fabs(x[t * dim + c]);
      sum[size_t(c)] += x[t * dim + c];
      abs_sum[size_t(c)] += a;
      abs_max[size_t(c)] = std::max(abs_max[size_t(c)], a);
    }
  tokens += n;
}

void InputStats::add_cross(const float* x, const float* x_fp, int64_t n, int64_t dim) {
  constexpr int64_t kBatchRows = 2048;
  if (pending_x_.empty()) {
    pending_x_.resize(size_t(kBatchRows * dim));
    pending_fp_.resize(pending_x_.size());
    cross.assign(size_t(dim * dim), 0.0);
  }
  while (n > 0) {
    const int64_t take = std::min(n, kBatchRows - pending_rows_);
    std::copy(x, x + take * dim, pending_x_.begin() + pending_rows_ * dim);
    std::copy(x_fp, x_fp + take * dim, pending_fp_.begin() + pending_rows_ * dim);
    pending_rows_ += take;
    x += take * dim;
    x_fp += take * dim;
    n -= take;
    if (pending_rows_ == kBatchRows) flush();
  }
}

void InputStats::flush() {
  hessian.flush();
  if (pending_rows_ == 0) return;
  const int64_t d = hessian.dim;
  std::vector<float> part(size_t(d * d));
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(d), blasint(d), blasint(pending_rows_), 1.0f,
              pending_x_.data(), blasint(d), pending_fp_.data(), blasint(d), 0.0f, part.data(), blasint(d));
  for (size_t i = 0; i < part.size(); ++i) cross[i] += double(part[i]);
  pending_rows_ = 0;
}

std::vector<float> InputStats::abs_mean() const {
  std::vector<float> m(abs_sum.size());
  for (size_t c = 0; c < m.size(); ++c) m[c] = tokens ? float(abs_sum[c] / double(tokens)) : 0.0f;
  return m;
}

namespace {

// Gathers InputStats per Linear during block runs. Linears fed the same input in a row (q, k, v)
// share one InputStats, filled once.
// Records each Linear's input during one run of the float model's block (float targets).
class InputRecorder : public LinearObserver {
 public:
  void observe(const Linear& l, const float* x, int64_t n) override {
    inputs_[&l].assign(x, x + n * l.in);
  }
  const std::vector<float>* input_of(const Linear* l) const {
    auto it = inputs_.find(l);
    return it == inputs_.end() ? nullptr : &it->second;
  }
  void clear() { inputs_.clear(); }

 private:
  std::map<const Linear*, std::vector<float>> inputs_;
};

class StatsObserver : public LinearObserver {
 public:
  explicit StatsObserver(const InputRecorder* fp = nullptr) : fp_(fp) {}
  void begin_sequence() { ++seq_; }
  void observe(const Linear& l, const float* x, int64_t n) override {
    auto it = by_linear_.find(&l);
    if (it == by_linear_.end()) {
      std::shared_ptr<InputStats> s =
          (prev_x_ == x && prev_n_ == n && prev_seq_ == seq_ && prev_) ? prev_ : std::make_shared<InputStats>();
      it = by_linear_.emplace(&l, s).first;
    }
    InputStats& s = *it->second;
    auto& last = last_[&s];
    if (!(last.first == x && last.second == seq_)) {
      s.add(x, n, l.in);
      if (fp_) {
        const std::vector<float>* xf = fp_->input_of(&l);
        if (!xf || int64_t(xf->size()) != n * l.in) throw Error("internal: float-target inputs out of step for " + l.name);
        s.add_cross(x, xf->data(), n, l.in);
      }
      last = {x, seq_};
    }
    prev_ = it->second;
    prev_x_ = x;
    prev_n_ = n;
    prev_seq_ = seq_;
  }
  void finish() {
    for (auto& [l, s] : by_linear_) s->flush();
  }
  std::shared_ptr<InputStats> stats_of(const Linear* l) const {
    auto it = by_linear_.find(l);
    return it == by_linear_.end() ? nullptr : it->second;
  }

 private:
  std::map<const Linear*, std::shared_ptr<InputStats>> by_linear_;
  std::map<const InputStats*, std::pair<const float*, int64_t>> last_;
  std::shared_ptr<InputStats> prev_;
  const float* prev_x_ = nullptr;
  int64_t prev_n_ = 0, prev_seq_ = -1, seq_ = 0;
  const InputRecorder* fp_ = nullptr;
};

// Runs block b on a copy of every sequence with observers attached; the copies are discarded. With
// xs_fp (the float model's states), each sequence first runs through the float block from there,
// recording every Linear's float input and advancing xs_fp to the block's float output.
std::unique_ptr<StatsObserver> gather_block_stats(CalibrationModel& m, int64_t b,
                                                  const std::vector<std::vector<float>>& xs,
                                                  const std::vector<std::vector<int32_t>>& seqs,
                                                  std::vector<std::vector<float>>* xs_fp = nullptr) {
  InputRecorder recorder;
  auto obs = std::make_unique<StatsObserver>(xs_fp ? &recorder : nullptr);
  auto lin = m.linears(b);
  auto attach = [&](LinearObserver* o) { for (Linear* l : lin) l->observer = o; };
  try {
    for (size_t s = 0; s < xs.size(); ++s) {
      if (interrupt_requested()) throw Error("interrupted");
      const int64_t T = int64_t(seqs[s].size());
      if (xs_fp) {
        recorder.clear();
        attach(&recorder);
        m.run_block(b, (*xs_fp)[s].data(), T);
      }
      attach(obs.get());
      obs->begin_sequence();
      std::vector<float> x = xs[s];
      m.run_block(b, x.data(), T);
    }
  } catch (...) {
    attach(nullptr);
    throw;
  }
  attach(nullptr);
  obs->finish();
  return obs;
}

// The weight whose output on the quantised model's inputs best matches the float model's output on
// its own inputs, kept near W where the calibration data says little: W' = (W·Cᵀ + λW)·(H + λI)⁻¹ with
// C = Σ x·x_fpᵀ (ridge towards W, not towards zero: with identical inputs W' = W exactly). Quantising
// W' instead of W lets a layer absorb the error the layers before it left in its input.
std::vector<float> float_target_weight(const Linear& l, const InputStats& st, double damp) {
  const int64_t d = l.in, out = l.out;
  std::vector<double> H = st.hessian.symmetric();
  const double mean_diag = st.hessian.mean_diagonal();
  for (int64_t i = 0; i < d; ++i) H[size_t(i * d + i)] += damp * mean_diag;
  // B = C·Wᵀ + λWᵀ  [d, out]
  const auto& w = l.float_weight();
  std::vector<double> W(w.begin(), w.end()), B(size_t(d * out));
  for (int64_t r = 0; r < out; ++r)
    for (int64_t c = 0; c < d; ++c) B[size_t(c * out + r)] = damp * mean_diag * W[size_t(r * d + c)];
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(d), blasint(out), blasint(d), 1.0, st.cross.data(),
              blasint(d), W.data(), blasint(d), 1.0, B.data(), blasint(out));
  if (LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', lapack_int(d), lapack_int(out), H.data(), lapack_int(d), B.data(),
                    lapack_int(out)) != 0)
    return w;  // not factorisable: keep the float weight as the target
  std::vector<float> target(size_t(out * d));
  for (int64_t r = 0; r < out; ++r)
    for (int64_t c = 0; c < d; ++c) target[size_t(r * d + c)] = float(B[size_t(c * out + r)]);
  return target;
}

std::string weight_name(const Linear& l) { return l.name + ".weight"; }

std::vector<float> dequantized(const QuantizedTensor& q) {
  std::vector<float> out(size_t(q.geom.rows * q.geom.cols));
  dequantize_rows(view_of(q), 0, q.geom.rows, out.data());
  return out;
}

// Quantises one Linear with the configured method at one format.
// With float targets (target non-null) errors are measured against the target weight: the float
// model's output, not this layer's own float output.
CalibratedTensor quantize_linear(const Linear& l, const InputStats& st, const QuantConfig& cfg,
                                 const QuantFormat* fmt, int64_t group_size, const std::vector<float>* target) {
  FloatTensor w{weight_name(l), {l.out, l.in}, target ? *target : l.float_weight()};
  const ClipMethod clip = cfg.clip;
  CalibratedTensor r;
  QuantizedTensor rtn = quantize_rtn({w.name, w.shape, l.float_weight()}, {fmt, group_size, clip, cfg.threads});
  const std::vector<float> rtn_back = dequantized(rtn);
  const OutputError rtn_err = output_error(w.values.data(), rtn_back.data(), l.out, l.in, st.hessian);
  if (cfg.method == Method::Gptq) {
    GptqOptions o;
    o.format = fmt;
    o.group_size = group_size;
    o.clip = clip;
    o.damp = cfg.damp;
    o.act_order = cfg.act_order;
    o.static_groups = cfg.static_groups;
    o.threads = cfg.threads;
    r.tensor = quantize_gptq(w, st.hessian, o).tensor;
    r.method = "gptq";
    const std::vector<float> back = dequantized(r.tensor);
    r.error = output_error(w.values.data(), back.data(), l.out, l.in, st.hessian);
    r.rtn_rel_mse = rtn_err.rel_mse;
    // GPTQ minimises a proxy; on the rare layer where plain rounding does better on the very same
    // data, keep the rounding.
    if (rtn_err.rel_mse < r.error.rel_mse) {
      r.tensor = std::move(rtn);
      r.error = rtn_err;
      r.method = "rtn (better than gptq here)";
    }
    return r;
  }
  r.tensor = std::move(rtn);
  r.method = cfg.method == Method::Rtn ? "rtn" : method_name(cfg.method) + "+rtn";
  r.error = rtn_err;
  return r;
}

void log_line(const CalibrationLog& log, const std::string& s) {
  if (log) log(s);
}

}  // namespace

std::vector<std::vector<int32_t>> calibration_sequences(CalibrationModel& m, const QuantConfig& cfg) {
  const int64_t seq_len = cfg.seq_len > 0 ? cfg.seq_len : m.default_seq_len();
  if (seq_len > m.context())
    throw ValueError("--seq-len " + std::to_string(seq_len) + " is longer than the model's context of " +
                     std::to_string(m.context()) + " tokens");
  if (seq_len < 2) throw ValueError("--seq-len must be at least 2 tokens");
  auto docs = read_calibration_documents(cfg.calibration);
  auto seqs = m.sequences(docs, cfg.samples, seq_len);
  if (seqs.empty())
    throw ValueError(cfg.calibration + ": the calibration text gives no sequence of two tokens or more");
  return seqs;
}

void collect_float_stats(CalibrationModel& m, const std::vector<std::vector<int32_t>>& seqs,
                         const std::function<void(int64_t, const std::vector<Linear*>&,
                                                  const std::vector<const InputStats*>&)>& fn,
                         const BlockProgress& progress) {
  std::vector<std::vector<float>> xs;
  for (const auto& s : seqs) xs.push_back(m.embed(s));
  for (int64_t b = 0; b < m.blocks(); ++b) {
    if (progress) progress(b, m.blocks(), "block " + std::to_string(b));
    auto obs = gather_block_stats(m, b, xs, seqs);
    auto lin = m.linears(b);
    std::vector<const InputStats*> st;
    for (Linear* l : lin) st.push_back(obs->stats_of(l).get());
    fn(b, lin, st);
    for (size_t s = 0; s < xs.size(); ++s) m.run_block(b, xs[s].data(), int64_t(seqs[s].size()));
  }
  if (progress) progress(m.blocks(), m.blocks(), "");
}

CalibrationResult quantize_calibrated(const std::string& model_path, const QuantConfig& cfg,
                                      const std::map<std::string, TensorPlan>& plans,
                                      const std::function<const Checkpoint*()>& open_checkpoint,
                                      const CalibrationLog& log, const BlockProgress& progress) {
  ModelWeights weights(model_path);
  auto model = CalibrationModel::open(weights, cfg.threads);
  const auto seqs = calibration_sequences(*model, cfg);
  const Checkpoint* ckpt = open_checkpoint ? open_checkpoint() : nullptr;
  CalibrationResult res;
  res.sequences = int64_t(seqs.size());
  for (const auto& s : seqs) res.tokens += int64_t(s.size());
  log_line(log, "calibration: " + std::to_string(res.sequences) + " sequences, " + std::to_string(res.tokens) +
                    " tokens from " + cfg.calibration + " (" + model->kind() + ", method " + method_name(cfg.method) + ")");

  std::vector<std::vector<float>> xs;
  for (const auto& s : seqs) xs.push_back(model->embed(s));
  const bool float_targets = cfg.method == Method::Gptq && cfg.float_targets;
  std::vector<std::vector<float>> xs_fp;  // the float model's states, for float targets
  if (float_targets) xs_fp = xs;
  const int64_t nb = model->blocks();
  for (int64_t b = 0; b < nb; ++b) {
    if (interrupt_requested()) throw Error("interrupted: no output was written");
    const std::string key = "block_" + std::to_string(b);
    auto lin = model->linears(b);
    if (ckpt) {
      if (auto piece = ckpt->load(key)) {
        // A finished block: put its results back into the model and carry on after it.
        for (auto& q : piece->quantized) {
          CalibratedTensor ct;
          ct.tensor = std::move(q);
          ct.method = piece->info.value(ct.tensor.name, nlohmann::json::object()).value("method", method_name(cfg.method));
          auto e = piece->info.value(ct.tensor.name, nlohmann::json::object());
          ct.error.rel_mse = e.value("rel_mse", 0.0);
          ct.error.cosine = e.value("cosine", 1.0);
          ct.rtn_rel_mse = e.value("rtn_rel_mse", -1.0);
          ct.weight.rel_rmse = e.value("weight_rel_rmse", 0.0);
          ct.weight.cosine = e.value("weight_cosine", 1.0);
          res.tensors[ct.tensor.name] = std::move(ct);
        }
        for (auto& [name, v] : piece->floats) res.floats[name] = v;
        for (auto& d : piece->decisions) res.decisions.push_back(d);
        // Saved as the quantised model's states, then (float targets) the float model's.
        auto& acts = piece->activations;
        if (acts.size() != xs.size() * (float_targets ? 2 : 1))
          throw FormatError(ckpt->dir() + ": block " + std::to_string(b) + " holds the wrong number of states; rerun without --resume");
        xs.assign(std::make_move_iterator(acts.begin()), std::make_move_iterator(acts.begin() + long(xs.size())));
        if (float_targets)
          xs_fp.assign(std::make_move_iterator(acts.begin() + long(xs.size())), std::make_move_iterator(acts.end()));
        // The model must continue with exactly the weights the block ended with.
        for (Linear* l : lin) {
          auto it = res.tensors.find(weight_name(*l));
          if (it != res.tensors.end()) l->set_weight(dequantized(it->second.tensor));
          else if (auto f = res.floats.find(weight_name(*l)); f != res.floats.end()) l->set_weight(f->second);
          if (auto f = res.floats.find(l->name + ".bias"); f != res.floats.end()) l->bias = f->second;
        }
        for (auto& fold : model->folds(b))
          if (fold.norm)
            if (auto f = res.floats.find(fold.norm_name); f != res.floats.end()) *fold.norm = f->second;
        ++res.resumed_blocks;
        log_line(log, "block " + std::to_string(b) + ": resumed from the checkpoint");
        if (progress) progress(b, nb, "block " + std::to_string(b) + " (resumed)");
        continue;
      }
    }
    if (progress) progress(b, nb, "block " + std::to_string(b) + ": statistics");
    auto obs = gather_block_stats(*model, b, xs, seqs, float_targets ? &xs_fp : nullptr);
    CheckpointPiece piece;

    if (cfg.method == Method::Awq || cfg.method == Method::SmoothQuant) {
      for (ScaleFold& fold : model->folds(b)) {
        auto st = obs->stats_of(fold.consumers[0]);
        if (!st) continue;
        const TensorPlan* plan = nullptr;
        if (auto it = plans.find(weight_name(*fold.consumers[0])); it != plans.end()) plan = &it->second;
        if (!plan || !plan->quantize) continue;
        FoldScales fs = cfg.method == Method::Awq
                            ? search_awq_scales(fold, *st, plan->format, plan->group_size,
                                                cfg.clip, cfg.awq_grid, cfg.threads)
                            : smoothquant_scales(fold, *st, cfg.smooth_alpha);
        apply_fold(fold, fs);
        for (Linear* c : fold.consumers)
          if (auto cs = obs->stats_of(c); cs && cs != st) rescale_stats(*cs, fs.consumer);
        rescale_stats(*st, fs.consumer);
        nlohmann::json d = {{"tensor", fold.name}, {"decision", method_name(cfg.method) + " scales folded"}};
        if (fs.alpha >= 0) d["alpha"] = fs.alpha;
        if (fs.error_before >= 0) { d["output_error_rtn"] = fs.error_before; d["output_error_scaled"] = fs.error_after; }
        piece.decisions.push_back(d);
        if (fold.norm) piece.floats[fold.norm_name] = *fold.norm;
        if (fold.rows && !fold.rows->bias.empty()) piece.floats[fold.rows->name + ".bias"] = fold.rows->bias;
      }
    }

    for (Linear* l : lin) {
      auto pit = plans.find(weight_name(*l));
      auto st = obs->stats_of(l);
      if (pit == plans.end() || !pit->second.quantize || !st) {
        // Kept float; store it as the run left it (folded scales change it).
        if (cfg.method == Method::Awq || cfg.method == Method::SmoothQuant) piece.floats[weight_name(*l)] = l->float_weight();
        continue;
      }
      const TensorPlan& plan = pit->second;
      if (progress) progress(b, nb, "block " + std::to_string(b) + ": " + l->name);
      std::vector<int> widths = {plan.format->bits};
      if (cfg.min_accuracy > 0)
        for (int w : {4, 8})
          if (w > plan.format->bits) widths.push_back(w);
      std::vector<float> target;
      if (!st->cross.empty()) target = float_target_weight(*l, *st, cfg.damp);
      CalibratedTensor ct;
      for (size_t wi = 0; wi < widths.size(); ++wi) {
        const QuantFormat* fmt = find_quant_format(widths[wi], plan.format->symmetric);
        ct = quantize_linear(*l, *st, cfg, fmt, plan.group_size, target.empty() ? nullptr : &target);
        if (cfg.min_accuracy <= 0 || ct.error.cosine >= cfg.min_accuracy || wi + 1 == widths.size()) break;
        char buf[256];
        snprintf(buf, sizeof buf, "%s: output cosine %.5f at INT%d is below --min-accuracy %.4f; redoing at INT%d",
                 l->name.c_str(), ct.error.cosine, widths[wi], cfg.min_accuracy, widths[wi + 1]);
        log_line(log, buf);
        piece.decisions.push_back({{"tensor", weight_name(*l)}, {"decision", buf}, {"from_bits", widths[wi]},
                                   {"to_bits", widths[wi + 1]}, {"output_cosine", ct.error.cosine}});
      }
      if (cfg.min_accuracy > 0 && ct.error.cosine < cfg.min_accuracy)
        piece.decisions.push_back({{"tensor", weight_name(*l)},
                                   {"decision", "still below --min-accuracy at INT8; kept INT8"},
                                   {"output_cosine", ct.error.cosine}});
      std::vector<float> back = dequantized(ct.tensor);
      ct.weight = weight_error(l->float_weight().data(), back.data(), back.size());
      if (cfg.bias_correction && !l->bias.empty()) {
        // The rounding errors of a row add up to a shift of its output that is the same for every
        // input near the mean; give it back through the bias: b += (W - Ŵ)·E[x].
        const auto& w = l->float_weight();
        for (int64_t r = 0; r < l->out; ++r) {
          double d = 0;
          for (int64_t c = 0; c < l->in; ++c)
            d += double(w[size_t(r * l->in + c)] - back[size_t(r * l->in + c)]) * st->sum[size_t(c)];
          l->bias[size_t(r)] += float(d / double(st->tokens));
        }
        piece.floats[l->name + ".bias"] = l->bias;
      }
      l->set_weight(std::move(back));
      piece.info[weight_name(*l)] = {{"method", ct.method}, {"rel_mse", ct.error.rel_mse},
                                     {"cosine", ct.error.cosine}, {"rtn_rel_mse", ct.rtn_rel_mse},
                                     {"weight_rel_rmse", ct.weight.rel_rmse}, {"weight_cosine", ct.weight.cosine}};
      piece.quantized.push_back(ct.tensor);
      res.tensors[weight_name(*l)] = std::move(ct);
    }
    for (size_t s = 0; s < xs.size(); ++s) model->run_block(b, xs[s].data(), int64_t(seqs[s].size()));
    for (auto& [name, v] : piece.floats) res.floats[name] = v;
    for (auto& d : piece.decisions) res.decisions.push_back(d);
    if (ckpt) {
      piece.activations = xs;
      if (float_targets) piece.activations.insert(piece.activations.end(), xs_fp.begin(), xs_fp.end());
      ckpt->save(key, piece);
    }
  }
  return res;
}

}  // namespace arrowquant
