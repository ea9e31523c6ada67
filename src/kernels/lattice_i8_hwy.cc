// lattice2 weights × int8 activations with every code decoded in registers (AVX3_DL: AVX-512 VBMI,
// BITALG and VNNI — Ice Lake, Zen 4 and later). Other targets return "not supported", and the policy
// (packed_i8.cc) widens rows to bytes in cache instead.
//
// A level is s·A + D (format/lattice_codebook.h): A = 2 + 4·digit in {2, 6, 10}, s = ±1 per entry,
// D = ±1 per code. So a row's product is
//   2 · Σ_codes Σ_i (A_i/2) · (s_i·q_i)   +   Σ_codes D · S_code,    S_code = Σ_{i in the code} q_i,
// exact in int32: the sign goes onto the activation (a blend with its negation), the odd A/2 = 2·digit
// + 1 (cut straight out of the digit bits) through vpdpbusd, and the shift through one vpdpwssd on the
// per-code sums prepared once per call.
//
// Speed (Zen 4, 1 thread): 6.7 GB/s of packed bytes in cache, ~31 cycles per 64 bytes against ~21
// one-per-cycle permutes, bit shuffles, popcounts and dot products; splitting the accumulator or a
// byte-table look-up for A measured the same. bench kernels and docs/BENCHMARKS.md have the ratios.
//
// Work unit: a chunk of 32 codes (256 weights, 64 packed bytes). The 32 pattern numbers are looked up
// in a 256-word table of digits (four 2-table word permutes), the last entry's sign is restored from
// the parity rule, and four byte vectors are cut out of the words with vpmultishiftqb: byte 8k+2j+e
// of vector v is entry 2v+e of code 4k+j, so every 64-bit lane reads only its own four codes and
// every int32 lane l sums codes 2l and 2l+1 — natural weights [16l, 16l + 16) of the chunk, inside one
// weight group and one activation block. The activations are permuted into that order (zero past the
// row) when they are prepared.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/lattice_i8_hwy.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "arrowquant/packed_tensor.h"
#include "format/lattice_codebook.h"
#include "kernels/i8_geometry.h"
#include "kernels/lattice_i8_hwy.h"
#include "kernels/packed_prepared.h"
#include "kernels/row_scales-inl.h"
#include "kernels/vnni512-inl.h"

