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
  if (bits == 4 || bits == 2) {
    const int per = 8 / bits;
    for (int64_t i = 0; i < cols; ++i) codes[i] = (packed[i / per] >> ((i % per) * bits)) & mask;
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
