// Float32 building blocks of the transformer forward pass. Matrix products go to OpenBLAS through
// kernels/blas.h; the element-wise parts are plain loops the compiler vectorises. The packed low-bit products are
// packed_f32 / packed_i8.
#pragma once
#include <cstdint>

namespace arrowquant::kernels {

// y[n, m] = x[n, k] · w[m, k]ᵀ (+ bias[m]); w is row-major with one output per row, as in
// PyTorch's nn.Linear. threads: as kernels::gemm.
void linear_f32(const float* x, int64_t n, int64_t k, const float* w, int64_t m, const float* bias, float* y,
                int threads = 0);

// x[n, d] = LayerNorm(x + residual) with gamma/beta; residual may be null.
void add_layer_norm(float* x, const float* residual, int64_t n, int64_t d, const float* gamma,
                    const float* beta, float eps);

// y[n, d] = LayerNorm(x) (no affine) · (1 + scale[d]) + shift[d]: adaLN modulation of one image's
// tokens (scale/shift null: plain LayerNorm). y may be x.
void layer_norm_modulated(const float* x, int64_t n, int64_t d, float eps, const float* scale, const float* shift,
                          float* y);

// GELU's tanh approximation, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), in place (PyTorch's
// approximate="tanh", diffusers' "gelu-approximate").
void gelu_tanh(float* x, int64_t n);

// SiLU, x·σ(x), in place.
void silu(float* x, int64_t n);

// Exact GELU, 0.5·x·(1 + erf(x/√2)), in place.
void gelu_erf(float* x, int64_t n);

// g[i] = SiLU(g[i]) · u[i] (a gated MLP's activation), in place.
void silu_mul(float* g, const float* u, int64_t n);

// Softmax of x[0, n) in place (max-subtracted).
void softmax(float* x, int64_t n);

}  // namespace arrowquant::kernels
