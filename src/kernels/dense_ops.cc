#include "kernels/dense_ops.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace arrowquant::kernels {

void set_blas_threads(int threads) { openblas_set_num_threads(threads > 0 ? threads : 0); }

SingleThreadedBlas::SingleThreadedBlas() : saved_(openblas_get_num_threads()) { openblas_set_num_threads(1); }
SingleThreadedBlas::~SingleThreadedBlas() { openblas_set_num_threads(saved_); }

void linear_f32(const float* x, int64_t n, int64_t k, const float* w, int64_t m, const float* bias,
                float* y) {
  if (n == 1) {  // one token: a matrix-vector product, which BLAS does at memory speed
    if (bias) std::copy(bias, bias + m, y);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, int(m), int(k), 1.0f, w, int(k), x, 1, bias ? 1.0f : 0.0f, y, 1);
    return;
  }
  if (bias) {
    for (int64_t i = 0; i < n; ++i) std::copy(bias, bias + m, y + i * m);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), int(m), int(k), 1.0f, x, int(k), w, int(k),
              bias ? 1.0f : 0.0f, y, int(m));
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

void gelu_tanh(float* x, int64_t n) {
  const float k = 0.7978845608028654f;  // √(2/π)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
  }
}

void silu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
}

}  // namespace arrowquant::kernels
