// Bit packing, layout "lsb_rows_v1": each tensor row's codes form one little-endian bit stream,
// code i occupying bits [i*bits, (i+1)*bits) counted from the least significant bit of byte 0; each
// row is padded with zero bits to a whole byte. So for 4 bits, byte 0 holds code 0 in its low
// nibble and code 1 in its high nibble; for 2 bits, codes 0..3 from low to high bit pairs; 3-bit
// codes straddle bytes (8 codes per 3 bytes); 8-bit codes are bytes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "arrowquant/quant_format.h"

namespace arrowquant {

// A row of any format, one byte per weight: the code (uniform grids, codebooks) or, for a lattice
// format (one code per 8 weights, src/format/lattice_codebook.h), the weight's level + 128. Packed in
// the format's layout; unpacking gives the same bytes back.
void pack_row(const QuantFormat& f, const uint8_t* codes, int64_t cols, uint8_t* out);
void unpack_row(const QuantFormat& f, const uint8_t* packed, int64_t cols, uint8_t* codes);

// codes: cols values, each < 2^bits. out: packed_row_bytes(cols, bits) bytes.
void pack_row(const uint8_t* codes, int64_t cols, int bits, uint8_t* out);
// packed may be unaligned (it comes straight from a memory-mapped file).
void unpack_row(const uint8_t* packed, int64_t cols, int bits, uint8_t* codes);

// The order in which SIMD kernels meet a row's codes (2, 4 and 8 bits). A vector of V packed bytes
// unpacks with shifts and masks into 8/bits "phases" of V codes each: phase p holds codes
// i·(8/bits) + p for i < V (int4: the low nibbles, then the high ones; int2: bit pairs 0..3). A
// kernel permutes its activations once into this order, so each unpacked phase meets its
// activations with no shuffle. The tail of the row after the last whole vector stays in order.
// kernels/codec-inl.h is the SIMD half of this codec.
template <class T>
void permute_to_phase_order(const T* x, int64_t cols, int bits, int64_t vector_bytes, T* out) {
  const int64_t per_byte = 8 / bits, codes = vector_bytes * per_byte;
  const int64_t whole = codes > 0 ? cols / codes * codes : 0;
  for (int64_t b = 0; b < whole; b += codes)
    for (int64_t phase = 0; phase < per_byte; ++phase)
      for (int64_t i = 0; i < vector_bytes; ++i) out[b + phase * vector_bytes + i] = x[b + i * per_byte + phase];
  for (int64_t c = whole; c < cols; ++c) out[c] = x[c];
}

// Code c of a packed row (the kernels' scalar tails).
inline uint32_t packed_code_at(const uint8_t* row, int64_t c, int bits) {
  const int64_t bit = c * bits;
  uint32_t w = row[bit >> 3];
  if ((bit & 7) + bits > 8) w |= uint32_t(row[(bit >> 3) + 1]) << 8;  // 3-bit codes straddle bytes
  return (w >> (bit & 7)) & ((1u << bits) - 1);
}

}  // namespace arrowquant
