// Round-to-nearest: the error bound of every format, MSE clipping never worse than min/max,
// importance weights lowering the weighted error, error shrinking with width, thread-count independence, constant groups, and refused inputs.
#include "quant/rtn.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "arrowquant/error.h"
#include "format/lattice_codebook.h"
#include "quant/weight_error.h"
#include "test_util.h"

using namespace arrowquant;

namespace {
FloatTensor make(const std::string& name, Shape shape, uint32_t seed) {
  FloatTensor t{name, shape, aqtest::random_floats(size_t(num_elements(shape)), seed, 0.05f)};
  return t;
}
float scale_at(const QuantizedTensor& q, size_t k) {
  uint16_t h;
  std::memcpy(&h, q.scales.data() + 2 * k, 2);
  return f16_to_f32(h);
}
}  // namespace

// With min/max ranges the error is half a step plus what the stored precision costs at the edges
// of the range: the integer zero point (half a step, affine) or the missing top code (symmetric,
// half a step more), and the float16 rounding of the scale (max_code x 2^-11 steps). On a codebook
// the outer levels meet the range, so the error is half the widest gap between levels plus the
// scale's rounding at the outer level (127 x 2^-11). A float8 format's error is relative: half a unit
// in the last place of the value (2^-(M+1) of it), at least half the smallest subnormal, plus the
// scale's rounding at the top (max_value x 2^-11).
TEST(Rtn, ErrorWithinFormatBound) {
  for (const auto& f : quant_formats()) {
    if (f.lattice()) continue;  // a vector's nearest point bounds no single weight (next test)
    float widest_gap = 0;
    for (int c = 0; f.codebook() && c + 1 < f.codes(); ++c) widest_gap = std::max(widest_gap, f.level_of(c + 1) - f.level_of(c));
    const float steps = f.codebook() ? widest_gap / 2 + 127.0f / 2048.0f : 1.0f + float(f.max_code()) / 2048.0f;
    for (int64_t gs : {0, 32, 64, 128, 256}) {
      FloatTensor t = make("w", {24, 200}, 11);  // 200: ragged last group for every group size
      QuantizedTensor q = quantize_rtn(t, {&f, gs, ClipMethod::MinMax, 2});
      std::vector<float> back(t.values.size());
      dequantize_rows(view_of(q), 0, q.geom.rows, back.data());
      const int64_t groups = q.geom.groups_per_row();
      auto t_of = [&](int64_t r, int64_t c) { return t.values[size_t(r * 200 + c)]; };
      for (int64_t r = 0; r < q.geom.rows; ++r)
        for (int64_t c = 0; c < q.geom.cols; ++c) {
          const float s = scale_at(q, size_t(r * groups + c / q.geom.group_size));
          const float tv = std::fabs(t_of(r, c)) / s;
          const bool e4m3 = f.family == Codebook::Fp8E4m3;
          const float bound = f.float8() ? s * (tv * (e4m3 ? 0x1p-4f : 0x1p-3f) + (e4m3 ? 0x1p-10f : 0x1p-17f) +
                                                f.max_value / 2048.0f) + 1e-7f
                                         : s * steps + 1e-7f;
          ASSERT_LE(std::fabs(back[r * 200 + c] - t.values[r * 200 + c]), bound)
              << f.name << " group " << gs << " at " << r << "," << c;
        }
    }
  }
}

TEST(Rtn, MseClipNeverWorseThanMinMax) {
  FloatTensor t = make("w", {64, 256}, 5);
  for (const auto& f : quant_formats()) {
    double err[2];
    int i = 0;
    for (ClipMethod m : {ClipMethod::MinMax, ClipMethod::Mse}) {
      QuantizedTensor q = quantize_rtn(t, {&f, 64, m, 1});
      std::vector<float> back(t.values.size());
      dequantize_rows(view_of(q), 0, q.geom.rows, back.data());
      err[i++] = weight_error(t.values.data(), back.data(), back.size()).rel_rmse;
    }
    EXPECT_LE(err[1], err[0] + 1e-12) << f.name;
  }
}

