#include "pipeline/calibrated_quantizer.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "arrowquant/error.h"
#include "model/calibration_model.h"
#include "pipeline/activation_clips.h"
#include "pipeline/block_tuner.h"
#include "pipeline/input_stats.h"
#include "pipeline/model_session.h"
#include "pipeline/output_probe.h"
#include "pipeline/scale_search.h"
#include "quant/input_space.h"
#include "quant/rtn.h"
#include "util/clock.h"
#include "util/interrupt.h"

namespace arrowquant {

namespace {

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

// Trajectory states a diffusion model's --min-accuracy probe runs on, spread over the calibration set.
constexpr size_t kNoiseProbeStates = 64;

// Where a checkpointed block keeps its Linears' activation clips (--time-groups).
constexpr const char* kClipsKey = "time_group_clips";

// One calibrated run, block by block. The states xs are the quantised model's activations entering
// the current block (xs_fp the float model's, with float targets); the model's weights are replaced
// block by block by their quantised-then-dequantised values.
class BlockCalibrator {
 public:
  BlockCalibrator(CalibrationModel& m, const std::vector<std::vector<int32_t>>& seqs, const QuantConfig& cfg,
                  const std::map<std::string, TensorPlan>& plans, const CalibrationLog& log, const BlockProgress& progress)
      : m_(m), seqs_(seqs), cfg_(cfg), plans_(plans), log_(log), progress_(progress),
        float_targets_(cfg.method == Method::Gptq && cfg.float_targets),
        tracks_float_(float_targets_ || cfg.tune_epochs > 0) {
    for (const auto& s : seqs) xs_.push_back(m.embed(s));
    if (tracks_float_) xs_fp_ = xs_;
    // A diffusion model's --min-accuracy is its noise prediction's cosine with the layer quantised on
    // top of every layer quantised before it (the rest float), on states spread over the calibration
    // trajectories: the model keeps that accuracy as calibration goes. Not the layer's own output
    // cosine (every 2-bit layer of the Fashion DiT keeps ≥ 0.97 while the samples are ruined), nor the
    // layer alone (each ≥ 0.987: the errors add up).
    if (cfg.min_accuracy > 0 && m.train_timesteps() > 0) {
      std::vector<std::vector<int32_t>> spread;
      const size_t stride = std::max<size_t>(1, seqs.size() / kNoiseProbeStates);
      for (size_t i = 0; i < seqs.size() && spread.size() < kNoiseProbeStates; i += stride) spread.push_back(seqs[i]);
      probe_ = std::make_unique<OutputProbe>(m, spread, INT64_MAX);
      probe_->track_cosine();
      accuracy_.what = "noise-prediction cosine";
      accuracy_.measure = [this](const Linear& l, const CalibratedTensor& ct) {
        probe_->divergence(weight_name(l), dequantize(ct.tensor));
        return probe_->last_cosine();
      };
    }
  }

  CalibrationResult run(const Checkpoint* ckpt) {
    if (cfg_.time_groups > 0) {
      res_.time_groups.train_timesteps = m_.train_timesteps();
      res_.time_groups.groups = cfg_.time_groups;
    }
    res_.sequences = int64_t(seqs_.size());
    for (const auto& s : seqs_) res_.tokens += int64_t(s.size());
    say("calibration: " + std::to_string(res_.sequences) + " sequences, " + std::to_string(res_.tokens) + " tokens from " +
        cfg_.calibration + " (" + m_.kind() + ", method " + method_name(cfg_.method) + ")");
    if (cfg_.bias_correction && !m_.bias_correction_fits())
      say("bias correction: off for a " + m_.kind() + " model (its layers' mean input moves with the timestep)");
    const int64_t nb = m_.blocks();
    for (int64_t b = 0; b < nb; ++b) {
      if (interrupt_requested()) throw Interrupted("interrupted: no output was written");
      const std::string key = "block_" + std::to_string(b);
      if (ckpt) {
        if (auto piece = ckpt->load(key)) {
          resume_block(b, *piece, *ckpt);
          continue;
        }
      }
      CheckpointPiece piece = calibrate_block(b);
      if (ckpt) {
        // Saved as the quantised model's states, then (float targets) the float model's.
        piece.activations = xs_;
        if (tracks_float_) piece.activations.insert(piece.activations.end(), xs_fp_.begin(), xs_fp_.end());
        ckpt->save(key, piece);
      }
    }
    char buf[200];
    snprintf(buf, sizeof buf, "calibration time: statistics %.1f s, quantisation %.1f s, advancing the quantised blocks %.1f s",
             seconds_.statistics, seconds_.quantisation, seconds_.advance);
    say(buf);
    return std::move(res_);
  }

