// Products and dequantisation of packed low-bit weights (PackedView: pointers straight into the
// memory-mapped Parquet file, possibly unaligned) with float32 activations, on Highway SIMD kernels
// dispatched at run time to the CPU's best instruction set. This file is the policy: which kernel,
// how rows are split over threads; the SIMD code is in packed_f32_hwy.cc.
#pragma once
#include <cstdint>

#include "arrowquant/packed_tensor.h"

namespace arrowquant::kernels {

// Rows [r0, r1) of v, dequantised into out (row-major, cols per row). Bit-identical to the
// reference dequantize_rows.
void dequantize_f32(const PackedView& v, int64_t r0, int64_t r1, float* out);
// The same rounded to bfloat16 (round to nearest even), as raw uint16 bits.
void dequantize_bf16(const PackedView& v, int64_t r0, int64_t r1, uint16_t* out);

// Y[j, r] = Σ_k W[r, k] · X[j, k] for j < n, r < rows: the fused product of packed weights with n
// float32 activation rows (X row-major with cols per row; row j of Y starts at y + j·ldy). Small n
// (decode) reads each weight byte once for all n; larger n (prefill) dequantises tiles of rows into
// cache-sized float blocks and multiplies them with BLAS. Never materialises the whole matrix.
void matmul_f32(const PackedView& v, const float* x, int64_t n, float* y, int64_t ldy, int threads);

}  // namespace arrowquant::kernels
