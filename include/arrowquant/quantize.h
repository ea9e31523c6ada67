// Round-to-nearest quantisation of float tensors into the formats of quant_format.h, and the
// reference dequantisation. Rows are independent, so work is split over threads by rows.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "arrowquant/quant_format.h"
#include "arrowquant/tensor.h"

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

// A quantised tensor that owns its bytes.
struct QuantizedTensor {
  std::string name;
  Shape shape;
  const QuantFormat* format = nullptr;
  QuantGeometry geom;
  std::vector<uint8_t> codes;        // rows x packed_row_bytes
  std::vector<uint8_t> scales;       // rows x groups float16, little-endian
  std::vector<uint8_t> zero_points;  // rows x groups uint8; empty when symmetric
};

// A quantised tensor (or a run of its rows) whose bytes live elsewhere, e.g. in a memory map.
// Pointers may be unaligned.
struct PackedView {
  const QuantFormat* format = nullptr;
  QuantGeometry geom;      // rows = rows in this view
  const uint8_t* codes = nullptr;
  const uint8_t* scales = nullptr;
  const uint8_t* zero_points = nullptr;  // nullptr when symmetric
};
PackedView view_of(const QuantizedTensor& q);

// Throws ValueError naming the tensor when a value is NaN or infinite or a scale overflows float16.
QuantizedTensor quantize_rtn(const FloatTensor& t, const QuantizeOptions& opt);

// Reference dequantisation of rows [row_begin, row_end) of v into out (row-major, cols per row).
void dequantize_rows(const PackedView& v, int64_t row_begin, int64_t row_end, float* out);

// Weight error of an approximation: ||a-b|| / ||a|| and cos(a, b).
struct WeightError {
  double rel_rmse = 0, cosine = 1;
};
WeightError weight_error(const float* reference, const float* approx, size_t n);

// Index of the first NaN or Inf, or -1.
int64_t first_nonfinite(const float* v, size_t n);

}  // namespace arrowquant
