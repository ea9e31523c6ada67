// GPTQ (Frantar et al., 2022) on the CPU: quantises a weight matrix column by column, spreading each
// column's rounding error over the columns not yet quantised through the inverse Hessian of the
// layer's inputs, so that the layer's output on the calibration data moves as little as possible.
// Writes the same stored format as round-to-nearest (quantize.h): the runtime cannot tell them apart.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "quant/hessian.h"
#include "quant/rtn.h"

namespace arrowquant {

struct GptqOptions {
  const QuantFormat* format = nullptr;
  int64_t group_size = 128;  // 0 = one group per row
  ClipMethod clip = ClipMethod::Mse;
  double damp = 0.01;        // added to the diagonal, as a fraction of its mean
  int64_t block_size = 128;  // columns per lazy batch update
  // Quantise columns in order of decreasing Hessian diagonal. The stored format keeps groups in
  // natural column order, so activation order always uses static groups (scales from the
  // unmodified weights before any update).
  bool act_order = false;
  bool static_groups = false;
  // Rounds of least-squares group scales for the codes found (scale_refit.h), each after the first
  // followed by a GPTQ sweep at the refitted scales; every row keeps its best. 0: plain GPTQ.
  int scale_refits = 0;
  int threads = 0;
  // Quantise W·Rᵀ against R·H·Rᵀ (input_space.h); the result records the rotation.
  InputRotation rotation;
};

struct GptqResult {
  QuantizedTensor tensor;
  double damp_used = 0;      // > options.damp when the Hessian needed more damping to factorise
  int64_t dead_columns = 0;  // inputs that were always zero on the calibration data
};

// w: [rows, cols]. Throws ValueError on non-finite weights or a Hessian of the wrong size.
GptqResult quantize_gptq(const FloatTensor& w, const Hessian& h, const GptqOptions& opt);

}  // namespace arrowquant
