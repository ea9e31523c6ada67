#include <random>

#include "format/pack.h"
#include "arrowquant/quant_format.h"
#include "test_util.h"

using namespace arrowquant;

TEST(Pack, RoundTripIsBitExactForEveryWidthAndOddLengths) {
  std::mt19937 rng(7);
  for (int bits : format_widths()) {
    for (int64_t cols : {1, 2, 3, 5, 7, 8, 9, 31, 33, 64, 127, 172, 384}) {
      std::vector<uint8_t> codes(static_cast<size_t>(cols)), back(static_cast<size_t>(cols));
      for (auto& c : codes) c = uint8_t(rng() & ((1u << bits) - 1));
      // Unaligned destination and source: packed data comes straight from a file.
      std::vector<uint8_t> buf(packed_row_bytes(cols, bits) + 1, 0xee);
      pack_row(codes.data(), cols, bits, buf.data() + 1);
      unpack_row(buf.data() + 1, cols, bits, back.data());
      EXPECT_EQ(codes, back) << bits << " bits, " << cols << " cols";
      EXPECT_EQ(buf[0], 0xee) << "wrote before the row";
      // Padding bits of the last byte are zero.
      const int64_t used = cols * bits % 8;
      if (used) { EXPECT_EQ(buf.back() >> used, 0); }
    }
  }
}

TEST(Pack, DocumentedLayout) {
  const uint8_t c4[] = {0x1, 0xa, 0x3, 0xf};
  uint8_t out4[2];
  pack_row(c4, 4, 4, out4);
  EXPECT_EQ(out4[0], 0xa1);  // code 0 in the low nibble
  EXPECT_EQ(out4[1], 0xf3);
  const uint8_t c2[] = {1, 2, 3, 0};
  uint8_t out2;
  pack_row(c2, 4, 2, &out2);
  EXPECT_EQ(out2, 0b00111001);
  const uint8_t c3[] = {1, 2, 3, 4, 5, 6, 7, 0};  // 8 codes in 3 bytes, LSB-first bit stream
  uint8_t out3[3];
  pack_row(c3, 8, 3, out3);
  uint32_t stream = out3[0] | (out3[1] << 8) | (out3[2] << 16);
  for (int i = 0; i < 8; ++i) EXPECT_EQ((stream >> (3 * i)) & 7u, c3[i]);
  // 6 bits: 4 codes in 3 bytes; 5 bits: 8 codes in 5 bytes, the same LSB-first stream.
  const uint8_t c6[] = {0x3f, 0x01, 0x2a, 0x15};
  uint8_t out6[3];
  pack_row(c6, 4, 6, out6);
  stream = out6[0] | (out6[1] << 8) | (out6[2] << 16);
  for (int i = 0; i < 4; ++i) EXPECT_EQ((stream >> (6 * i)) & 63u, c6[i]);
  const uint8_t c5[] = {31, 1, 17, 0, 9, 30, 4, 22};
  uint8_t out5[5];
  pack_row(c5, 8, 5, out5);
  uint64_t stream5 = 0;
  for (int k = 0; k < 5; ++k) stream5 |= uint64_t(out5[k]) << (8 * k);
  for (int i = 0; i < 8; ++i) EXPECT_EQ((stream5 >> (5 * i)) & 31u, c5[i]);
}
