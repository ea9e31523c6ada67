// Entry points of the int8-activation SIMD kernels (packed_i8_hwy.cc), dispatched at run time. No
// policy here: packed_i8.cc decides.
#pragma once
#include <cstdint>

#include "arrowquant/packed_tensor.h"

namespace arrowquant::kernels {
struct PreparedI8;
}

namespace arrowquant::kernels::simd {

// Whether some chunk width of this target fits v's groups and activation blocks.
bool i8_supported(const PackedView& v);
// x quantised per activation block and permuted to the code order, with the per-lane factors.
void prepare_i8(const PackedView& v, const float* x, PreparedI8& p);
// Rows [r0, r1) of y.
void i8_rows(const PackedView& v, const PreparedI8& p, int64_t r0, int64_t r1, float* y);
// One packed row's codes, one byte each in natural order (what unpack_row gives, SIMD for 3/5/6
// bits) as the widened int8 kernel reads them: times two on half-offset grids, byte levels for a
// codebook (QuantFormat::apply_levels).
void widen_codes(const uint8_t* packed, int64_t cols, const QuantFormat& f, uint8_t* out);

}  // namespace arrowquant::kernels::simd
