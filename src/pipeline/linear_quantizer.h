// One block Linear quantised with the configured method at one format, from its inputs' statistics:
// what the calibrated run stores and what sensitivity analysis measures for the bit allocation (so
// the allocation weighs the errors of the method the run will use).
#pragma once
#include <string>
#include <vector>

#include "arrowquant/input_rotation.h"
#include "arrowquant/quant_config.h"
#include "model/linear.h"
#include "pipeline/input_stats.h"
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

}  // namespace arrowquant
