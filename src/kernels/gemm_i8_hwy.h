// The SIMD side of the int8 GEMM (gemm_i8_hwy.cc), dispatched to the best target of this CPU.
#pragma once
#include <cstdint>

#include "arrowquant/packed_tensor.h"
#include "kernels/packed_prepared.h"

namespace arrowquant::kernels {
// Weight rows widened at a time, the unit the rows are split into between threads: 32 rows of a
// 4864-wide matrix (152 kB) stay in L2 while every activation row passes over them.
inline constexpr int64_t kGemmPanelRows = 32;
}  // namespace arrowquant::kernels

namespace arrowquant::kernels::simd {

// Shapes p for n activation rows against v (block, padding, the vector width), buffers sized.
void gemm_i8_prepare(const PackedView& v, int64_t n, PreparedRowsI8& p);
// Activation rows [i0, i1) of x (n × cols) quantised into p.
void gemm_i8_quantize(const PackedView& v, const float* x, int64_t i0, int64_t i1, PreparedRowsI8& p);
// y[i·ldy + r] for weight rows [r0, r1) and every row of p.
void gemm_i8_rows(const PackedView& v, const PreparedRowsI8& p, int64_t r0, int64_t r1, float* y, int64_t ldy);
}  // namespace arrowquant::kernels::simd