 private:
  void say(const std::string& s) const {
    if (log_) log_(s);
  }
  void report(int64_t b, const std::string& what) const {
    if (progress_) progress_(b, m_.blocks(), "block " + std::to_string(b) + what);
  }
  const TensorPlan* plan_of(const Linear& l) const {
    auto it = plans_.find(weight_name(l));
    return it == plans_.end() || !it->second.quantize ? nullptr : &it->second;
  }
  bool folds_scales() const { return cfg_.method == Method::Awq || cfg_.method == Method::SmoothQuant; }

  // A finished block from the checkpoint: its results back into the model, and on after it.
  void resume_block(int64_t b, CheckpointPiece& piece, const Checkpoint& ckpt) {
    for (auto& q : piece.quantized) {
      CalibratedTensor ct;
      ct.tensor = std::move(q);
      const auto e = piece.info.value(ct.tensor.name, nlohmann::json::object());
      ct.method = e.value("method", method_name(cfg_.method));
      ct.error.rel_mse = e.value("rel_mse", 0.0);
      ct.error.cosine = e.value("cosine", 1.0);
      ct.rtn_rel_mse = e.value("rtn_rel_mse", -1.0);
      ct.weight.rel_rmse = e.value("weight_rel_rmse", 0.0);
      ct.weight.cosine = e.value("weight_cosine", 1.0);
      res_.tensors[ct.tensor.name] = std::move(ct);
    }
    for (auto& [name, v] : piece.floats) res_.floats[name] = v;
    for (auto& d : piece.decisions) res_.decisions.push_back(d);
    if (!res_.time_groups.empty()) {
      auto it = piece.info.find(kClipsKey);
      if (it == piece.info.end())
        throw FormatError(ckpt.dir() + ": block " + std::to_string(b) + " has no activation clips; rerun without --resume");
      for (const auto& [name, v] : it->items()) res_.time_groups.clips[name] = v.get<std::vector<float>>();
    }
    auto& acts = piece.activations;
    if (acts.size() != xs_.size() * (tracks_float_ ? 2 : 1))
      throw FormatError(ckpt.dir() + ": block " + std::to_string(b) + " holds the wrong number of states; rerun without --resume");
    xs_.assign(std::make_move_iterator(acts.begin()), std::make_move_iterator(acts.begin() + long(xs_.size())));
    if (tracks_float_)
      xs_fp_.assign(std::make_move_iterator(acts.begin() + long(xs_.size())), std::make_move_iterator(acts.end()));
    // The model must continue with exactly the weights the block ended with.
    for (Linear* l : m_.linears(b)) {
      auto it = res_.tensors.find(weight_name(*l));
      if (it != res_.tensors.end()) l->set_weight(dequantize(it->second.tensor));
      else if (auto f = res_.floats.find(weight_name(*l)); f != res_.floats.end()) l->set_weight(f->second);
      if (auto f = res_.floats.find(l->name + ".bias"); f != res_.floats.end()) l->bias = f->second;
    }
    for (auto& fold : m_.folds(b))
      if (fold.norm)
        if (auto f = res_.floats.find(fold.norm_name); f != res_.floats.end()) *fold.norm = f->second;
    if (probe_) probe_->advance_past(b);
    ++res_.resumed_blocks;
    say("block " + std::to_string(b) + ": resumed from the checkpoint");
    report(b, " (resumed)");
  }

