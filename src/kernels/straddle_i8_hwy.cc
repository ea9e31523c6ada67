// Codes that straddle bytes (3, 5 and 6 bits: int3/5/6 in every grid, gauss3) × int8 activations,
// cut out of their bytes in registers (AVX3_DL: AVX-512 VBMI and VNNI — Ice Lake, Zen 4 and later).
// Other targets return "not supported", and the policy (packed_i8.cc) widens rows to bytes in cache.
//
// 64 codes at a time, in natural order: their 8·bits packed bytes are spread over the eight 64-bit
// lanes of a vector, `bits` bytes each (vpermb: lane k gets codes 8k..8k+7, whose bit offsets inside
// the lane are bits·i), vpmultishiftqb cuts an 8-bit window at each code's offset into its byte, and a
// mask keeps the code (gauss3: a byte-table look-up turns it into its byte level). Then the u8 × s8
// dot products as in the other int8 kernels, the activations in natural order: each int32 lane sums
// codes 4l..4l+3, inside one weight group (groups of 32 or multiples of 64) and one activation block.
// The zero-point term is the other kernels' too: per group, scale × zero × Σ(activation scale · Σq).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/straddle_i8_hwy.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "arrowquant/packed_tensor.h"
#include "kernels/i8_geometry.h"
#include "kernels/packed_prepared.h"
#include "kernels/row_scales-inl.h"
#include "kernels/vnni512-inl.h"
#include "kernels/straddle_i8_hwy.h"

HWY_BEFORE_NAMESPACE();
#if HWY_TARGET == HWY_AVX3_DL
#pragma GCC target("avx512vnni")
#endif
namespace arrowquant::kernels::HWY_NAMESPACE {

constexpr int64_t kChunk = simd::kStraddleChunkCodes;

inline bool StraddleGeometryFits(const PackedView& v) {
  const int64_t gs = v.geom.group_size;
  if (!v.format->straddles_bytes() || i8_activation_block(v) == 0) return false;
  return v.geom.groups_per_row() == 1 || gs % kChunk == 0 || gs == 32;
}

bool StraddleSupported(const PackedView& v) {
#if HWY_TARGET == HWY_AVX3_DL
  return StraddleGeometryFits(v);
#else
  (void)v;
  return false;
#endif
}

#if HWY_TARGET == HWY_AVX3_DL
// R rows from r0: their scales (and scale × zero point when asymmetric) from row k0 of ws / wz.
template <int R, int BITS, bool ONE, bool SYM, bool CB>
HWY_INLINE void StraddleRowsT(const PackedView& v, const PreparedI8& p, int64_t r0, int64_t k0, const float* ws,
                              const float* wz, float* y) {
  const int64_t cols = v.geom.cols, groups = v.geom.groups_per_row(), gs = groups == 1 ? cols : v.geom.group_size;
  const int64_t chunks = (cols + kChunk - 1) / kChunk;
  const size_t row_bytes = packed_row_bytes(cols, BITS);
  alignas(64) uint8_t place[64], shift[64];
  for (int b = 0; b < 64; ++b) {
    place[b] = uint8_t((b / 8) * BITS + std::min(b % 8, BITS - 1));  // lane k: bytes 8k·bits/8 ...
    shift[b] = uint8_t(BITS * (b % 8));
  }
  alignas(64) int32_t lane_group[16];
  for (int l = 0; l < 16; ++l) lane_group[l] = ONE ? 0 : int32_t(4 * l / gs);
  const __m512i place_v = _mm512_load_si512(place), shift_v = _mm512_load_si512(shift);
  const __m512i mask = _mm512_set1_epi8(char((1 << BITS) - 1));
  const __m512i lut = CB ? _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(v.format->levels)))
                         : _mm512_setzero_si512();
  const __m512i lane_idx = _mm512_load_si512(lane_group);
  const __mmask64 whole_bytes = ~__mmask64(0) >> (64 - 8 * BITS);
  const uint8_t* row0 = v.codes + size_t(r0) * row_bytes;
  __m512 f[R];
  for (int k = 0; k < R; ++k) f[k] = _mm512_setzero_ps();
  for (int64_t ch = 0; ch < chunks; ++ch) {
    const int64_t c0 = ch * kChunk;
    const int64_t bytes = std::min<int64_t>(8 * BITS, int64_t(row_bytes) - c0 * BITS / 8);
    const __mmask64 live = bytes == 8 * BITS ? whole_bytes : ~__mmask64(0) >> (64 - bytes);
    const __m512i act = _mm512_loadu_si512(p.q.data() + c0);
    const __m512 sa = _mm512_loadu_ps(p.lane_scale.data() + ch * 16);
    const int64_t g0 = c0 / gs;
    for (int k = 0; k < R; ++k) {
      const uint8_t* src = row0 + size_t(k) * row_bytes + size_t(c0 * BITS / 8);
      hwy::Prefetch(src + 4096);
      const __m512i packed = _mm512_maskz_loadu_epi8(live, src);
      __m512i codes = _mm512_and_si512(_mm512_multishift_epi64_epi8(shift_v, _mm512_permutexvar_epi8(place_v, packed)), mask);
      if constexpr (CB) codes = _mm512_shuffle_epi8(lut, codes);
      const __m512i acc = DotU8I8(_mm512_setzero_si512(), codes, act);
      const float* wsk = ws + (k0 + k) * groups + g0;
      const __m512 wv = ONE ? _mm512_set1_ps(*wsk) : _mm512_permutexvar_ps(lane_idx, _mm512_loadu_ps(wsk));
      f[k] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), sa), wv, f[k]);
    }
  }
  for (int k = 0; k < R; ++k) {
    // zero-point term: Σ_g (w_scale · zero)[g] · group_aq[g]  (zero = the format's centre() when SYM)
    const float* zk = SYM ? ws + (k0 + k) * groups : wz + (k0 + k) * groups;
    float corr = 0;
    for (int64_t g = 0; g < groups; ++g) corr += zk[g] * p.group_aq[size_t(g)];
    if (SYM) corr *= v.format->centre();
    y[r0 + k] = _mm512_reduce_add_ps(f[k]) - corr;
  }
}

