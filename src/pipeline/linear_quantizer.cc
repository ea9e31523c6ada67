#include "pipeline/linear_quantizer.h"

#include <cstdio>

#include "quant/gptq.h"
#include "quant/input_space.h"

namespace arrowquant {

CalibratedTensor quantize_linear(const Linear& l, const InputStats& st, const QuantConfig& cfg,
                                 const QuantFormat* fmt, int64_t group_size, const InputRotation& rotation,
                                 const std::vector<float>* target) {
  FloatTensor w{l.name + ".weight", {l.out, l.in}, target ? *target : l.float_weight()};
  const ClipMethod clip = cfg.clip;
  CalibratedTensor r;
  const bool weighted = cfg.method == Method::Rtn && cfg.importance;
  const std::vector<float> importance = weighted ? stored_input_mean_square(st.hessian, rotation) : std::vector<float>{};
  QuantizedTensor rtn =
      quantize_rtn({w.name, w.shape, l.float_weight()}, {fmt, group_size, clip, cfg.threads, rotation}, importance);
  const std::vector<float> rtn_back = dequantize(rtn);
  const OutputError rtn_err = output_error(w.values.data(), rtn_back.data(), l.out, l.in, st.hessian);
  if (cfg.method == Method::Gptq) {
    GptqOptions o;
    o.format = fmt;
    o.group_size = group_size;
    o.clip = clip;
    o.damp = cfg.damp;
    o.act_order = cfg.act_order;
    o.static_groups = cfg.static_groups;
    o.scale_refits = cfg.scale_refits;
    o.threads = cfg.threads;
    o.rotation = rotation;
    r.tensor = quantize_gptq(w, st.hessian, o).tensor;
    r.method = "gptq";
    const std::vector<float> back = dequantize(r.tensor);
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
  r.method = cfg.method == Method::Rtn ? (weighted ? "rtn (importance-weighted)" : "rtn") : method_name(cfg.method) + "+rtn";
  r.error = rtn_err;
  return r;
}

namespace {
// The widths a layer below --min-accuracy is retried at: the spec's INT2 -> INT4 -> INT8 ladder.
constexpr int kWiderWidths[] = {4, 8};
}  // namespace

CalibratedTensor quantize_linear_at_min_accuracy(const Linear& l, const TensorPlan& plan, const InputStats& st,
                                                 const QuantConfig& cfg, const std::vector<float>* target,
                                                 const std::function<void(const std::string&)>& say,
                                                 nlohmann::json& decisions, const AccuracyMeasure& accuracy) {
  const std::string name = l.name + ".weight";
  std::vector<int> widths = {plan.format->bits};
  if (cfg.min_accuracy > 0)
    for (int w : kWiderWidths)
      if (w > plan.format->bits) widths.push_back(w);
  CalibratedTensor ct;
  double acc = 1;
  for (size_t wi = 0; wi < widths.size(); ++wi) {
    const QuantFormat* fmt = wi == 0 ? plan.format : cfg.format_for(widths[wi], l.in);
    ct = quantize_linear(l, st, cfg, fmt, plan.group_size, plan.rotation, target);
    if (cfg.min_accuracy <= 0) break;
    acc = accuracy.measure ? accuracy.measure(l, ct) : ct.error.cosine;
    if (acc >= cfg.min_accuracy || wi + 1 == widths.size()) break;
    char buf[320];
    snprintf(buf, sizeof buf, "%s: %s %.5f at INT%d is below --min-accuracy %.4f; redoing at INT%d", l.name.c_str(),
             accuracy.what.c_str(), acc, widths[wi], cfg.min_accuracy, widths[wi + 1]);
    if (say) say(buf);
    decisions.push_back({{"tensor", name}, {"decision", buf}, {"from_bits", widths[wi]}, {"to_bits", widths[wi + 1]},
                         {"measured", accuracy.what}, {"accuracy", acc}, {"output_cosine", ct.error.cosine}});
  }
  if (cfg.min_accuracy > 0 && acc < cfg.min_accuracy)
    decisions.push_back({{"tensor", name}, {"decision", "still below --min-accuracy at INT8; kept INT8"},
                         {"measured", accuracy.what}, {"accuracy", acc}, {"output_cosine", ct.error.cosine}});
  const std::vector<float> back = dequantize(ct.tensor);
  ct.weight = weight_error(l.float_weight().data(), back.data(), back.size());
  return ct;
}

}  // namespace arrowquant
