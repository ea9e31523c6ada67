#include "format/pack.h"

#include <array>
#include <cstring>

namespace arrowquant {

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
  if (bits == 3 || bits == 5 || bits == 6) {
    // 8 codes fill exactly `bits` whole bytes: read them as one little-endian word and shift codes
    // out (the tail goes through the general loop below).
    const int64_t whole = cols / 8;
    const uint64_t mask = (uint64_t(1) << bits) - 1;
    for (int64_t b = 0; b < whole; ++b) {
      const uint8_t* p = packed + size_t(bits) * size_t(b);
      uint64_t w = 0;
      for (int k = 0; k < bits; ++k) w |= uint64_t(p[k]) << (8 * k);
      for (int k = 0; k < 8; ++k) codes[8 * b + k] = uint8_t((w >> (bits * k)) & mask);
    }
    first = whole * 8;
  }
  for (int64_t i = first; i < cols; ++i) codes[i] = uint8_t(packed_code_at(packed, i, bits));
}

}  // namespace arrowquant
