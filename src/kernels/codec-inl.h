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

#include <algorithm>
#include <cstdint>

#include "arrowquant/quant_format.h"
#include "format/pack.h"

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

// Codes that straddle bytes (3, 5, 6 bits), widened to one byte each in natural order, 16 codes per
// step: the 16·BITS/8 packed bytes (6, 10 or 12) are shuffled so that each 32-bit (6 bits: 4 codes
// in 3 bytes) or 64-bit lane (3 and 5 bits: 8 codes in 3 or 5 bytes) holds one whole group, and the
// codes are moved to their bytes with shifts and masks, in two stages for 64-bit lanes (codes
// pairs to 16-bit slots, then codes to bytes). 128-bit vectors on every target (pshufb and friends);
// the end of the row, where a 16-byte load would pass it, goes through the scalar unpack_row.
// `doubled`: each code times two (what the widened int8 kernel needs for half-offset grids).
#if HWY_TARGET != HWY_SCALAR
template <int BITS>
HWY_INLINE void WidenRowT(const uint8_t* packed, int64_t cols, uint8_t* out, bool doubled) {
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::Full128<uint8_t> d8;
  const hn::Full128<uint32_t> d32;
  const hn::Full128<uint64_t> d64;
  constexpr int64_t kIn = 2 * BITS;  // packed bytes per 16 codes
  const int64_t nbytes = (cols * BITS + 7) / 8;
  // Steps whose 16-byte load stays inside the row.
  const int64_t steps = std::min(cols / 16, nbytes >= 16 ? (nbytes - 16) / kIn + 1 : 0);
  alignas(16) static constexpr uint8_t kIdx6[16] = {0, 1, 2, 0x80, 3, 4, 5, 0x80, 6, 7, 8, 0x80, 9, 10, 11, 0x80};
  alignas(16) static constexpr uint8_t kIdx5[16] = {0, 1, 2, 3, 4, 0x80, 0x80, 0x80, 5, 6, 7, 8, 9, 0x80, 0x80, 0x80};
  alignas(16) static constexpr uint8_t kIdx3[16] = {0, 1, 2, 0x80, 0x80, 0x80, 0x80, 0x80,
                                                    3, 4, 5, 0x80, 0x80, 0x80, 0x80, 0x80};
  const auto idx = hn::Load(d8, BITS == 6 ? kIdx6 : BITS == 5 ? kIdx5 : kIdx3);
  for (int64_t s = 0; s < steps; ++s) {
    const auto bytes = hn::TableLookupBytesOr0(hn::LoadU(d8, packed + s * kIn), idx);
    if constexpr (BITS == 6) {
      const auto u = hn::BitCast(d32, bytes);
      auto r = hn::And(u, hn::Set(d32, 0x3fu));
      r = hn::Or(r, hn::And(hn::ShiftLeft<2>(u), hn::Set(d32, 0x3f00u)));
      r = hn::Or(r, hn::And(hn::ShiftLeft<4>(u), hn::Set(d32, 0x3f0000u)));
      r = hn::Or(r, hn::And(hn::ShiftLeft<6>(u), hn::Set(d32, 0x3f000000u)));
      hn::StoreU(hn::BitCast(d8, doubled ? hn::Add(r, r) : r), d8, out + s * 16);
    } else {
      // Stage 1: the group's four 2·BITS-bit code pairs into the four 16-bit slots of the lane.
      constexpr int P = 2 * BITS;
      constexpr uint64_t kPair = (uint64_t(1) << P) - 1;
      const auto u = hn::BitCast(d64, bytes);
      auto t = hn::And(u, hn::Set(d64, kPair));
      t = hn::Or(t, hn::And(hn::ShiftLeft<16 - P>(u), hn::Set(d64, kPair << 16)));
      t = hn::Or(t, hn::And(hn::ShiftLeft<32 - 2 * P>(u), hn::Set(d64, kPair << 32)));
      t = hn::Or(t, hn::And(hn::ShiftLeft<48 - 3 * P>(u), hn::Set(d64, kPair << 48)));
      // Stage 2: each slot's two codes into its two bytes.
      constexpr uint64_t kLow = ((uint64_t(1) << BITS) - 1) * 0x0001000100010001ull;
      const auto r = hn::Or(hn::And(t, hn::Set(d64, kLow)), hn::And(hn::ShiftLeft<8 - BITS>(t), hn::Set(d64, kLow << 8)));
      hn::StoreU(hn::BitCast(d8, doubled ? hn::Add(r, r) : r), d8, out + s * 16);
    }
  }
  const int64_t done = steps * 16;
  if (done < cols) {
    unpack_row(packed + done * BITS / 8, cols - done, BITS, out + done);
    if (doubled)
      for (int64_t c = done; c < cols; ++c) out[c] = uint8_t(2 * out[c]);
  }
}
#endif

