// Entry points of the fp32-activation SIMD kernels (packed_f32_hwy.cc), each dispatched at run time
// to the best target Highway compiled in. No policy here: packed_f32.cc decides which to call.
#pragma once
#include <cstdint>

#include "arrowquant/packed_tensor.h"

namespace arrowquant::kernels {
struct PreparedF32;
}

namespace arrowquant::kernels::simd {

void dequantize_f32(const PackedView& v, int64_t r0, int64_t r1, float* out);
void dequantize_bf16(const PackedView& v, int64_t r0, int64_t r1, uint16_t* out);
// Activations permuted into the order codes unpack into, and their sums per group (per call).
void prepare_f32(const PackedView& v, const float* x, int64_t n, PreparedF32& p);
// Whether the fused rows take v: a width the codec unpacks in vectors, groups of whole sub-blocks.
bool fused_f32_supported(const PackedView& v);
// Rows [r0, r1) of Y for n ≤ 8 prepared activation rows, each weight byte read once.
void fused_f32_rows(const PackedView& v, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1,
                    const PreparedF32& p);
// Rows [r0, r1) dequantised one at a time, then dotted with each activation row (any format).
void dequantized_rows_f32(const PackedView& v, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0,
                          int64_t r1);

}  // namespace arrowquant::kernels::simd