HWY_BEFORE_NAMESPACE();
#if HWY_TARGET == HWY_AVX3_DL
#pragma GCC target("avx512vnni")
#endif
namespace arrowquant::kernels::HWY_NAMESPACE {

constexpr int64_t kChunkCodes = simd::kLatticeChunkCodes;
constexpr int64_t kChunkWeights = kChunkCodes * lattice::kDim;

// Groups either divide the chunk or are whole multiples of it (or one per row): then each int32 lane's
// scale is a fixed lane-to-group map per chunk.
inline bool LatticeGeometryFits(const PackedView& v) {
  const int64_t gs = v.geom.group_size;
  if (!v.format->lattice() || v.geom.cols % lattice::kDim != 0 || i8_activation_block(v) == 0) return false;
  return v.geom.groups_per_row() == 1 || (gs % 16 == 0 && (kChunkWeights % gs == 0 || gs % kChunkWeights == 0));
}

bool LatticeFusedSupported(const PackedView& v) {
#if HWY_TARGET == HWY_AVX3_DL
  return LatticeGeometryFits(v);
#else
  (void)v;
  return false;
#endif
}

#if HWY_TARGET == HWY_AVX3_DL
struct LatticeConstants {
  __m512i table[8];     // the 256 digit words, 64 per pair of registers
  __m512i digit_ctl[4];  // vpmultishiftqb offsets: byte 8k+2j+e of vector v <- bits from 16j + 2(2v+e) − 1
  __m512i sign_ctl[4];   // vpshufbitqmb bit numbers: 16j + 8 + (2v+e), entry 2v+e's sign bit
};

inline LatticeConstants MakeConstants() {
  LatticeConstants k;
  const uint16_t* digits = lattice::pattern_digits();
  for (int t = 0; t < 8; ++t) k.table[t] = _mm512_loadu_si512(digits + 32 * t);
  for (int vec = 0; vec < 4; ++vec) {
    alignas(64) uint8_t d[64], s[64];
    for (int b = 0; b < 64; ++b) {
      const int j = (b % 8) / 2, e = b % 2;
      d[b] = uint8_t((16 * j + 2 * (2 * vec + e) + 63) % 64);  // the digit lands in bits 1-2
      s[b] = uint8_t(16 * j + 8 + 2 * vec + e);
    }
    k.digit_ctl[vec] = _mm512_load_si512(d);
    k.sign_ctl[vec] = _mm512_load_si512(s);
  }
  return k;
}

// R rows from r0 (their scales from row k0 of ws: groups per row each). BROADCAST: a chunk lies in one
// group; otherwise each lane takes its group's scale from the chunk's groups.
template <int R, bool BROADCAST>
HWY_INLINE void LatticeRowsT(const PackedView& v, const PreparedI8& p, const LatticeConstants& K, int64_t r0,
                             int64_t k0, const float* ws, float* y) {
  const int64_t cols = v.geom.cols, codes = cols / lattice::kDim, groups = v.geom.groups_per_row();
  const int64_t chunks = (codes + kChunkCodes - 1) / kChunkCodes;
  const int64_t gs = groups == 1 ? cols : v.geom.group_size;
  const size_t row_bytes = size_t(codes) * lattice::kCodeBytes;
  alignas(64) int32_t lane_group[16];
  for (int l = 0; l < 16; ++l) lane_group[l] = BROADCAST ? 0 : int32_t(16 * l / gs);
  const __m512i lane_idx = _mm512_load_si512(lane_group);
  const __m512i low_digits = _mm512_set1_epi16(0x5555), sign_bits = _mm512_set1_epi16(0x7f00);
  const __m512i keep = _mm512_set1_epi16(0x7fff), one = _mm512_set1_epi16(1);
  const __m512i six = _mm512_set1_epi8(6), one8 = _mm512_set1_epi8(1);
  const __m512i bit6 = _mm512_set1_epi16(0x40), bit7 = _mm512_set1_epi16(0x80), zero = _mm512_setzero_si512();
  const uint8_t* row0 = v.codes + size_t(r0) * row_bytes;
  __m512 f[R];
  for (int k = 0; k < R; ++k) f[k] = _mm512_setzero_ps();
  for (int64_t ch = 0; ch < chunks; ++ch) {
    const int64_t c0 = ch * kChunkCodes, n = std::min(kChunkCodes, codes - c0);
    const __mmask32 live = n == kChunkCodes ? ~__mmask32(0) : __mmask32((1u << n) - 1);
    const int8_t* qa = p.q.data() + ch * kChunkWeights;
    __m512i act[4], neg_act[4];
    for (int vec = 0; vec < 4; ++vec) {
      act[vec] = _mm512_loadu_si512(qa + 64 * vec);
      neg_act[vec] = _mm512_sub_epi8(zero, act[vec]);
    }
    const __m512i sums = _mm512_loadu_si512(p.vector_sum.data() + c0);
    const __m512 sa = _mm512_loadu_ps(p.lane_scale.data() + ch * 16);
    const int64_t g0 = c0 * lattice::kDim / gs;
    for (int k = 0; k < R; ++k) {
      const uint8_t* src = row0 + size_t(k) * row_bytes + size_t(c0) * lattice::kCodeBytes;
      hwy::Prefetch(src + 4096);
      const __m512i c = _mm512_maskz_loadu_epi16(live, src);
      // digit words of the 32 patterns: entries 0-63, 64-127, 128-191, 192-255 by bits 6 and 7
      const __mmask32 hi6 = _mm512_test_epi16_mask(c, bit6), hi7 = _mm512_test_epi16_mask(c, bit7);
      const __m512i lo = _mm512_mask_blend_epi16(hi6, _mm512_permutex2var_epi16(K.table[0], c, K.table[1]),
                                                 _mm512_permutex2var_epi16(K.table[2], c, K.table[3]));
      const __m512i hi = _mm512_mask_blend_epi16(hi6, _mm512_permutex2var_epi16(K.table[4], c, K.table[5]),
                                                 _mm512_permutex2var_epi16(K.table[6], c, K.table[7]));
      const __m512i digits = _mm512_mask_blend_epi16(hi7, lo, hi);
      // the last entry's sign: odd when the stored signs and the pattern's digits equal to 1 are
      // odd together; it replaces the shift bit (bit 15), which the shift term reads from c
      const __m512i odd = _mm512_popcnt_epi16(_mm512_ternarylogic_epi32(c, sign_bits, _mm512_and_si512(digits, low_digits), 0x6A));
      const __m512i signs = _mm512_ternarylogic_epi32(keep, c, _mm512_slli_epi16(odd, 15), 0xCA);
      const __m512i shift = _mm512_or_si512(_mm512_srai_epi16(c, 15), one);  // +1 or -1 per code
      __m512i acc = zero;
      for (int vec = 0; vec < 4; ++vec) {
        // A/2 = 2·digit + 1: the digit already sits in bits 1-2, bit 0 set, the rest cleared
        const __m512i a = _mm512_ternarylogic_epi32(_mm512_multishift_epi64_epi8(K.digit_ctl[vec], digits), six, one8, 0xEA);
        const __mmask64 neg = _mm512_bitshuffle_epi64_mask(signs, K.sign_ctl[vec]);
        acc = DotU8I8(acc, a, _mm512_mask_blend_epi8(neg, act[vec], neg_act[vec]));
      }
      acc = DotI16(_mm512_add_epi32(acc, acc), shift, sums);  // 2·Σ (A/2)·(±q) + D·S
      const float* wsk = ws + (k0 + k) * groups + g0;
      const __m512 wv = BROADCAST ? _mm512_set1_ps(*wsk) : _mm512_permutexvar_ps(lane_idx, _mm512_loadu_ps(wsk));
      f[k] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), sa), wv, f[k]);
    }
  }
  for (int k = 0; k < R; ++k) y[r0 + k] = _mm512_reduce_add_ps(f[k]);
}
#endif

