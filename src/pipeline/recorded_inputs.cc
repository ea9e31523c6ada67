#include "pipeline/recorded_inputs.h"

#include <cmath>
#include <memory>
#include <set>

#include "arrowquant/error.h"
#include "model/linear.h"
#include "pipeline/linear_quantizer.h"
#include "quant/weight_error.h"
#include "util/interrupt.h"

namespace arrowquant {

bool is_recorded_inputs(const std::string& calibration) { return calibration.ends_with(".safetensors"); }

void check_recorded_inputs_settings(const QuantConfig& cfg) {
  if (!is_recorded_inputs(cfg.calibration)) return;
  const std::string why = " with recorded input statistics (--calibration " + cfg.calibration + "): ";
  if (cfg.method == Method::Awq || cfg.method == Method::SmoothQuant)
    throw ValueError("--method " + method_name(cfg.method) + why +
                     "it folds scales into the op before each layer, which needs a model ArrowQuant runs (use gptq or rtn)");
  if (cfg.time_groups > 0) throw ValueError("--time-groups" + why + "activation clips need the model's runs");
  if (cfg.tune_epochs > 0) throw ValueError("--tune-epochs" + why + "block tuning runs the model's blocks");
}

Hessian read_recorded_hessian(const TensorSource& recording, const std::string& name, int64_t in,
                              const std::string& where) {
  const std::string what = where + ": tensor " + name;
  const SourceTensorInfo* info = nullptr;
  for (const auto& t : recording.tensors())
    if (t.name == name) info = &t;
  if (!info) throw FormatError(what + " is missing");
  if (info->shape != Shape{in, in})
    throw FormatError(what + " has shape " + shape_str(info->shape) + ", expected [" + std::to_string(in) + ", " +
                      std::to_string(in) + "] (the input Hessian of a weight with " + std::to_string(in) + " columns)");
  const FloatTensor f = recording.read_f32(name);
  if (int64_t bad = first_nonfinite(f.values.data(), f.values.size()); bad >= 0)
    throw FormatError(what + " has a non-finite value at flat index " + std::to_string(bad));
  Hessian h;
  h.dim = in;
  h.tokens = 1;  // a mean, E[x·xᵀ]: the diagonal is each input's mean square
  h.h.assign(f.values.begin(), f.values.end());
  double scale = 0;
  for (int64_t c = 0; c < in; ++c) {
    const double d = h.h[size_t(c * in + c)];
    if (d < 0) throw FormatError(what + " has a negative diagonal entry at " + std::to_string(c) + ": not a Hessian");
    scale = std::max(scale, d);
  }
  for (int64_t r = 0; r < in; ++r)
    for (int64_t c = r + 1; c < in; ++c)
      if (std::fabs(h.h[size_t(r * in + c)] - h.h[size_t(c * in + r)]) > 1e-3 * scale + 1e-30)
        throw FormatError(what + " is not symmetric at [" + std::to_string(r) + ", " + std::to_string(c) +
                          "]: not a Hessian");
  return h;
}

InputRecording::InputRecording(const std::string& path, const TensorSource& model)
    : path_(path), model_(model), file_(open_tensor_source(path)) {
  if (file_->kind() != "safetensors") throw FormatError(path + ": a recording of input statistics is one .safetensors file");
  std::set<std::string> in_model;
  for (const auto& t : model.tensors()) in_model.insert(t.name);
  for (const auto& t : file_->tensors()) {
    if (!in_model.count(t.name))
      throw FormatError(path + ": holds input statistics for " + t.name +
                        ", which the model does not have (recorded for another model?)");
    names_.insert(t.name);
  }
}

bool InputRecording::has(const std::string& weight) const { return names_.count(weight) > 0; }

RecordedLayer InputRecording::layer(const std::string& weight, int threads) const {
  const SourceTensorInfo* info = nullptr;
  for (const auto& t : model_.tensors())
    if (t.name == weight) info = &t;
  if (!info || info->shape.size() != 2 || !weight.ends_with(".weight"))
    throw FormatError(path_ + ": " + weight + " is not a 2-D <layer>.weight of the model, so it cannot be calibrated as a layer");
  RecordedLayer r;
  Linear& l = r.linear;
  l.name = weight.substr(0, weight.size() - 7);  // less ".weight"
  l.out = info->shape[0];
  l.in = info->shape[1];
  l.threads = threads;
  FloatTensor w = model_.read_f32(weight);
  if (int64_t bad = first_nonfinite(w.values.data(), w.values.size()); bad >= 0)
    throw ValueError("tensor " + weight + " has a non-finite value at flat index " + std::to_string(bad));
  l.weight = std::make_shared<const std::vector<float>>(std::move(w.values));
  r.stats.hessian = read_recorded_hessian(*file_, weight, l.in, path_);
  r.stats.tokens = 1;
  return r;
}

CalibrationResult quantize_from_recorded_inputs(const TensorSource& model, const QuantConfig& cfg,
                                                const std::map<std::string, TensorPlan>& plans,
                                                const CalibrationLog& log, const BlockProgress& progress) {
  check_recorded_inputs_settings(cfg);
  const InputRecording recording(cfg.calibration, model);
  std::vector<std::pair<std::string, const TensorPlan*>> todo;
  int64_t unrecorded = 0;
  for (const auto& t : model.tensors()) {
    auto it = plans.find(t.name);
    if (it == plans.end() || !it->second.quantize || t.shape.size() != 2) continue;
    if (recording.has(t.name)) todo.emplace_back(t.name, &it->second);
    else ++unrecorded;
  }
  if (todo.empty()) throw FormatError(cfg.calibration + ": records the inputs of none of the weights to quantise");
  auto say = [&](const std::string& s) {
    if (log) log(s);
  };
  say("calibration: recorded input statistics of " + std::to_string(todo.size()) + " weight matrices from " +
      cfg.calibration + " (method " + method_name(cfg.method) + ")" +
      (unrecorded ? "; " + std::to_string(unrecorded) + " quantised weights without a recording are rounded to nearest" : ""));
  CalibrationResult res;
  for (size_t i = 0; i < todo.size(); ++i) {
    if (interrupt_requested()) throw Interrupted("interrupted: no output was written");
    const auto& [name, plan] = todo[i];
    if (progress) progress(int64_t(i), int64_t(todo.size()), name);
    const RecordedLayer r = recording.layer(name, cfg.threads);
    res.tensors[name] = quantize_linear_at_min_accuracy(r.linear, *plan, r.stats, cfg, nullptr, say, res.decisions);
  }
  if (progress) progress(int64_t(todo.size()), int64_t(todo.size()), "");
  return res;
}

}  // namespace arrowquant
