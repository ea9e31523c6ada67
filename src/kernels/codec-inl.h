// The SIMD half of the lsb_rows_v1 codec (the scalar half, with the phase order, is format/pack.h),
// shared by the fp32- and int8-activation kernels: one place knows how a vector of packed bytes
// becomes codes. Included inside each kernel file's HWY_NAMESPACE, once per SIMD target (the toggle
// guard is Highway's idiom for -inl headers).
#if defined(AQ_KERNELS_CODEC_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef AQ_KERNELS_CODEC_INL_H_
#undef AQ_KERNELS_CODEC_INL_H_
#else
#define AQ_KERNELS_CODEC_INL_H_
#endif

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace arrowquant::kernels::HWY_NAMESPACE {

// Phase p (0 ≤ p < 8/BITS) of packed bytes held one per lane: lane i holds code i·(8/BITS) + p of
// the vector's codes. Lanes are bytes straight from memory (the int8 kernels) or bytes widened to
// 32 bits first (the fp32 kernels, which then convert to float). BITS is 2, 4 or 8.
template <int BITS, class D, class V>
HWY_INLINE V CodesOfPhase(D d, V w, int p) {
  namespace hn = hwy::HWY_NAMESPACE;
  static_assert(BITS == 2 || BITS == 4 || BITS == 8, "the vector codec unpacks 2, 4 and 8 bits");
  if constexpr (BITS == 8) {
    (void)d, (void)p;
    return w;
  } else {
    using T = hn::TFromD<D>;
    const auto mask = hn::Set(d, T((1 << BITS) - 1));
    if (p == 0) return hn::And(w, mask);
    const int shift = p * BITS;
#if HWY_TARGET != HWY_SCALAR
    if constexpr (sizeof(T) == 1) {
      // No byte shifts on x86: 16-bit shifts and the mask (the bits a shift moves across bytes are
      // masked off anyway).
      const hn::Repartition<uint16_t, D> du16;
      const auto w16 = hn::BitCast(du16, w);
      const auto s = shift == 4 ? hn::ShiftRight<4>(w16) : shift == 2 ? hn::ShiftRight<2>(w16) : hn::ShiftRight<6>(w16);
      return hn::And(hn::BitCast(d, s), mask);
    }
#endif
    const V s = shift == 4 ? hn::ShiftRight<4>(w) : shift == 2 ? hn::ShiftRight<2>(w) : hn::ShiftRight<6>(w);
    // A wide lane holds one byte: the top phase needs no mask.
    return sizeof(T) > 1 && shift + BITS == 8 ? s : hn::And(s, mask);
  }
}

}  // namespace arrowquant::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // AQ_KERNELS_CODEC_INL_H_
