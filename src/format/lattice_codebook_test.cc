#include "format/lattice_codebook.h"

#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "arrowquant/quant_format.h"
#include "format/pack.h"
#include "test_util.h"

using namespace arrowquant;

namespace {

// Every point of the codebook, by code.
std::vector<std::array<int8_t, 8>> all_points() {
  std::vector<std::array<int8_t, 8>> pts(65536);
  for (uint32_t c = 0; c < 65536; ++c) lattice::decode(uint16_t(c), pts[c].data());
  return pts;
}

double dist2(const float* x, const int8_t* l) {
  double d = 0;
  for (int i = 0; i < 8; ++i) d += (double(x[i]) - l[i]) * (double(x[i]) - l[i]);
  return d;
}

}  // namespace

TEST(LatticeCodebook, EveryCodeIsADistinctLatticePointThatPacksBack) {
  const auto pts = all_points();
  std::set<std::array<int8_t, 8>> distinct(pts.begin(), pts.end());
  EXPECT_EQ(distinct.size(), 65536u);
  for (uint32_t c = 0; c < 65536; ++c) {
    const auto& l = pts[c];
    int sum = 0;
    for (int8_t v : l) {
      ASSERT_EQ(std::abs(v) % 2, 1) << "levels are odd multiples of 1/4";
      ASSERT_LE(std::abs(v), lattice::kMaxLevel);
      sum += v;
    }
    // s⊙a + δ with s⊙a in the half-integer coset of E8: (levels − 4δ)/4 sum to an even integer.
    const int shift = (c >> 15) ? -1 : 1;
    EXPECT_EQ(((sum - 8 * shift) / 4) % 2, 0) << c;
    EXPECT_EQ(lattice::code_of_levels(l.data()), int32_t(c));
  }
  const int8_t not_a_point[8] = {1, 1, 1, 1, 1, 1, 1, 3};  // mixed shifts
  EXPECT_EQ(lattice::code_of_levels(not_a_point), -1);
  const int8_t odd_signs[8] = {-1, 3, 3, 3, 3, 3, 3, 3};  // +1/4 shift, all 1/2: wrong sign parity
  EXPECT_EQ(lattice::code_of_levels(odd_signs), -1);
}

TEST(LatticeCodebook, NearestIsTheExactNearestPoint) {
  const auto pts = all_points();
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0.0f, 4.0f);
  for (int trial = 0; trial < 300; ++trial) {
    float x[8];
    for (float& v : x) v = trial < 250 ? n(rng) : 20 * n(rng);  // also far outside the codebook
    double best = 1e300;
    for (const auto& p : pts) best = std::min(best, dist2(x, p.data()));
    const uint16_t c = lattice::nearest(x);
    EXPECT_NEAR(dist2(x, pts[c].data()), best, 1e-4 * (1 + best)) << trial;
  }
  const float nan8[8] = {NAN, 0, 0, 0, 0, 0, 0, 0};
  int8_t l[8];
  lattice::decode(lattice::nearest(nan8), l);  // NaN counts as 0: some point, no crash
  for (int8_t v : l) EXPECT_LE(std::abs(v), lattice::kMaxLevel);
}

TEST(LatticeCodebook, BeatsTheBestScalarTwoBitLevelsOnGaussianWeights) {
  // The claim of the header: at its Gaussian scale, ~0.092 σ² against Lloyd-Max's 0.1175 σ².
  std::mt19937 rng(11);
  std::normal_distribution<float> n(0.0f, 1.0f);
  double err = 0;
  const int vectors = 20000;
  for (int v = 0; v < vectors; ++v) {
    float x[8], t[8];
    for (int i = 0; i < 8; ++i) { x[i] = n(rng); t[i] = x[i] / lattice::kGaussianScale; }
    int8_t l[8];
    lattice::decode(lattice::nearest(t), l);
    for (int i = 0; i < 8; ++i) err += std::pow(x[i] - lattice::kGaussianScale * l[i], 2);
  }
  const double mse = err / (8.0 * vectors);
  EXPECT_LT(mse, 0.095);
  EXPECT_GT(mse, 0.085);
}

TEST(LatticeCodebook, RowsPackBitExactInTheFormatsLayout) {
  const QuantFormat& f = format_of(FormatId::Lattice2);
  EXPECT_TRUE(f.lattice());
  EXPECT_EQ(f.layout, "lattice8_v1");
  std::mt19937 rng(5);
  for (int64_t cols : {8, 16, 64, 576}) {
    std::vector<uint8_t> levels(static_cast<size_t>(cols)), back(static_cast<size_t>(cols));
    std::vector<uint16_t> codes(size_t(cols / 8));
    for (size_t v = 0; v < codes.size(); ++v) {
      codes[v] = uint16_t(rng());
      int8_t l[8];
      lattice::decode(codes[v], l);
      for (int i = 0; i < 8; ++i) levels[v * 8 + size_t(i)] = uint8_t(l[i] + 128);
    }
    std::vector<uint8_t> buf(packed_row_bytes(cols, f.bits) + 1, 0xee);
    ASSERT_EQ(buf.size() - 1, size_t(cols / 4));  // 16 bits per 8 weights
    pack_row(f, levels.data(), cols, buf.data() + 1);  // unaligned, as from a mapped file
    EXPECT_EQ(buf[0], 0xee);
    for (size_t v = 0; v < codes.size(); ++v)  // little-endian 16-bit codes, in order
      EXPECT_EQ(buf[1 + 2 * v] | buf[2 + 2 * v] << 8, codes[v]);
    unpack_row(f, buf.data() + 1, cols, back.data());
    EXPECT_EQ(levels, back);
  }
  std::vector<uint8_t> bad(8, 128);  // level 0 is no point of the codebook
  uint8_t out[2];
  EXPECT_THROW(pack_row(f, bad.data(), 8, out), std::invalid_argument);
}

TEST(LatticeCodebook, GeometryNeedsWholeVectors) {
  const QuantFormat& f = format_of(FormatId::Lattice2);
  EXPECT_EQ(geometry_problem(f, 576, 64), "");
  EXPECT_EQ(geometry_problem(f, 576, 576), "");
  EXPECT_NE(geometry_problem(f, 172, 32), "");
  EXPECT_NE(geometry_problem(f, 64, 12), "");
  EXPECT_EQ(geometry_problem(format_of(FormatId::Gauss2), 172, 32), "");
}

// The digit table the SIMD decoder reads agrees with the decoder: code j (positive signs, shift
// +1/4) has levels 2 + 4·digit + 1, and the parity rule is the parity of the digits equal to 1 (flip
// entry 0's sign and the decoder must move the last sign too).
TEST(LatticeCodebook, PatternDigitsAgreeWithTheDecoder) {
  const uint16_t* digits = lattice::pattern_digits();
  for (int j = 0; j < 256; ++j) {
    int8_t levels[8];
    lattice::decode(uint16_t(j), levels);
    int ones = 0;
    for (int i = 0; i < 8; ++i) {
      const int d = (digits[j] >> (2 * i)) & 3;
      ASSERT_LE(d, 2) << j;
      ones += d == 1;
      EXPECT_EQ(std::abs(levels[i] - 1), 2 + 4 * d) << "pattern " << j << " entry " << i;
    }
    // Signs of entries 0-6 stored 0: the last entry is negative exactly when the parity rule says so.
    EXPECT_EQ(levels[7] - 1 < 0, (ones & 1) == 1) << "pattern " << j;
  }
}
