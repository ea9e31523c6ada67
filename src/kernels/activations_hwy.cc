// GELU with erf and with tanh, SiLU and softmax, vectorised with Highway and dispatched at run time to the best SIMD target
// of the CPU. erf uses Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7), below float32 resolution of the
// GELU output, so the result stays within rounding of PyTorch's exact GELU; exp is Highway's (a few
// ULP), where the scalar std::exp of softmax was a tenth of a 512-token prefill.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/activations_hwy.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

HWY_BEFORE_NAMESPACE();
namespace arrowquant::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void GeluErf(float* HWY_RESTRICT x, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t N = int64_t(hn::Lanes(d));
  const auto half = hn::Set(d, 0.5f), one = hn::Set(d, 1.0f), inv_sqrt2 = hn::Set(d, 0.70710678118654752f);
  const auto p = hn::Set(d, 0.3275911f);
  const auto a1 = hn::Set(d, 0.254829592f), a2 = hn::Set(d, -0.284496736f), a3 = hn::Set(d, 1.421413741f);
  const auto a4 = hn::Set(d, -1.453152027f), a5 = hn::Set(d, 1.061405429f);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    const auto v = hn::LoadU(d, x + i);
    const auto z = hn::Mul(v, inv_sqrt2);
    const auto az = hn::Abs(z);
    const auto t = hn::Div(one, hn::MulAdd(p, az, one));
    auto poly = hn::MulAdd(a5, t, a4);
    poly = hn::MulAdd(poly, t, a3);
    poly = hn::MulAdd(poly, t, a2);
    poly = hn::MulAdd(poly, t, a1);
    poly = hn::Mul(poly, t);
    const auto e = hn::Exp(d, hn::Neg(hn::Mul(az, az)));
    auto erf_abs = hn::NegMulAdd(poly, e, one);        // 1 - poly·e^{-z²}
    auto erf = hn::CopySign(erf_abs, z);
    hn::StoreU(hn::Mul(hn::Mul(half, v), hn::Add(one, erf)), d, x + i);
  }
  for (; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
}

// GELU's tanh approximation, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), with Highway's tanh (a few ULP):
// the scalar std::tanh was half of a DiT's sampling time.
void GeluTanh(float* HWY_RESTRICT x, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t N = int64_t(hn::Lanes(d));
  const auto half = hn::Set(d, 0.5f), one = hn::Set(d, 1.0f), k = hn::Set(d, 0.7978845608028654f);
  const auto c = hn::Set(d, 0.044715f);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    const auto v = hn::LoadU(d, x + i);
    const auto inner = hn::Mul(k, hn::MulAdd(hn::Mul(c, v), hn::Mul(v, v), v));
    hn::StoreU(hn::Mul(hn::Mul(half, v), hn::Add(one, hn::Tanh(d, inner))), d, x + i);
  }
  for (; i < n; ++i) {
    const float v = x[i];
    x[i] = 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
  }
}

// g[i] = SiLU(g[i]) · u[i] = g[i] / (1 + e^-g[i]) · u[i]
void SiluMul(float* HWY_RESTRICT g, const float* HWY_RESTRICT u, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t N = int64_t(hn::Lanes(d));
  const auto one = hn::Set(d, 1.0f);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    const auto x = hn::LoadU(d, g + i);
    const auto sig = hn::Div(one, hn::Add(one, hn::Exp(d, hn::Neg(x))));
    hn::StoreU(hn::Mul(hn::Mul(x, sig), hn::LoadU(d, u + i)), d, g + i);
  }
  for (; i < n; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void Softmax(float* HWY_RESTRICT x, int64_t n) {
  if (n <= 0) return;
  const hn::ScalableTag<float> d;
  const int64_t N = int64_t(hn::Lanes(d));
  auto vmax = hn::Set(d, -HUGE_VALF);
  int64_t i = 0;
  for (; i + N <= n; i += N) vmax = hn::Max(vmax, hn::LoadU(d, x + i));
  float mx = hn::GetLane(hn::MaxOfLanes(d, vmax));
  for (int64_t t = i; t < n; ++t) mx = std::max(mx, x[t]);
  const auto vm = hn::Set(d, mx);
  auto vsum = hn::Zero(d);
  for (i = 0; i + N <= n; i += N) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vm));
    hn::StoreU(e, d, x + i);
    vsum = hn::Add(vsum, e);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, vsum));
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const auto inv = hn::Set(d, 1.0f / sum);
  for (i = 0; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), inv), d, x + i);
  for (; i < n; ++i) x[i] *= 1.0f / sum;
}

}  // namespace arrowquant::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/dense_ops.h"

namespace arrowquant::kernels {
HWY_EXPORT(GeluErf);
HWY_EXPORT(GeluTanh);
HWY_EXPORT(Softmax);
HWY_EXPORT(SiluMul);
void gelu_erf(float* x, int64_t n) { HWY_DYNAMIC_DISPATCH(GeluErf)(x, n); }
void gelu_tanh(float* x, int64_t n) { HWY_DYNAMIC_DISPATCH(GeluTanh)(x, n); }
void softmax(float* x, int64_t n) { HWY_DYNAMIC_DISPATCH(Softmax)(x, n); }
void silu_mul(float* g, const float* u, int64_t n) { HWY_DYNAMIC_DISPATCH(SiluMul)(g, u, n); }
}  // namespace arrowquant::kernels
#endif
