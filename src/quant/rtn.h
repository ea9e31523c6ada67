// Round-to-nearest quantisation of float tensors into the formats of quant_format.h, with min/max or
// error-minimising clipping. Rows are independent, so work is split over threads by rows.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "arrowquant/packed_tensor.h"

namespace arrowquant {

enum class ClipMethod {
  MinMax,  // the group's range (always including zero for affine formats)
  Mse,     // shrink the range over a grid and keep the scale with least squared error
};
ClipMethod clip_method_from_name(const std::string& name);  // "minmax" | "mse"; throws ValueError

struct QuantizeOptions {
  const QuantFormat* format = nullptr;
  int64_t group_size = 128;  // 0 = one group per output channel (row)
  ClipMethod clip = ClipMethod::Mse;
  int threads = 0;           // 0 = all cores
};

// Throws ValueError naming the tensor when a value is NaN or infinite or a scale overflows float16.
QuantizedTensor quantize_rtn(const FloatTensor& t, const QuantizeOptions& opt);

}  // namespace arrowquant