template <int BITS, bool ONE, bool SYM, bool CB>
void StraddleRows(const PackedView& v, const PreparedI8& p, int64_t r0, int64_t r1, const float* ws, const float* wz,
                  float* y) {
  // Rows per pass sharing the activation loads.
  constexpr int kRows = 4;
  int64_t r = r0;
  for (; r + kRows <= r1; r += kRows) StraddleRowsT<kRows, BITS, ONE, SYM, CB>(v, p, r, r - r0, ws, wz, y);
  for (; r < r1; ++r) StraddleRowsT<1, BITS, ONE, SYM, CB>(v, p, r, r - r0, ws, wz, y);
}

template <int BITS>
void StraddleRowsBits(const PackedView& v, const PreparedI8& p, int64_t r0, int64_t r1, const float* ws,
                      const float* wz, float* y) {
  const bool one = v.geom.groups_per_row() == 1 || v.geom.group_size % kChunk == 0;
  const bool sym = v.format->symmetric;
  if constexpr (BITS == 3) {
    if (v.format->codebook())
      return one ? StraddleRows<3, true, true, true>(v, p, r0, r1, ws, wz, y)
                 : StraddleRows<3, false, true, true>(v, p, r0, r1, ws, wz, y);
  }
  if (one) sym ? StraddleRows<BITS, true, true, false>(v, p, r0, r1, ws, wz, y)
               : StraddleRows<BITS, true, false, false>(v, p, r0, r1, ws, wz, y);
  else sym ? StraddleRows<BITS, false, true, false>(v, p, r0, r1, ws, wz, y)
           : StraddleRows<BITS, false, false, false>(v, p, r0, r1, ws, wz, y);
}
#endif

void StraddleRowsI8(const PackedView& v, const PreparedI8& p, int64_t r0, int64_t r1, float* y) {
#if HWY_TARGET == HWY_AVX3_DL
  // The rows' scales (and scale × zero point), with room for a 16-float load past the last group.
  thread_local std::vector<float> ws, wz;
  const int64_t groups = v.geom.groups_per_row(), n = (r1 - r0) * groups;
  ws.assign(size_t(n + 16), 0.0f);
  RowScales(v, r0, r1, ws.data());
  if (!v.format->symmetric) {
    wz.assign(size_t(n + 16), 0.0f);
    const uint8_t* z = v.zero_points + r0 * groups;
    for (int64_t i = 0; i < n; ++i) wz[size_t(i)] = ws[size_t(i)] * float(z[i]);
  }
  switch (v.format->bits) {
    case 3: StraddleRowsBits<3>(v, p, r0, r1, ws.data(), wz.data(), y); break;
    case 5: StraddleRowsBits<5>(v, p, r0, r1, ws.data(), wz.data(), y); break;
    default: StraddleRowsBits<6>(v, p, r0, r1, ws.data(), wz.data(), y); break;
  }
#else
  (void)v, (void)p, (void)r0, (void)r1, (void)y;
#endif
}

}  // namespace arrowquant::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace arrowquant::kernels::simd {

HWY_EXPORT(StraddleSupported);
HWY_EXPORT(StraddleRowsI8);

bool straddle_i8_supported(const PackedView& v) { return HWY_DYNAMIC_DISPATCH(StraddleSupported)(v); }

void prepare_straddle_i8(const PackedView& v, PreparedI8& p) {
  const int64_t cols = v.geom.cols, chunks = (cols + kStraddleChunkCodes - 1) / kStraddleChunkCodes;
  p.q.assign(p.natural.begin(), p.natural.end());
  p.q.resize(size_t(chunks * kStraddleChunkCodes), 0);
  p.lane_scale.assign(size_t(chunks * 16), 0.0f);
  for (int64_t l = 0; l < chunks * 16 && 4 * l < cols; ++l) p.lane_scale[size_t(l)] = p.scale[size_t(4 * l / p.block)];
}

void straddle_i8_rows(const PackedView& v, const PreparedI8& p, int64_t r0, int64_t r1, float* y) {
  HWY_DYNAMIC_DISPATCH(StraddleRowsI8)(v, p, r0, r1, y);
}

}  // namespace arrowquant::kernels::simd
#endif
