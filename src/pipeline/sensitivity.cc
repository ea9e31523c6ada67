#include "arrowquant/sensitivity.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "arrowquant/error.h"
#include "quant/hessian.h"
#include "format/pack.h"
#include "pipeline/precision_rules.h"
#include "quant/input_space.h"
#include "quant/rtn.h"
#include "quant/weight_error.h"
#include "arrowquant/packed_tensor.h"
#include "arrowquant/tensor_source.h"
#include "model/calibration_model.h"
#include "pipeline/activation_clips.h"
#include "pipeline/input_stats.h"
#include "pipeline/linear_quantizer.h"
#include "pipeline/model_session.h"
#include "pipeline/output_probe.h"
#include "pipeline/recorded_inputs.h"

namespace arrowquant {

const WidthSensitivity* TensorSensitivity::at(int bits) const {
  for (const auto& w : widths)
    if (w.bits == bits) return &w;
  return nullptr;
}

namespace {

// Tokens the output probes run on (the first calibration sequences): one forward pass per tensor, so
// few; enough that the ranking of tensors settles (on SmolLM2 a decoder's per-token KL over 512
// tokens).
constexpr int64_t kProbeTokens = 512;

// Spearman's rank correlation of x and y (ties ranked in order met; NaN below 3 pairs).
double rank_correlation(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size();
  if (n < 3 || y.size() != n) return NAN;
  auto ranks = [n](const std::vector<double>& v) {
    std::vector<size_t> idx(n);
    for (size_t i = 0; i < n; ++i) idx[i] = i;
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
    std::vector<double> r(n);
    for (size_t i = 0; i < n; ++i) r[idx[i]] = double(i);
    return r;
  };
  const std::vector<double> rx = ranks(x), ry = ranks(y);
  const double mean = double(n - 1) / 2;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (rx[i] - mean) * (ry[i] - mean);
    sxx += (rx[i] - mean) * (rx[i] - mean);
    syy += (ry[i] - mean) * (ry[i] - mean);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : NAN;
}

// The report's two correlations: does either entropy rank the tensors as the model divergence does?
void correlate_entropy(SensitivityReport& rep) {
  std::vector<double> div, we, div_in, ie;
  for (const auto& t : rep.tensors) {
    if (t.probe_divergence < 0) continue;
    div.push_back(t.probe_divergence);
    we.push_back(t.weight_entropy);
    double sum = 0;
    int n = 0;
    for (double e : t.input_entropy_by_group)
      if (e >= 0) sum += e, ++n;
    if (n) div_in.push_back(t.probe_divergence), ie.push_back(sum / n);
  }
  rep.weight_entropy_rank_correlation = rank_correlation(we, div);
  rep.input_entropy_rank_correlation = rank_correlation(ie, div_in);
}

double histogram_entropy(const std::vector<double>& counts) {
  double total = 0, h = 0;
  for (double c : counts) total += c;
  for (double c : counts)
    if (c > 0) h -= (c / total) * std::log2(c / total);
  return h;
}

double weight_entropy(const std::vector<float>& w) {
  if (w.empty()) return 0;
  auto [lo, hi] = std::minmax_element(w.begin(), w.end());
  const double a = *lo, span = double(*hi) - a;
  if (span <= 0) return 0;
  std::vector<double> counts(256, 0.0);
  for (float v : w) counts[std::min<size_t>(255, size_t((double(v) - a) / span * 256))] += 1;
  return histogram_entropy(counts);
}

// The width the output probes round at: 4 bits where analysed (small errors, where the divergence grows
// like the squared error the cost measures), else the analysed width nearest to it.
int probe_width(const std::vector<int>& widths) {
  int best = widths.front();
  for (int b : widths)
    if (std::abs(b - 4) < std::abs(best - 4)) best = b;
  return best;
}

// How a tensor is quantised at one format for the measurement.
using QuantizeAt = std::function<QuantizedTensor(const QuantFormat*)>;

// Each width is measured as the run would store it (`quantize`: for a block Linear with its inputs
// at hand, the run's own method — GPTQ, importance-weighted RTN — in the plan's rotated input space;
// round-to-nearest otherwise), errors taken in the model's own space, so that the allocation weighs
// the errors of the method actually used. With h, output errors on the calibration inputs; with a
// probe, the model's output with this tensor alone at the probe width.
TensorSensitivity measure(const FloatTensor& w, const std::string& role, const QuantConfig& cfg,
                          const std::vector<int>& widths, const QuantizeAt& quantize, const Hessian* h,
                          OutputProbe* probe) {
  TensorSensitivity t;
  t.name = w.name;
  t.shape = w.shape;
  t.role = role;
  t.params = int64_t(w.values.size());
  t.weight_entropy = weight_entropy(w.values);
  for (int bits : widths) {
    QuantizedTensor q = quantize(cfg.format_for(bits, w.shape.back()));
    const std::vector<float> back = dequantize(q);
    WidthSensitivity s;
    s.bits = bits;
    s.bytes = q.codes.size() + q.scales.size() + q.zero_points.size();
    s.weight_rel_rmse = weight_error(w.values.data(), back.data(), back.size()).rel_rmse;
    std::vector<double> counts(size_t(1) << bits, 0.0);
    std::vector<uint8_t> codes(size_t(q.geom.cols));
    const size_t rb = packed_row_bytes(q.geom.cols, bits);
    for (int64_t r = 0; r < q.geom.rows; ++r) {
      unpack_row(q.codes.data() + size_t(r) * rb, q.geom.cols, bits, codes.data());
      for (uint8_t c : codes) counts[c] += 1;
    }
    s.code_entropy = histogram_entropy(counts);
    if (h) {
      OutputError e = output_error(w.values.data(), back.data(), q.geom.rows, q.geom.cols, *h);
      s.output_rel_mse = e.rel_mse;
      s.output_cosine = e.cosine;
    }
    if (probe && bits == probe_width(widths)) {
      t.probe_bits = bits;
      t.probe_divergence = std::max(0.0, probe->divergence(w.name, back));
      // Reported, not weighed: allocating by each tensor's worst group instead of the mean over all
      // states measured worse on the Fashion DiT (docs/BENCHMARKS.md, mean noise error 0.067 vs 0.054).
      if (probe->time_groups() > 0) t.probe_divergence_by_group = probe->group_divergence();
      // A cost of zero (an exactly representable tensor) carries no error to weigh.
      t.divergence_per_cost = s.cost() > 0 ? t.probe_divergence / s.cost() : 0.0;
    }
    t.widths.push_back(s);
  }
  return t;
}

}  // namespace

SensitivityReport analyze_sensitivity(const std::string& model_path, const QuantConfig& cfg,
                                      const std::vector<int>& widths, const SensitivityLog& log) {
  ModelSession session(model_path);
  return analyze_sensitivity(session, cfg, widths, log);
}

SensitivityReport analyze_sensitivity(ModelSession& session, const QuantConfig& cfg, const std::vector<int>& widths,
                                      const SensitivityLog& log) {
  for (int b : widths)
    if (!cfg.format_for(b)) throw ValueError("width " + std::to_string(b) + " is not " + format_widths_text());
  if (session.modified()) throw Error("internal: sensitivity analysis after calibration would measure quantised weights");
  const TensorSource* src = &session.source();
  SensitivityReport rep;
  rep.model = session.path();
  rep.widths = widths;
  std::map<std::string, TensorPlan> plans;
  for (const auto& t : src->tensors()) {
    TensorPlan p = plan_tensor(t, cfg);
    rep.total_params += num_elements(t.shape);
    if (!p.quantize) {
      const DType keep = t.dtype == DType::F64 ? DType::F32 : t.dtype;
      rep.fixed_bytes += size_t(num_elements(t.shape)) * dtype_size(keep);
    }
    plans[t.name] = p;
  }
  std::map<std::string, TensorSensitivity> measured;
  std::unique_ptr<OutputProbe> probe;
  if (is_recorded_inputs(cfg.calibration)) {
    // A model we cannot run: each recorded layer's output error from its Hessian, no model probes.
    const InputRecording recording(cfg.calibration, *src);
    size_t todo = 0;
    for (const auto& t : src->tensors()) todo += plans[t.name].quantize && t.shape.size() == 2 && recording.has(t.name);
    if (log) log("calibration: recorded input statistics of " + std::to_string(todo) + " weight matrices (" +
                 cfg.calibration + "): each layer's output error, no model probes");
    for (const auto& t : src->tensors()) {
      const TensorPlan& plan = plans[t.name];
      if (!plan.quantize || t.shape.size() != 2 || !recording.has(t.name)) continue;
      if (log && measured.size() % 32 == 0)
        log("recorded layers measured: " + std::to_string(measured.size()) + "/" + std::to_string(todo));
      const RecordedLayer r = recording.layer(t.name, cfg.threads);
      FloatTensor w{t.name, t.shape, r.linear.float_weight()};
      auto quantize = [&](const QuantFormat* f) {
        return quantize_linear(r.linear, r.stats, cfg, f, plan.group_size, plan.rotation, nullptr).tensor;
      };
      measured[t.name] = measure(w, "linear", cfg, widths, quantize, &r.stats.hessian, nullptr);
    }
  } else if (!cfg.calibration.empty()) {
    CalibrationModel& model = session.calibration_model(cfg.threads);
    const auto& seqs = session.calibration_sequences(cfg);
    for (const auto& s : seqs) rep.calibration_tokens += int64_t(s.size());
    if (log) log("calibration: " + std::to_string(seqs.size()) + " sequences, " +
                 std::to_string(rep.calibration_tokens) + " tokens");
    // A diffusion model's states are short and spread over the timesteps: probe them all, so that
    // every time group has states.
    const bool timesteps = model.train_timesteps() > 0;
    probe = std::make_unique<OutputProbe>(model, seqs, timesteps ? rep.calibration_tokens : kProbeTokens);
    rep.probe_tokens = probe->tokens();
    if (cfg.time_groups > 0) {
      probe->set_time_groups(cfg.time_groups);
      rep.time_groups = cfg.time_groups;
    }
    if (log) log("output probes: each tensor alone at INT" + std::to_string(probe_width(widths)) + " on " +
                 std::to_string(rep.probe_tokens) + " tokens" +
                 (rep.time_groups ? ", divergence per group of " + std::to_string(rep.time_groups) + " time groups" : ""));
    // With time groups, the float model's Linear inputs per group, for their code entropy.
    std::unique_ptr<ActivationClipObserver> inputs_by_group;
    std::vector<int64_t> group_of_seq;
    if (rep.time_groups > 0) {
      inputs_by_group = std::make_unique<ActivationClipObserver>(rep.time_groups);
      TimeGroupClips grouping;
      grouping.train_timesteps = model.train_timesteps();
      grouping.groups = rep.time_groups;
      for (const auto& s : seqs) group_of_seq.push_back(grouping.group_of(model.timestep_of(s)));
    }
    collect_float_stats(
        model, seqs,
        [&](int64_t b, const std::vector<Linear*>& lin, const std::vector<const InputStats*>& st) {
          std::map<const InputStats*, int> inputs;  // siblings share their input's statistics
          for (size_t i = 0; i < lin.size(); ++i) {
            const std::string name = lin[i]->name + ".weight";
            auto it = plans.find(name);
            if (it == plans.end() || !it->second.quantize || !st[i]) continue;
            FloatTensor w{name, {lin[i]->out, lin[i]->in}, lin[i]->float_weight()};
            const TensorPlan& plan = it->second;
            auto quantize = [&](const QuantFormat* f) {
              return quantize_linear(*lin[i], *st[i], cfg, f, plan.group_size, plan.rotation, nullptr).tensor;
            };
            measured[name] = measure(w, "linear", cfg, widths, quantize, &st[i]->hessian, probe.get());
            const int input = inputs.emplace(st[i], int(inputs.size())).first->second;
            measured[name].shared_input = "block " + std::to_string(b) + " input " + std::to_string(input);
          }
          if (log) log("block " + std::to_string(b) + " measured");
        },
        nullptr,
        [&](size_t s) -> LinearObserver* {
          if (!inputs_by_group) return nullptr;
          inputs_by_group->begin_sequence(group_of_seq[s]);
          return inputs_by_group.get();
        });
    if (inputs_by_group)
      for (auto& [linear, e] : inputs_by_group->code_entropies())
        if (auto it = measured.find(linear + ".weight"); it != measured.end()) it->second.input_entropy_by_group = e;
  }
  for (const auto& t : src->tensors()) {
    if (!plans[t.name].quantize) continue;
    if (auto it = measured.find(t.name); it != measured.end()) {
      rep.tensors.push_back(std::move(it->second));
      continue;
    }
    FloatTensor w = src->read_f32(t.name);
    if (w.shape.size() != 2) {  // quantised as [rows, last dim]
      int64_t rows = 1;
      for (size_t d = 0; d + 1 < w.shape.size(); ++d) rows *= w.shape[d];
      w.shape = {rows, w.shape.back()};
    }
    const TensorPlan& plan = plans[t.name];
    auto quantize = [&](const QuantFormat* f) {
      return quantize_rtn(w, {f, plan.group_size, cfg.clip, cfg.threads, plan.rotation});
    };
    OutputProbe* p = probe && probe->covers(t.name) ? probe.get() : nullptr;
    rep.tensors.push_back(measure(w, is_embedding_or_head(t.name) ? "embedding/head" : "weight", cfg, widths,
                                  quantize, nullptr, p));
    rep.tensors.back().shape = t.shape;
  }
  if (probe) correlate_entropy(rep);
  return rep;
}

nlohmann::json SensitivityReport::to_json() const {
  nlohmann::json ts = nlohmann::json::array();
  for (const auto& t : tensors) {
    nlohmann::json ws = nlohmann::json::array();
    for (const auto& w : t.widths) {
      nlohmann::json j = {{"bits", w.bits}, {"bytes", w.bytes}, {"code_entropy", w.code_entropy},
                          {"weight_rel_rmse", w.weight_rel_rmse}};
      if (w.output_rel_mse >= 0) { j["output_rel_mse"] = w.output_rel_mse; j["output_cosine"] = w.output_cosine; }
      ws.push_back(j);
    }
    nlohmann::json j = {{"name", t.name}, {"shape", t.shape}, {"role", t.role}, {"params", t.params},
                        {"weight_entropy", t.weight_entropy}, {"widths", ws}};
    if (t.probe_divergence >= 0) {
      j["probe_bits"] = t.probe_bits;
      j["probe_divergence"] = t.probe_divergence;
      j["divergence_per_cost"] = t.divergence_per_cost;
      if (!t.probe_divergence_by_group.empty()) j["probe_divergence_by_time_group"] = t.probe_divergence_by_group;
    }
    if (!t.input_entropy_by_group.empty()) j["input_entropy_by_time_group"] = t.input_entropy_by_group;
    if (!t.shared_input.empty()) j["shared_input"] = t.shared_input;
    ts.push_back(j);
  }
  nlohmann::json j = {{"model", model}, {"widths", widths}, {"calibration_tokens", calibration_tokens},
                      {"probe_tokens", probe_tokens}, {"fixed_bytes", fixed_bytes}, {"total_params", total_params},
                      {"tensors", ts}};
  if (time_groups > 0) j["time_groups"] = time_groups;
  nlohmann::json corr = nlohmann::json::object();
  if (std::isfinite(weight_entropy_rank_correlation)) corr["weight_entropy"] = weight_entropy_rank_correlation;
  if (std::isfinite(input_entropy_rank_correlation)) corr["input_entropy"] = input_entropy_rank_correlation;
  if (!corr.empty()) j["entropy_vs_divergence_rank_correlation"] = corr;
  return j;
}

int SensitivityReport::probe_bits() const {
  for (const auto& t : tensors)
    if (t.probe_bits > 0) return t.probe_bits;
  return 0;
}

std::string SensitivityReport::to_markdown() const {
  // The most sensitive tensors first: by how far the model's output moves with the tensor alone
  // rounded (when probed), else by the error at the narrowest width.
  std::vector<const TensorSensitivity*> order;
  for (const auto& t : tensors) order.push_back(&t);
  const int narrow = widths.empty() ? 2 : *std::min_element(widths.begin(), widths.end());
  const bool probed = probe_tokens > 0;
  std::stable_sort(order.begin(), order.end(), [&](auto* a, auto* b) {
    if (probed) return a->probe_divergence > b->probe_divergence;
    return a->at(narrow)->cost() > b->at(narrow)->cost();
  });
  std::string s = "| rank | tensor | params | entropy |";
  std::string sep = "|---:|---|---:|---:|";
  if (probed) {
    s += " model divergence, alone at INT" + std::to_string(probe_bits()) + " |";
    sep += "---:|";
  }
  for (int b : widths) {
    s += " INT" + std::to_string(b) + " weight err | INT" + std::to_string(b) + " output cos |";
    sep += "---:|---:|";
  }
  s += "\n" + sep + "\n";
  char buf[128];
  int rank = 0;
  for (const auto* t : order) {
    snprintf(buf, sizeof buf, "| %d | %s | %lld | %.2f |", ++rank, t->name.c_str(), (long long)t->params, t->weight_entropy);
    s += buf;
    if (probed) {
      if (t->probe_divergence >= 0) snprintf(buf, sizeof buf, " %.3g |", t->probe_divergence);
      else snprintf(buf, sizeof buf, " - |");
      s += buf;
    }
    for (const auto& w : t->widths) {
      if (w.output_cosine >= 0) snprintf(buf, sizeof buf, " %.4f | %.5f |", w.weight_rel_rmse, w.output_cosine);
      else snprintf(buf, sizeof buf, " %.4f | - |", w.weight_rel_rmse);
      s += buf;
    }
    s += "\n";
  }
  if (std::isfinite(weight_entropy_rank_correlation) || std::isfinite(input_entropy_rank_correlation)) {
    // Whether entropy could drive the allocation: it would have to rank tensors as the divergence does.
    snprintf(buf, sizeof buf, "\nRank correlation with the model divergence (Spearman, probed tensors): weight entropy %.2f",
             weight_entropy_rank_correlation);
    s += buf;
    if (std::isfinite(input_entropy_rank_correlation)) {
      snprintf(buf, sizeof buf, ", mean input entropy over the time groups %.2f", input_entropy_rank_correlation);
      s += buf;
    }
    s += "\n";
  }
  if (time_groups > 0 && probed) s += "\n" + time_group_markdown(order);
  return s;
}

std::string SensitivityReport::time_group_markdown(const std::vector<const TensorSensitivity*>& order) const {
  // One row per tensor, one column per group of timesteps (group 0: the least noisy steps), each the
  // mean model divergence of that group's states with the tensor alone rounded; the worst group of
  // each row marked.
  std::string s = "Model divergence per time group (tensor alone at INT" + std::to_string(probe_bits()) +
                  "; group 0 = the least noisy timesteps)\n\n| tensor |";
  std::string sep = "|---|";
  for (int64_t g = 0; g < time_groups; ++g) s += " g" + std::to_string(g) + " |", sep += "---:|";
  s += " worst |\n" + sep + "---:|\n";
  char buf[64];
  for (const auto* t : order) {
    if (t->probe_divergence_by_group.empty()) continue;
    s += "| " + t->name + " |";
    size_t worst = 0;
    for (size_t g = 0; g < t->probe_divergence_by_group.size(); ++g) {
      const double d = t->probe_divergence_by_group[g];
      if (d > t->probe_divergence_by_group[worst]) worst = g;
      if (d >= 0) snprintf(buf, sizeof buf, " %.3g |", d);
      else snprintf(buf, sizeof buf, " - |");
      s += buf;
    }
    s += " g" + std::to_string(worst) + " |\n";
  }
  s += "\nInput entropy per time group (bits of the int8 |x| code at each group's own largest |x|, at most 7; "
       "float model)\n\n| tensor |";
  for (int64_t g = 0; g < time_groups; ++g) s += " g" + std::to_string(g) + " |";
  s += "\n" + sep + "\n";
  for (const auto* t : order) {
    if (t->input_entropy_by_group.empty()) continue;
    s += "| " + t->name + " |";
    for (double e : t->input_entropy_by_group) {
      if (e >= 0) snprintf(buf, sizeof buf, " %.2f |", e);
      else snprintf(buf, sizeof buf, " - |");
      s += buf;
    }
    s += "\n";
  }
  return s;
}

}  // namespace arrowquant
