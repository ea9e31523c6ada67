// A quantised tensor as every layer sees it: its format, geometry, packed codes, fp16 scales and
// uint8 zero points, either owned (QuantizedTensor, what quantisers produce and writers store) or
// viewed in place (PackedView, what readers hand out and kernels consume: pointers into a memory
// map, possibly unaligned). Plus the reference dequantisation every kernel is tested against.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "arrowquant/dtype.h"
#include "arrowquant/input_rotation.h"
#include "arrowquant/quant_format.h"
#include "arrowquant/tensor.h"

namespace arrowquant {

// A quantised tensor that owns its bytes.
struct QuantizedTensor {
  std::string name;
  Shape shape;
  const QuantFormat* format = nullptr;
  QuantGeometry geom;
  std::vector<uint8_t> codes;        // rows x packed_row_bytes
  std::vector<uint8_t> scales;       // rows x groups float16, little-endian
  std::vector<uint8_t> zero_points;  // rows x groups uint8; empty when symmetric
  // The input space the codes live in: W' = W·Rᵀ (input_rotation.h); none = the model's own.
  InputRotation rotation;
  size_t stored_bytes() const { return codes.size() + scales.size() + zero_points.size(); }
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

// Scale and zero point of group k (row-major over rows x groups) of a view (inline: the kernels' inner
// loops read them per group).
inline float scale_at(const PackedView& v, size_t k) {
  uint16_t s;
  std::memcpy(&s, v.scales + 2 * k, 2);
  return f16_to_f32(s);
}
inline float zero_at(const PackedView& v, size_t k) {  // the format's centre() when symmetric
  return v.format->symmetric ? v.format->centre() : float(v.zero_points[k]);
}

// Reference dequantisation of rows [row_begin, row_end) of v into out (row-major, cols per row), in
// the space the codes are stored in (what the kernels multiply rotated inputs with).
void dequantize_rows(const PackedView& v, int64_t row_begin, int64_t row_end, float* out);
// The whole tensor as float32 [rows x cols] in the model's own space: a rotation is undone.
std::vector<float> dequantize(const QuantizedTensor& q);

}  // namespace arrowquant