// With importance weights the group scales minimise the weighted error: never more weighted error
// than plain rounding, and clearly less where a few columns dominate (as a few input channels do in
// real activations).
TEST(Rtn, ImportanceWeightsLowerTheWeightedError) {
  FloatTensor t = make("w", {64, 256}, 7);
  std::vector<float> importance(256);
  for (size_t c = 0; c < importance.size(); ++c) importance[c] = c % 16 == 0 ? 100.0f : 1.0f;
  auto weighted_error = [&](const QuantizedTensor& q) {
    std::vector<float> back(t.values.size());
    dequantize_rows(view_of(q), 0, q.geom.rows, back.data());
    double e = 0;
    for (size_t i = 0; i < back.size(); ++i) {
      const double d = back[i] - t.values[i];
      e += importance[i % 256] * d * d;
    }
    return e;
  };
  for (const auto& f : quant_formats()) {
    const QuantizeOptions opt{&f, 32, ClipMethod::Mse, 1};
    const double e_plain = weighted_error(quantize_rtn(t, opt)), e_weighted = weighted_error(quantize_rtn(t, opt, importance));
    EXPECT_LE(e_weighted, e_plain) << f.name;
    if (f.bits <= 4) {
      EXPECT_LT(e_weighted, 0.9 * e_plain) << f.name;
    }
  }
  const std::vector<float> wrong(100, 1.0f);
  EXPECT_THROW(quantize_rtn(t, {&quant_formats()[0], 32, ClipMethod::Mse, 1}, wrong), ValueError);
}

TEST(Rtn, ErrorShrinksWithWidth) {
  FloatTensor t = make("w", {32, 256}, 9);
  double prev = 1e9;
  for (int bits : format_widths()) {
    QuantizedTensor q = quantize_rtn(t, {find_quant_format(bits, false), 128, ClipMethod::Mse, 1});
    std::vector<float> back(t.values.size());
    dequantize_rows(view_of(q), 0, q.geom.rows, back.data());
    double e = weight_error(t.values.data(), back.data(), back.size()).rel_rmse;
    EXPECT_LT(e, prev) << bits;
    prev = e;
  }
  EXPECT_LT(prev, 0.01);  // int8
}

TEST(Rtn, ThreadCountDoesNotChangeTheResult) {
  FloatTensor t = make("w", {37, 130}, 3);
  auto a = quantize_rtn(t, {find_quant_format(3, false), 32, ClipMethod::Mse, 1});
  auto b = quantize_rtn(t, {find_quant_format(3, false), 32, ClipMethod::Mse, 2});
  EXPECT_EQ(a.codes, b.codes);
  EXPECT_EQ(a.scales, b.scales);
  EXPECT_EQ(a.zero_points, b.zero_points);
}

TEST(Rtn, ConstantAndZeroGroups) {
  FloatTensor t{"c", {2, 64}, std::vector<float>(128, 0.0f)};
  for (int i = 64; i < 128; ++i) t.values[i] = 0.25f;
  for (const auto& f : quant_formats()) {
    QuantizedTensor q = quantize_rtn(t, {&f, 32, ClipMethod::Mse, 1});
    std::vector<float> back(128);
    dequantize_rows(view_of(q), 0, 2, back.data());
    for (int i = 0; i < 128; ++i) EXPECT_NEAR(back[i], t.values[i], 1e-3) << f.name << " " << i;
  }
}

TEST(Rtn, RefusesNonFiniteWeightsNamingTheTensor) {
  FloatTensor t = make("encoder.layer.3.attention.self.key.weight", {4, 32}, 1);
  t.values[77] = NAN;
  try {
    quantize_rtn(t, {find_quant_format(4, false), 32, ClipMethod::Mse, 1});
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.layer.3.attention.self.key.weight"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("77"), std::string::npos);
  }
  t.values[77] = INFINITY;
  EXPECT_THROW(quantize_rtn(t, {find_quant_format(2, true), 32, ClipMethod::Mse, 1}), ValueError);
}

