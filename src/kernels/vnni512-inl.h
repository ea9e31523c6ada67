// 512-bit VNNI dot products for the AVX3_DL kernels that write raw intrinsics (lattice_i8_hwy.cc,
// straddle_i8_hwy.cc): clang does not apply the files' extra target pragma inside Highway's target
// region, so there the instructions are spelled as asm (as packed_i8_hwy.cc does). Included inside
// each file's HWY_NAMESPACE; only the AVX3_DL pass defines anything.
#if defined(AQ_KERNELS_VNNI512_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef AQ_KERNELS_VNNI512_INL_H_
#undef AQ_KERNELS_VNNI512_INL_H_
#else
#define AQ_KERNELS_VNNI512_INL_H_
#endif

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
#if HWY_TARGET == HWY_AVX3_DL
#pragma GCC target("avx512vnni")  // Highway 1.0's AVX3_DL target string names only the VEX avxvnni
#endif
namespace arrowquant::kernels::HWY_NAMESPACE {
#if HWY_TARGET == HWY_AVX3_DL

// acc[i] += Σ_{j<4} u8[4i+j] · s8[4i+j]
HWY_INLINE __m512i DotU8I8(__m512i acc, __m512i u8, __m512i s8) {
#if defined(__clang__)
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
  return acc;
#else
  return _mm512_dpbusd_epi32(acc, u8, s8);
#endif
}

// acc[i] += a[2i]·b[2i] + a[2i+1]·b[2i+1]  (int16)
HWY_INLINE __m512i DotI16(__m512i acc, __m512i a, __m512i b) {
#if defined(__clang__)
  asm("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
#else
  return _mm512_dpwssd_epi32(acc, a, b);
#endif
}

#endif
}  // namespace arrowquant::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // AQ_KERNELS_VNNI512_INL_H_
