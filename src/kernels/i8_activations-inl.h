// What every int8-activation kernel shares, for any Highway target: activations quantised to int8 per
// block, and the u8 × s8 dot product (one VNNI `vpdpbusd` on AVX3_DL, int16 pairwise multiply-adds
// elsewhere; exact either way). Included inside each file's HWY_NAMESPACE (packed_i8_hwy.cc, gemm_i8_hwy.cc).
#if defined(AQ_KERNELS_I8_ACTIVATIONS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef AQ_KERNELS_I8_ACTIVATIONS_INL_H_
#undef AQ_KERNELS_I8_ACTIVATIONS_INL_H_
#else
#define AQ_KERNELS_I8_ACTIVATIONS_INL_H_
#endif

#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "arrowquant/error.h"

HWY_BEFORE_NAMESPACE();
#if HWY_TARGET == HWY_AVX3_DL
// Highway 1.0's AVX3_DL target string names the VEX "avxvnni", not AVX-512 VNNI, which its CPU check
// requires anyway: add it. (It also enables the VEX AVX-VNNI encoding, which Zen 4 lacks: see below.)
#pragma GCC target("avx512vnni")
#endif
namespace arrowquant::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// acc[i] += Σ_{j<4} w[4i+j] · a[4i+j]  (u8 × s8, exact in int32).
template <class DU, class VU, class VI8, class VI32>
HWY_INLINE VI32 DotU8I8(DU, VI32 acc, VU w, VI8 a) {
#if HWY_TARGET == HWY_AVX3_DL
#if defined(__clang__)
  // clang does not take the pragma above into Highway's target region: the instruction as asm.
  if constexpr (sizeof(w.raw) == 64) {
    auto r = acc.raw;
    asm("vpdpbusd %2, %1, %0" : "+v"(r) : "v"(w.raw), "v"(a.raw));
    return VI32{r};
  }
#else
  if constexpr (sizeof(w.raw) == 64) return VI32{_mm512_dpbusd_epi32(acc.raw, w.raw, a.raw)};
#endif
  // 128/256-bit: GCC emits the VEX (AVX-VNNI) encoding, even for the masked intrinsics, because
  // Highway's target string enables avxvnni; Zen 4 has only the EVEX one, so spell it out.
  else {
    auto r = acc.raw;
    asm("%{evex%} vpdpbusd %2, %1, %0" : "+v"(r) : "v"(w.raw), "v"(a.raw));
    return VI32{r};
  }
#elif HWY_TARGET == HWY_SCALAR
  // One lane of 4 bytes' worth is not a scalar vector: the kernels never call this there.
  (void)w, (void)a;
  return acc;
#else
  const hn::Repartition<int16_t, DU> d16;
  const hn::Repartition<uint16_t, DU> du16;
  const hn::Repartition<int32_t, DU> d32;
  const auto w_even = hn::BitCast(d16, hn::And(hn::BitCast(du16, w), hn::Set(du16, 0x00FF)));
  const auto w_odd = hn::BitCast(d16, hn::ShiftRight<8>(hn::BitCast(du16, w)));
  const auto a16 = hn::BitCast(d16, a);
  const auto a_even = hn::ShiftRight<8>(hn::ShiftLeft<8>(a16));  // arithmetic: sign-extends
  const auto a_odd = hn::ShiftRight<8>(a16);
  auto odd = hn::Zero(d32);
  acc = hn::ReorderWidenMulAccumulate(d32, w_even, a_even, acc, odd);
  acc = hn::ReorderWidenMulAccumulate(d32, w_odd, a_odd, acc, odd);
  return hn::Add(acc, odd);  // x86 and emu128 keep pair sums in their lane: the order is not "reordered"
#endif
}

// One row of activations to int8 in blocks of `block` values (the last may be shorter): scale =
// max|x| / 127 (1 for an all-zero block), q = round-to-nearest-even(x / scale), and Σq per block.
// Bit-identical to the reference's quantize_activations_i8 (packed_reference.h). ValueError when
// any x is NaN or infinite.
inline void QuantizeRowI8(const float* x, int64_t cols, int64_t block, int8_t* q, float* scale, float* qsum) {
  const hn::CappedTag<float, 16> df;
  const hn::Rebind<int32_t, decltype(df)> di32;
  const hn::Rebind<int8_t, decltype(df)> di8;
  const int64_t N = int64_t(hn::Lanes(df)), blocks = (cols + block - 1) / block;
  auto probe = hn::Zero(df);  // x · 0 summed: NaN when any x is NaN or infinite
  float bad = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t c0 = b * block, c1 = std::min(c0 + block, cols);
    auto vmax = hn::Zero(df);
    int64_t c = c0;
    for (; c + N <= c1; c += N) {
      const auto xv = hn::LoadU(df, x + c);
      vmax = hn::Max(vmax, hn::Abs(xv));
      probe = hn::MulAdd(xv, hn::Zero(df), probe);
    }
    float amax = hn::GetLane(hn::MaxOfLanes(df, vmax));
    for (int64_t t = c; t < c1; ++t) amax = std::max(amax, std::fabs(x[t])), bad += x[t] * 0.0f;
    if (!std::isfinite(bad + hn::GetLane(hn::SumOfLanes(df, probe))))
      throw ValueError("int8 activations: the input vector holds NaN or Inf");
    const float s = amax > 0 ? amax / 127.0f : 1.0f, inv = 1.0f / s;
    auto vsum = hn::Zero(di32);
    int32_t sum = 0;
    for (c = c0; c + N <= c1; c += N) {
      const auto qi = hn::NearestInt(hn::Mul(hn::LoadU(df, x + c), hn::Set(df, inv)));
      hn::StoreU(hn::DemoteTo(di8, qi), di8, q + c);
      vsum = hn::Add(vsum, qi);
    }
    for (; c < c1; ++c) {
      q[c] = int8_t(std::clamp(std::lrintf(x[c] * inv), -127L, 127L));
      sum += q[c];
    }
    scale[b] = s;
    qsum[b] = float(sum + hn::GetLane(hn::SumOfLanes(di32, vsum)));
  }
}

}  // namespace arrowquant::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // AQ_KERNELS_I8_ACTIVATIONS_INL_H_
