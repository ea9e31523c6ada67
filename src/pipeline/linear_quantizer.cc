#include "pipeline/linear_quantizer.h"

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

}  // namespace arrowquant
