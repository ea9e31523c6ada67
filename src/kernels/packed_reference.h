// Scalar references of the packed products: what every SIMD kernel is tested against. Plain loops in
// double, no SIMD, no threads.
#pragma once
#include <cstdint>
#include <vector>

#include "arrowquant/packed_tensor.h"

namespace arrowquant::kernels {

// Y[j·rows + r] = Σ_k W[r, k]·x[j·cols + k] for j < n.
void matmul_f32_reference(const PackedView& v, const float* x, int64_t n, float* y);
// What matvec_i8 computes, in double: the same quantised activations times the dequantised weights.
void matvec_i8_reference(const PackedView& v, const float* x, float* y);

// The int8 activation quantisation of matvec_i8: per block, scale = max|x| / 127,
// q = round-to-nearest-even(x / scale), and Σq. ValueError on NaN or Inf.
void quantize_activations_i8(const float* x, int64_t cols, int64_t block, std::vector<int8_t>& q,
                             std::vector<float>& scale, std::vector<float>& qsum);

}  // namespace arrowquant::kernels