// A codebook format's codes (one per byte, as widened) replaced by their byte levels in place: a
// 16-entry byte table look-up (pshufb) per 16 codes. Nothing for uniform formats.
HWY_INLINE void ApplyLevels(const QuantFormat& f, uint8_t* codes, int64_t n) {
  if (!f.codebook()) return;
  int64_t i = 0;
#if HWY_TARGET != HWY_SCALAR
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::Full128<uint8_t> d8;
  const auto lut = hn::Load(d8, f.levels);  // 16 aligned bytes (quant_format.h)
  for (; i + 16 <= n; i += 16) hn::StoreU(hn::TableLookupBytes(lut, hn::LoadU(d8, codes + i)), d8, codes + i);
#endif
  f.apply_levels(codes + i, n - i);
}

// Any width: the vector widening for 3, 5 and 6 bits, unpack_row for the others (and on the
// scalar target, which has no 128-bit vectors).
#if HWY_TARGET != HWY_SCALAR
// 4 and 2 bits, low bits first: 16 packed bytes → 32 or 64 codes by masks, shifts and interleaves
// (the table look-up of unpack_row costs a load and a store per byte: 7 % of a 512-token prefill).
template <int BITS>
HWY_INLINE int64_t WidenSmallT(const uint8_t* packed, int64_t cols, uint8_t* out) {
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::Full128<uint8_t> d8;
  const hn::Full128<uint16_t> d16;
  const auto mask = hn::Set(d8, uint8_t((1 << BITS) - 1));
  constexpr int64_t kCodes = 16 * 8 / BITS;
  int64_t c = 0;
  for (; c + kCodes <= cols; c += kCodes) {
    const auto b = hn::LoadU(d8, packed + c * BITS / 8);
    if constexpr (BITS == 4) {
      const auto lo = hn::And(b, mask);
      const auto hi = hn::And(hn::BitCast(d8, hn::ShiftRight<4>(hn::BitCast(d16, b))), mask);
      hn::StoreU(hn::InterleaveLower(d8, lo, hi), d8, out + c);
      hn::StoreU(hn::InterleaveUpper(d8, lo, hi), d8, out + c + 16);
    } else {
      const auto w = hn::BitCast(d16, b);
      const auto c0 = hn::And(b, mask);
      const auto c1 = hn::And(hn::BitCast(d8, hn::ShiftRight<2>(w)), mask);
      const auto c2 = hn::And(hn::BitCast(d8, hn::ShiftRight<4>(w)), mask);
      const auto c3 = hn::And(hn::BitCast(d8, hn::ShiftRight<6>(w)), mask);
      // bytes (c0 c1) and (c2 c3) paired, then the pairs interleaved: c0 c1 c2 c3 per packed byte
      const auto p01l = hn::BitCast(d16, hn::InterleaveLower(d8, c0, c1)), p01u = hn::BitCast(d16, hn::InterleaveUpper(d8, c0, c1));
      const auto p23l = hn::BitCast(d16, hn::InterleaveLower(d8, c2, c3)), p23u = hn::BitCast(d16, hn::InterleaveUpper(d8, c2, c3));
      hn::StoreU(hn::BitCast(d8, hn::InterleaveLower(d16, p01l, p23l)), d8, out + c);
      hn::StoreU(hn::BitCast(d8, hn::InterleaveUpper(d16, p01l, p23l)), d8, out + c + 16);
      hn::StoreU(hn::BitCast(d8, hn::InterleaveLower(d16, p01u, p23u)), d8, out + c + 32);
      hn::StoreU(hn::BitCast(d8, hn::InterleaveUpper(d16, p01u, p23u)), d8, out + c + 48);
    }
  }
  return c;
}
#endif

HWY_INLINE void WidenRow(const uint8_t* packed, int64_t cols, int bits, uint8_t* out, bool doubled = false) {
#if HWY_TARGET != HWY_SCALAR
  switch (bits) {
    case 3: return WidenRowT<3>(packed, cols, out, doubled);
    case 5: return WidenRowT<5>(packed, cols, out, doubled);
    case 6: return WidenRowT<6>(packed, cols, out, doubled);
    case 4:
    case 2:
      if (!doubled) {
        const int64_t done = bits == 4 ? WidenSmallT<4>(packed, cols, out) : WidenSmallT<2>(packed, cols, out);
        if (done < cols) unpack_row(packed + done * bits / 8, cols - done, bits, out + done);
        return;
      }
      break;
    default: break;
  }
#endif
  unpack_row(packed, cols, bits, out);
  if (doubled)
    for (int64_t c = 0; c < cols; ++c) out[c] = uint8_t(2 * out[c]);
}

// A row as the byte kernels read it, one byte per weight: codes for uniform grids (half-offset
// ones doubled when asked), byte levels for codebooks and lattices.
HWY_INLINE void WidenLevels(const QuantFormat& f, const uint8_t* packed, int64_t cols, uint8_t* out, bool doubled = false) {
  if (f.lattice()) return unpack_row(f, packed, cols, out);
  WidenRow(packed, cols, f.bits, out, doubled);
  ApplyLevels(f, out, cols);
}

}  // namespace arrowquant::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // AQ_KERNELS_CODEC_INL_H_
