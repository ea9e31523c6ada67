#include "arrowquant/pack.h"

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
  // General bit stream (3 bits): a code may straddle two bytes.
  for (int64_t i = 0; i < cols; ++i) {
    const int64_t bit = i * bits;
    const uint32_t v = uint32_t(codes[i]) << (bit & 7);
    out[bit >> 3] |= uint8_t(v);
    if ((bit & 7) + bits > 8) out[(bit >> 3) + 1] |= uint8_t(v >> 8);
  }
}

void unpack_row(const uint8_t* packed, int64_t cols, int bits, uint8_t* codes) {
  if (bits == 8) { std::memcpy(codes, packed, size_t(cols)); return; }
  const uint8_t mask = uint8_t((1u << bits) - 1);
  // Whole bytes first, in loops the compiler vectorises; then the tail codes one by one.
  if (bits == 4) {
    const int64_t whole = cols / 2;
    for (int64_t b = 0; b < whole; ++b) {
      codes[2 * b] = packed[b] & 0xf;
      codes[2 * b + 1] = packed[b] >> 4;
    }
    if (cols & 1) codes[cols - 1] = packed[whole] & 0xf;
    return;
  }
  if (bits == 2) {
    const int64_t whole = cols / 4;
    for (int64_t b = 0; b < whole; ++b) {
      const uint8_t v = packed[b];
      codes[4 * b] = v & 3;
      codes[4 * b + 1] = (v >> 2) & 3;
      codes[4 * b + 2] = (v >> 4) & 3;
      codes[4 * b + 3] = v >> 6;
    }
    for (int64_t i = whole * 4; i < cols; ++i) codes[i] = (packed[whole] >> ((i - whole * 4) * 2)) & 3;
    return;
  }
  for (int64_t i = 0; i < cols; ++i) {
    const int64_t bit = i * bits;
    uint32_t v = packed[bit >> 3];
    if ((bit & 7) + bits > 8) v |= uint32_t(packed[(bit >> 3) + 1]) << 8;
    codes[i] = uint8_t(v >> (bit & 7)) & mask;
  }
}

}  // namespace arrowquant
