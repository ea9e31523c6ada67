// Round-to-nearest quantisation of float tensors into the formats of quant_format.h, with min/max or
// error-minimising clipping. Rows are independent, so work is split over threads by rows.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "arrowquant/packed_tensor.h"
#include "arrowquant/quant_options.h"

namespace arrowquant {


struct QuantizeOptions {
  const QuantFormat* format = nullptr;
  int64_t group_size = 128;  // 0 = one group per output channel (row)
  ClipMethod clip = ClipMethod::Mse;
  int threads = 0;           // 0 = all cores
  // Quantise W·Rᵀ instead of W (input_rotation.h); the result records the rotation.
  InputRotation rotation;
};

// importance, per input column (cols values): how much an error in that column costs, e.g. the mean
// square of the layer's input there on calibration data (of the rotated input when the options
// rotate: the diagonal of rotated_hessian()); empty: every column alike (plain RTN).
// Throws ValueError naming the tensor when a value is NaN or infinite, a scale overflows float16, or
// the importance has the wrong length.
QuantizedTensor quantize_rtn(const FloatTensor& t, const QuantizeOptions& opt, std::span<const float> importance = {});

}  // namespace arrowquant