  CheckpointPiece calibrate_block(int64_t b) {
    report(b, ": statistics");
    double t0 = now_seconds();
    auto obs = gather_block_stats(m_, b, xs_, seqs_, float_targets_ ? &xs_fp_ : nullptr);
    // What block-wise tuning matches: the float model's block outputs on the float model's states
    // (gather_block_stats has just advanced them with float targets; else advance them here). Measured
    // on stories260K at 2 bits: 9.12 against 11.67 with the float block on the quantised states.
    if (tracks_float_ && !float_targets_)
      for (size_t s = 0; s < xs_fp_.size(); ++s) m_.run_block(b, xs_fp_[s].data(), int64_t(seqs_[s].size()));
    seconds_.statistics += now_seconds() - t0;
    t0 = now_seconds();
    CheckpointPiece piece;
    if (folds_scales()) fold_scales(b, *obs, piece);
    for (Linear* l : m_.linears(b)) {
      const TensorPlan* plan = plan_of(*l);
      auto st = obs->stats_of(l);
      if (!plan || !st) {
        // Kept float; store it as the run left it (folded scales change it).
        if (folds_scales()) piece.floats[weight_name(*l)] = l->float_weight();
        continue;
      }
      report(b, ": " + l->name);
      quantize_linear_at_min_accuracy(*l, *plan, *st, piece);
    }
    if (cfg_.tune_epochs > 0) tune_block(b, xs_fp_, piece);
    seconds_.quantisation += now_seconds() - t0;
    t0 = now_seconds();
    // The finished block runs on its packed codes, as the deployed model will: int8 activations and
    // the integer GEMM where the format has them (SmolLM2: 28 s of float products -> 12-14 s). The
    // packed copies go once the block has run (a block never runs again; memory stays one block's).
    std::unique_ptr<ActivationClipObserver> clips;  // --time-groups: what the quantised Linears see
    if (!res_.time_groups.empty()) clips = std::make_unique<ActivationClipObserver>(res_.time_groups.groups);
    for (Linear* l : m_.linears(b))
      if (auto it = res_.tensors.find(weight_name(*l)); it != res_.tensors.end()) {
        l->run_on_packed(std::make_shared<const QuantizedTensor>(it->second.tensor));
        l->observer = clips.get();
      }
    try {
      for (size_t s = 0; s < xs_.size(); ++s) {
        if (clips) clips->begin_sequence(res_.time_groups.group_of(m_.timestep_of(seqs_[s])));
        m_.run_block(b, xs_[s].data(), int64_t(seqs_[s].size()));
      }
    } catch (...) {
      for (Linear* l : m_.linears(b)) l->observer = nullptr;
      throw;
    }
    for (Linear* l : m_.linears(b)) {
      l->observer = nullptr;
      if (l->is_packed()) l->drop_packed();
    }
    if (probe_) probe_->advance_past(b);
    if (clips)
      for (auto& [name, v] : clips->clips()) {
        piece.info[kClipsKey][name] = v;
        res_.time_groups.clips[name] = std::move(v);
      }
    seconds_.advance += now_seconds() - t0;
    for (auto& [name, v] : piece.floats) res_.floats[name] = v;
    for (auto& d : piece.decisions) res_.decisions.push_back(d);
    return piece;
  }

  // The block's group scales (codes, norms) tuned against the float model's block outputs; the tuned
  // tensors replace the layer-wise ones in the piece and the results.
  void tune_block(int64_t b, const std::vector<std::vector<float>>& targets, CheckpointPiece& piece) {
    report(b, ": tuning");
    std::vector<QuantizedTensor*> tensors;
    for (Linear* l : m_.linears(b)) {
      QuantizedTensor* t = nullptr;
      for (auto& q : piece.quantized)
        if (q.name == weight_name(*l)) t = &q;
      tensors.push_back(t);
    }
    const size_t n = cfg_.tune_samples > 0 ? std::min(seqs_.size(), size_t(cfg_.tune_samples)) : seqs_.size();
    std::vector<int64_t> lengths;
    for (size_t s = 0; s < n; ++s) lengths.push_back(int64_t(seqs_[s].size()));
    const std::vector<std::vector<float>> xs(xs_.begin(), xs_.begin() + long(n)), ys(targets.begin(), targets.begin() + long(n));
    const BlockTuneReport r = tune_block_scales(m_, b, tensors, xs, ys, lengths,
                                                {cfg_.tune_epochs, cfg_.tune_lr, 4, cfg_.tune_norms, cfg_.tune_codes});
    if (!r.supported) {
      if (b == 0) say("block tuning: " + m_.kind() + "s have no backward pass yet; the layer-wise result is kept");
      return;
    }
    const std::string what = std::string("scales") + (cfg_.tune_codes ? ", codes" : "") + (cfg_.tune_norms ? ", norms" : "");
    char buf[240];
    snprintf(buf, sizeof buf, "block %lld: %s tuned in %lld steps, output error %.5f -> %.5f (%s)", (long long)b,
             what.c_str(), (long long)r.steps, r.error_before, r.error_after,
             r.kept ? "kept" : "not better: layer-wise kept");
    say(buf);
    piece.decisions.push_back({{"block", b}, {"decision", r.kept ? "block tuned" : "tuning did not pay"}, {"tuned", what},
                               {"output_error_before", r.error_before}, {"output_error_after", r.error_after},
                               {"steps", r.steps}});
    if (!r.kept) return;
    for (QuantizedTensor* t : tensors)
      if (t) res_.tensors[t->name].tensor = *t;
    if (cfg_.tune_norms)
      for (ScaleFold& f : m_.folds(b))
        if (f.norm) piece.floats[f.norm_name] = *f.norm;
  }

