#include "format/pack.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "format/lattice_codebook.h"

namespace arrowquant {

namespace {
// Widths whose codes straddle bytes, SWAR: each group of whole bytes (3 bytes = 8 codes at 3 bits,
// 5 = 8 at 5, 3 = 4 at 6) read as one little-endian word, code i shifted from bit BITS·i to bit 8·i
// and masked. Fixed sizes, so the copies compile to plain loads and stores. Returns the codes done.
template <int BITS>
int64_t unpack_swar(const uint8_t* packed, int64_t cols, uint8_t* codes) {
  constexpr int kPer = BITS == 6 ? 4 : 8, kIn = BITS * kPer / 8;
  constexpr uint64_t kMask = (uint64_t(1) << BITS) - 1;
  const int64_t groups = cols / kPer, nbytes = (cols * BITS + 7) / 8;
  // Whole 8-byte loads while they stay inside the row, then loads of just the group's bytes.
  const int64_t wide = nbytes >= 8 ? std::min(groups, (nbytes - 8) / kIn + 1) : 0;
  auto spread = [&](int64_t g, uint64_t w) {
    uint64_t out = 0;
    for (int i = 0; i < kPer; ++i) out |= ((w >> (BITS * i)) & kMask) << (8 * i);
    if constexpr (kPer == 8) {
      std::memcpy(codes + 8 * g, &out, 8);
    } else {
      const uint32_t o = uint32_t(out);
      std::memcpy(codes + 4 * g, &o, 4);
    }
  };
  for (int64_t g = 0; g < wide; ++g) {
    uint64_t w;
    std::memcpy(&w, packed + kIn * g, 8);
    spread(g, w);
  }
  for (int64_t g = wide; g < groups; ++g) {
    uint64_t w = 0;
    std::memcpy(&w, packed + kIn * g, kIn);
    spread(g, w);
  }
  return groups * kPer;
}
}  // namespace

void pack_row(const uint8_t* codes, int64_t cols, int bits, uint8_t* out) {
  const size_t nbytes = size_t((cols * bits + 7) / 8);
  if (bits == 8) { std::memcpy(out, codes, size_t(cols)); return; }
  std::memset(out, 0, nbytes);
  if (bits == 4 || bits == 2) {
    const int per = 8 / bits;
    for (int64_t i = 0; i < cols; ++i) out[i / per] |= uint8_t(codes[i] << ((i % per) * bits));
    return;
  }
  // General bit stream (3, 5, 6 bits): a code may straddle two bytes.
  for (int64_t i = 0; i < cols; ++i) {
    const int64_t bit = i * bits;
    const uint32_t v = uint32_t(codes[i]) << (bit & 7);
    out[bit >> 3] |= uint8_t(v);
    if ((bit & 7) + bits > 8) out[(bit >> 3) + 1] |= uint8_t(v >> 8);
  }
}

void unpack_row(const uint8_t* packed, int64_t cols, int bits, uint8_t* codes) {
  if (bits == 8) { std::memcpy(codes, packed, size_t(cols)); return; }
  // Whole bytes first, in loops the compiler vectorises; then the tail codes one by one.
  // 2 and 4 bits: a byte expands to 4 or 2 codes through a 256-entry table, one word store each.
  if (bits == 4) {
    static const auto table = [] {
      std::array<uint16_t, 256> t{};
      for (int b = 0; b < 256; ++b) t[size_t(b)] = uint16_t((b & 0xf) | ((b >> 4) << 8));
      return t;
    }();
    const int64_t whole = cols / 2;
    for (int64_t b = 0; b < whole; ++b) std::memcpy(codes + 2 * b, &table[packed[b]], 2);
    if (cols & 1) codes[cols - 1] = packed[whole] & 0xf;
    return;
  }
  if (bits == 2) {
    static const auto table = [] {
      std::array<uint32_t, 256> t{};
      for (uint32_t b = 0; b < 256; ++b) t[b] = (b & 3) | ((b >> 2 & 3) << 8) | ((b >> 4 & 3) << 16) | ((b >> 6) << 24);
      return t;
    }();
    const int64_t whole = cols / 4;
    for (int64_t b = 0; b < whole; ++b) std::memcpy(codes + 4 * b, &table[packed[b]], 4);
    for (int64_t i = whole * 4; i < cols; ++i) codes[i] = (packed[whole] >> ((i - whole * 4) * 2)) & 3;
    return;
  }
  int64_t first = 0;  // codes before this are done
  if (bits == 3) first = unpack_swar<3>(packed, cols, codes);
  else if (bits == 5) first = unpack_swar<5>(packed, cols, codes);
  else if (bits == 6) first = unpack_swar<6>(packed, cols, codes);
  for (int64_t i = first; i < cols; ++i) codes[i] = uint8_t(packed_code_at(packed, i, bits));
}

void pack_row(const QuantFormat& f, const uint8_t* codes, int64_t cols, uint8_t* out) {
  if (f.lattice()) return lattice::pack_row(codes, cols, out);
  pack_row(codes, cols, f.bits, out);
}

void unpack_row(const QuantFormat& f, const uint8_t* packed, int64_t cols, uint8_t* codes) {
  if (f.lattice()) return lattice::unpack_row(packed, cols, codes);
  unpack_row(packed, cols, f.bits, codes);
}

}  // namespace arrowquant