TEST(Rtn, ShapeMismatchIsAnError) {
  FloatTensor t{"w", {4, 8}, std::vector<float>(31)};
  EXPECT_THROW(quantize_rtn(t, {find_quant_format(4, false), 32, ClipMethod::Mse, 1}), ValueError);
}

// A half-offset grid has no level at zero: every value lands on ±(k + 1/2) scales, symmetric about
// zero; on symmetric (Gaussian-like) groups it beats the symmetric integer grid at 2 bits, whose
// levels -2, -1, 0, 1 waste one on a lopsided side.
TEST(Rtn, HalfOffsetGridIsSymmetricAndFitsSymmetricWeightsBetterAtTwoBits) {
  FloatTensor t = make("w", {64, 256}, 21);
  const QuantFormat& half = *find_quant_format(2, true, true);
  QuantizedTensor q = quantize_rtn(t, {&half, 64, ClipMethod::Mse, 1});
  EXPECT_TRUE(q.zero_points.empty());
  const std::vector<float> back = dequantize(q);
  for (int64_t r = 0; r < q.geom.rows; ++r)
    for (int64_t c = 0; c < q.geom.cols; ++c) {
      const float s = scale_at(q, size_t(r * q.geom.groups_per_row() + c / 64));
      const float k = back[size_t(r * 256 + c)] / s;
      ASSERT_TRUE(k == -1.5f || k == -0.5f || k == 0.5f || k == 1.5f) << k;
    }
  auto err = [&](const QuantFormat& f) {
    const std::vector<float> b = dequantize(quantize_rtn(t, {&f, 64, ClipMethod::Mse, 1}));
    return weight_error(t.values.data(), b.data(), b.size()).rel_rmse;
  };
  EXPECT_LT(err(half), 0.95 * err(*find_quant_format(2, true)));
}

// The lattice format on Gaussian weights (what rotated weights are): less error than the best scalar
// 2-bit levels at the same size (the header's 22 % less squared error, less the group scales' own
// fit), every vector the nearest point at its group's scale; rows that are not whole vectors refused.
TEST(Rtn, LatticeBeatsTheScalarTwoBitLevelsOnGaussianWeights) {
  std::mt19937 rng(9);
  std::normal_distribution<float> n(0.0f, 0.02f);
  FloatTensor t{"w", {64, 512}, std::vector<float>(64 * 512)};
  for (float& v : t.values) v = n(rng);
  double err[2];
  for (int i = 0; i < 2; ++i) {
    const QuantFormat& f = format_of(i == 0 ? FormatId::Gauss2 : FormatId::Lattice2);
    QuantizedTensor q = quantize_rtn(t, {&f, 64, ClipMethod::Mse, 2});
    EXPECT_EQ(q.codes.size(), size_t(64 * 512 / 4)) << f.name;  // both 2 bits per weight
    std::vector<float> back = dequantize(q);
    err[i] = weight_error(t.values.data(), back.data(), back.size()).rel_rmse;
    if (f.lattice())
      for (int64_t v = 0; v < 64 * 512; v += 8 * 97) {  // a sample of vectors: each is the nearest point
        const float s = scale_at(q, size_t(v / 64));
        float x[8];
        for (int k = 0; k < 8; ++k) x[k] = t.values[size_t(v + k)] / s;
        int8_t l[8];
        lattice::decode(lattice::nearest(x), l);
        for (int k = 0; k < 8; ++k) EXPECT_EQ(back[size_t(v + k)], s * float(l[k])) << v;
      }
  }
  EXPECT_LT(err[1], 0.92 * err[0]) << "lattice " << err[1] << " vs gauss2 " << err[0];
  FloatTensor odd = make("odd", {4, 172}, 3);
  EXPECT_THROW(quantize_rtn(odd, {&format_of(FormatId::Lattice2), 32, ClipMethod::Mse, 1}), ValueError);
}