  // AWQ / SmoothQuant: each fold point's scales searched (or computed) and folded into its producer.
  void fold_scales(int64_t b, StatsObserver& obs, CheckpointPiece& piece) {
    for (ScaleFold& fold : m_.folds(b)) {
      auto st = obs.stats_of(fold.consumers[0]);
      const TensorPlan* plan = plan_of(*fold.consumers[0]);
      if (!st || !plan) continue;
      FoldScales fs = cfg_.method == Method::Awq
                          ? search_awq_scales(fold, *st, plan->format, plan->group_size, cfg_.clip, cfg_.awq_grid, cfg_.threads)
                          : smoothquant_scales(fold, *st, cfg_.smooth_alpha);
      apply_fold(fold, fs);
      for (Linear* c : fold.consumers)
        if (auto cs = obs.stats_of(c); cs && cs != st) rescale_stats(*cs, fs.consumer);
      rescale_stats(*st, fs.consumer);
      nlohmann::json d = {{"tensor", fold.name}, {"decision", method_name(cfg_.method) + " scales folded"}};
      if (fs.alpha >= 0) d["alpha"] = fs.alpha;
      if (fs.error_before >= 0) {
        d["output_error_rtn"] = fs.error_before;
        d["output_error_scaled"] = fs.error_after;
      }
      piece.decisions.push_back(d);
      if (fold.norm) piece.floats[fold.norm_name] = *fold.norm;
      if (fold.rows && !fold.rows->bias.empty()) piece.floats[fold.rows->name + ".bias"] = fold.rows->bias;
    }
  }

  // The Linear at its planned width, retried wider while below --min-accuracy (every retry logged and
  // recorded). Then bias correction, and the model continues with the dequantised weight.
  void quantize_linear_at_min_accuracy(Linear& l, const TensorPlan& plan, const InputStats& st, CheckpointPiece& piece) {
    std::vector<float> target;
    if (!st.cross.empty()) target = float_target_weight(l, st, cfg_.damp);
    CalibratedTensor ct = arrowquant::quantize_linear_at_min_accuracy(
        l, plan, st, cfg_, target.empty() ? nullptr : &target, [this](const std::string& s) { say(s); }, piece.decisions,
        accuracy_);
    std::vector<float> back = dequantize(ct.tensor);
    if (cfg_.bias_correction && m_.bias_correction_fits() && !l.bias.empty()) {
      correct_bias(l, back, st);
      piece.floats[l.name + ".bias"] = l.bias;
    }
    l.set_weight(std::move(back));
    piece.info[weight_name(l)] = {{"method", ct.method}, {"rel_mse", ct.error.rel_mse},
                                  {"cosine", ct.error.cosine}, {"rtn_rel_mse", ct.rtn_rel_mse},
                                  {"weight_rel_rmse", ct.weight.rel_rmse}, {"weight_cosine", ct.weight.cosine}};
    piece.quantized.push_back(ct.tensor);
    res_.tensors[weight_name(l)] = std::move(ct);
  }

  // The rounding errors of a row add up to a shift of its output that is the same for every input
  // near the mean; give it back through the bias: b += (W - Ŵ)·E[x].
  static void correct_bias(Linear& l, const std::vector<float>& back, const InputStats& st) {
    const auto& w = l.float_weight();
    for (int64_t r = 0; r < l.out; ++r) {
      double d = 0;
      for (int64_t c = 0; c < l.in; ++c) d += double(w[size_t(r * l.in + c)] - back[size_t(r * l.in + c)]) * st.sum[size_t(c)];
      l.bias[size_t(r)] += float(d / double(st.tokens));
    }
  }

  CalibrationModel& m_;
  const std::vector<std::vector<int32_t>>& seqs_;
  const QuantConfig& cfg_;
  const std::map<std::string, TensorPlan>& plans_;
  const CalibrationLog& log_;
  const BlockProgress& progress_;
  const bool float_targets_;  // GPTQ's layer targets from the float model's inputs
  const bool tracks_float_;   // the float model's states are carried along (float targets, tuning)
  std::vector<std::vector<float>> xs_, xs_fp_;
  std::unique_ptr<OutputProbe> probe_;  // a diffusion model's --min-accuracy measure
  AccuracyMeasure accuracy_;
  CalibrationResult res_;
  struct {
    double statistics = 0, quantisation = 0, advance = 0;
  } seconds_;  // where the time went, logged at the end
};

}  // namespace

CalibrationResult quantize_calibrated(ModelSession& session, const QuantConfig& cfg,
                                      const std::map<std::string, TensorPlan>& plans,
                                      const std::function<const Checkpoint*()>& open_checkpoint,
                                      const CalibrationLog& log, const BlockProgress& progress) {
  CalibrationModel& model = session.calibration_model(cfg.threads);
  model.check_time_groups(cfg.time_groups);
  const auto& seqs = session.calibration_sequences(cfg);  // checked before any work
  const Checkpoint* ckpt = open_checkpoint ? open_checkpoint() : nullptr;
  session.calibrate_started();
  return BlockCalibrator(model, seqs, cfg, plans, log, progress).run(ckpt);
}

}  // namespace arrowquant