void LatticeRowsI8(const PackedView& v, const PreparedI8& p, int64_t r0, int64_t r1, float* y) {
#if HWY_TARGET == HWY_AVX3_DL
  // Rows per pass sharing the activation loads: 2 and 4 measured equal (6.8 GB/s in cache on Zen 4),
  // 1 slower (5.6); 2 spills less.
  constexpr int kRows = 2;
  static const LatticeConstants K = MakeConstants();
  // Scales of the rows, plus room for a chunk's 16-float load past the last group (those lanes meet
  // zero activations).
  thread_local std::vector<float> ws;
  const int64_t groups = v.geom.groups_per_row();
  ws.assign(size_t((r1 - r0) * groups + 16), 0.0f);
  RowScales(v, r0, r1, ws.data());
  const int64_t gs = v.geom.group_size;
  const bool broadcast = groups == 1 || gs % kChunkWeights == 0;
  int64_t r = r0;
  if (broadcast) {
    for (; r + kRows <= r1; r += kRows) LatticeRowsT<kRows, true>(v, p, K, r, r - r0, ws.data(), y);
    for (; r < r1; ++r) LatticeRowsT<1, true>(v, p, K, r, r - r0, ws.data(), y);
  } else {
    for (; r + kRows <= r1; r += kRows) LatticeRowsT<kRows, false>(v, p, K, r, r - r0, ws.data(), y);
    for (; r < r1; ++r) LatticeRowsT<1, false>(v, p, K, r, r - r0, ws.data(), y);
  }
#else
  (void)v, (void)p, (void)r0, (void)r1, (void)y;
#endif
}

}  // namespace arrowquant::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

namespace arrowquant::kernels::simd {

HWY_EXPORT(LatticeFusedSupported);
HWY_EXPORT(LatticeRowsI8);

bool lattice_i8_supported(const PackedView& v) { return HWY_DYNAMIC_DISPATCH(LatticeFusedSupported)(v); }
// One layout for every target: from p.natural and p.scale (quantised by prepare_i8), the activations
// in the chunk order above, the per-code sums and the per-lane activation scales, zero past the row.
void prepare_lattice_i8(const PackedView& v, PreparedI8& p) {
  constexpr int64_t kChunkCodes = kLatticeChunkCodes, kChunkWeights = kChunkCodes * lattice::kDim;
  const int64_t cols = v.geom.cols, codes = cols / lattice::kDim;
  const int64_t chunks = (codes + kChunkCodes - 1) / kChunkCodes;
  p.q.assign(size_t(chunks * kChunkWeights), 0);
  p.vector_sum.assign(size_t(chunks * kChunkCodes), 0);
  p.lane_scale.assign(size_t(chunks * 16), 0.0f);
  for (int64_t ch = 0; ch < chunks; ++ch) {
    int8_t* q = p.q.data() + ch * kChunkWeights;
    for (int vec = 0; vec < 4; ++vec)
      for (int k = 0; k < 8; ++k)
        for (int j = 0; j < 4; ++j)
          for (int e = 0; e < 2; ++e) {
            const int64_t code = ch * kChunkCodes + 4 * k + j;
            if (code < codes) q[64 * vec + 8 * k + 2 * j + e] = p.natural[size_t(code * 8 + 2 * vec + e)];
          }
    for (int64_t c = 0; c < kChunkCodes && ch * kChunkCodes + c < codes; ++c) {
      int sum = 0;
      for (int i = 0; i < lattice::kDim; ++i) sum += p.natural[size_t((ch * kChunkCodes + c) * 8 + i)];
      p.vector_sum[size_t(ch * kChunkCodes + c)] = int16_t(sum);
    }
    for (int64_t l = 0; l < 16; ++l) {
      const int64_t first = ch * kChunkWeights + 16 * l;
      if (first < cols) p.lane_scale[size_t(ch * 16 + l)] = p.scale[size_t(first / p.block)];
    }
  }
}

void lattice_i8_rows(const PackedView& v, const PreparedI8& p, int64_t r0, int64_t r1, float* y) {
  HWY_DYNAMIC_DISPATCH(LatticeRowsI8)(v, p, r0, r1, y);
}

}  // namespace arrowquant::kernels::simd
#endif
