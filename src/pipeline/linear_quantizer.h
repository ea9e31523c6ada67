// One block Linear quantised with the configured method at one format, from its inputs' statistics:
// what the calibrated run stores and what sensitivity analysis measures for the bit allocation (so
// the allocation weighs the errors of the method the run will use).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/input_rotation.h"
#include "arrowquant/quant_config.h"
#include "model/linear.h"
#include "pipeline/input_stats.h"
#include "pipeline/precision_rules.h"
#include "quant/rtn.h"
#include "quant/weight_error.h"

namespace arrowquant {

struct CalibratedTensor {
  QuantizedTensor tensor;
  std::string method;
  OutputError error;            // on the calibration data, against the float weight
  WeightError weight;           // against the float weight it was made from (after any folded scales)
  double rtn_rel_mse = -1;      // round-to-nearest at the same format, for comparison (gptq/awq)
};

// GPTQ (kept only where it beats rounding on the same data), importance-weighted or plain RTN.
// With float targets (target non-null) errors are measured against the target weight: the float
// model's output, not this layer's own float output. A rotation applies to every method: the weight
// is quantised in the rotated input space against the rotated inputs' statistics; errors are
// measured back in the model's own space.
CalibratedTensor quantize_linear(const Linear& l, const InputStats& st, const QuantConfig& cfg,
                                 const QuantFormat* fmt, int64_t group_size, const InputRotation& rotation,
                                 const std::vector<float>* target);

// What --min-accuracy compares against: by default the layer's own output cosine on the calibration
// data (from the Hessian); a model may measure more than the layer (a diffusion model: its noise
// prediction's cosine with this layer quantised). `what` names it in the log and the decisions.
struct AccuracyMeasure {
  std::string what = "output cosine";
  std::function<double(const Linear&, const CalibratedTensor&)> measure;  // null: ct.error.cosine
};

// quantize_linear at the plan's width, redone wider (INT4, then INT8: the spec's degradation ladder)
// while the measured accuracy stays below --min-accuracy. Each retry is said through `say` and
// recorded in `decisions`; `ct.weight` is filled (against the float weight).
CalibratedTensor quantize_linear_at_min_accuracy(const Linear& l, const TensorPlan& plan, const InputStats& st,
                                                 const QuantConfig& cfg, const std::vector<float>* target,
                                                 const std::function<void(const std::string&)>& say,
                                                 nlohmann::json& decisions, const AccuracyMeasure& accuracy = {});

}  // namespace arrowquant
