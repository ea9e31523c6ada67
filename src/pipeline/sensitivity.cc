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
#include "pipeline/input_stats.h"
#include "pipeline/model_session.h"

namespace arrowquant {

const WidthSensitivity* TensorSensitivity::at(int bits) const {
  for (const auto& w : widths)
    if (w.bits == bits) return &w;
  return nullptr;
}

namespace {

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

// Each width is measured as the run would store it: in the plan's rotated input space, errors taken
// back in the model's own, and for an RTN run with the layer's inputs at hand importance-weighted as
// the run will round it (the allocation then weighs the errors of the method actually used).
TensorSensitivity measure(const FloatTensor& w, const std::string& role, const QuantConfig& cfg,
                          const std::vector<int>& widths, const InputRotation& rotation, const Hessian* h) {
  TensorSensitivity t;
  t.name = w.name;
  t.shape = w.shape;
  t.role = role;
  t.params = int64_t(w.values.size());
  t.weight_entropy = weight_entropy(w.values);
  const ClipMethod clip = cfg.clip;
  std::vector<float> importance;
  if (h && cfg.method == Method::Rtn && cfg.importance)
    importance = stored_input_mean_square(*h, rotation);
  for (int bits : widths) {
    const QuantFormat* fmt = cfg.format_for(bits);
    QuantizedTensor q = quantize_rtn(w, {fmt, cfg.group_size, clip, cfg.threads, rotation}, importance);
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
  if (!cfg.calibration.empty()) {
    CalibrationModel& model = session.calibration_model(cfg.threads);
    const auto& seqs = session.calibration_sequences(cfg);
    for (const auto& s : seqs) rep.calibration_tokens += int64_t(s.size());
    if (log) log("calibration: " + std::to_string(seqs.size()) + " sequences, " +
                 std::to_string(rep.calibration_tokens) + " tokens");
    collect_float_stats(
        model, seqs,
        [&](int64_t b, const std::vector<Linear*>& lin, const std::vector<const InputStats*>& st) {
          for (size_t i = 0; i < lin.size(); ++i) {
            const std::string name = lin[i]->name + ".weight";
            auto it = plans.find(name);
            if (it == plans.end() || !it->second.quantize || !st[i]) continue;
            FloatTensor w{name, {lin[i]->out, lin[i]->in}, lin[i]->float_weight()};
            measured[name] = measure(w, "linear", cfg, widths, it->second.rotation, &st[i]->hessian);
          }
          if (log) log("block " + std::to_string(b) + " measured");
        },
        nullptr);
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
    rep.tensors.push_back(measure(w, is_embedding_or_head(t.name) ? "embedding/head" : "weight", cfg, widths, plans[t.name].rotation, nullptr));
    rep.tensors.back().shape = t.shape;
  }
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
    ts.push_back({{"name", t.name}, {"shape", t.shape}, {"role", t.role}, {"params", t.params},
                  {"weight_entropy", t.weight_entropy}, {"widths", ws}});
  }
  return {{"model", model}, {"widths", widths}, {"calibration_tokens", calibration_tokens},
          {"fixed_bytes", fixed_bytes}, {"total_params", total_params}, {"tensors", ts}};
}

std::string SensitivityReport::to_markdown() const {
  // Ranked by the error at the narrowest width: the most sensitive tensors first.
  std::vector<const TensorSensitivity*> order;
  for (const auto& t : tensors) order.push_back(&t);
  const int narrow = widths.empty() ? 2 : *std::min_element(widths.begin(), widths.end());
  std::stable_sort(order.begin(), order.end(), [&](auto* a, auto* b) {
    return a->at(narrow)->cost() > b->at(narrow)->cost();
  });
  std::string s = "| rank | tensor | params | entropy |";
  std::string sep = "|---:|---|---:|---:|";
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
    for (const auto& w : t->widths) {
      if (w.output_cosine >= 0) snprintf(buf, sizeof buf, " %.4f | %.5f |", w.weight_rel_rmse, w.output_cosine);
      else snprintf(buf, sizeof buf, " %.4f | - |", w.weight_rel_rmse);
      s += buf;
    }
    s += "\n";
  }
  return s;
}

}  // namespace arrowquant
