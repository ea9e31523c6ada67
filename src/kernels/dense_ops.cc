#include "kernels/dense_ops.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "kernels/blas.h"

namespace arrowquant::kernels {

void linear_f32(const float* x, int64_t n, int64_t k, const float* w, int64_t m, const float* bias, float* y,
                int threads) {
  if (n == 1) {  // one token: a matrix-vector product, which BLAS does at memory speed
    if (bias) std::copy(bias, bias + m, y);
    gemv(m, k, w, k, x, bias ? 1.0f : 0.0f, y, threads);
    return;
  }
  if (bias) {
    for (int64_t i = 0; i < n; ++i) std::copy(bias, bias + m, y + i * m);
  }
  gemm(Transpose::kNo, Transpose::kYes, n, m, k, 1.0f, x, k, w, k, bias ? 1.0f : 0.0f, y, m, threads);
}

namespace {

// A LayerNorm row's mean and 1/√(variance + eps), accumulated in double.
std::pair<float, float> mean_and_inverse_std(const float* r, int64_t d, float eps) {
  double mean = 0;
  for (int64_t j = 0; j < d; ++j) mean += r[j];
  mean /= double(d);
  double var = 0;
  for (int64_t j = 0; j < d; ++j) var += (r[j] - mean) * (r[j] - mean);
  var /= double(d);
  return {float(mean), float(1.0 / std::sqrt(var + double(eps)))};
}

}  // namespace

void add_layer_norm(float* x, const float* residual, int64_t n, int64_t d, const float* gamma,
                    const float* beta, float eps) {
  for (int64_t i = 0; i < n; ++i) {
    float* r = x + i * d;
    if (residual) {
      const float* s = residual + i * d;
      for (int64_t j = 0; j < d; ++j) r[j] += s[j];
    }
    const auto [mu, inv] = mean_and_inverse_std(r, d, eps);
    for (int64_t j = 0; j < d; ++j) r[j] = (r[j] - mu) * inv * gamma[j] + beta[j];
  }
}

void layer_norm_modulated(const float* x, int64_t n, int64_t d, float eps, const float* scale, const float* shift,
                          float* y) {
  for (int64_t i = 0; i < n; ++i) {
    const float* r = x + i * d;
    float* o = y + i * d;
    const auto [mu, inv] = mean_and_inverse_std(r, d, eps);
    for (int64_t j = 0; j < d; ++j) {
      const float v = (r[j] - mu) * inv;
      o[j] = scale ? v * (1.0f + scale[j]) + shift[j] : v;
    }
  }
}

void silu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
}

}  // namespace arrowquant::kernels
