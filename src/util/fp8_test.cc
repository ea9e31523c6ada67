// fp8 E4M3 and E5M2: every code round-trips, rounding is to the nearest value (ties to even) over a
// dense sweep of floats, values saturate, subnormals are kept, NaN stays NaN.
#include "util/fp8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

using namespace arrowquant;

namespace {
struct Type {
  const char* name;
  uint8_t (*from)(float);
  float (*to)(uint8_t);
  float max;
};
const Type kTypes[] = {{"e4m3", fp8_e4m3_from_float, fp8_e4m3_to_float, 448.0f},
                       {"e5m2", fp8_e5m2_from_float, fp8_e5m2_to_float, 57344.0f}};
}  // namespace

TEST(Fp8, EveryFiniteCodeRoundTrips) {
  for (const Type& t : kTypes)
    for (int c = 0; c < 256; ++c) {
      const float f = t.to(uint8_t(c));
      if (!std::isfinite(f)) continue;
      if (c == 0x80) {  // -0 encodes as -0
        EXPECT_EQ(t.from(f), 0x80) << t.name;
        continue;
      }
      EXPECT_EQ(t.from(f), uint8_t(c)) << t.name << " code " << c << " value " << f;
    }
}

// The nearest finite value, ties to the code with an even mantissa, by brute force over the codes.
TEST(Fp8, RoundsToNearestEven) {
  for (const Type& t : kTypes) {
    std::vector<float> values;
    for (int c = 0; c < 128; ++c)
      if (std::isfinite(t.to(uint8_t(c)))) values.push_back(t.to(uint8_t(c)));
    for (float x = 0; x < t.max * 1.01f; x = x < 1e-6f ? x + 1e-7f : x * 1.0007f) {
      for (float probe : {x, -x}) {
        const float got = t.to(t.from(probe));
        float best = values[0];
        int best_code = 0;
        for (size_t c = 0; c < values.size(); ++c) {
          const float d = std::fabs(std::fabs(probe) - values[c]), db = std::fabs(std::fabs(probe) - best);
          if (d < db || (d == db && (c & 1) == 0 && (best_code & 1) == 1)) { best = values[c]; best_code = int(c); }
        }
        ASSERT_EQ(std::fabs(got), best) << t.name << " " << probe;
        if (probe != 0) ASSERT_EQ(std::signbit(got), std::signbit(probe)) << t.name << " " << probe;
      }
    }
    // exact ties: halfway between two codes goes to the even one
    for (int c = 1; c + 1 < int(values.size()); ++c) {
      const float mid = (values[size_t(c)] + values[size_t(c + 1)]) / 2;
      EXPECT_EQ(t.to(t.from(mid)), values[size_t(c % 2 == 0 ? c : c + 1)]) << t.name << " tie at " << mid;
    }
  }
}

TEST(Fp8, SaturatesAndKeepsSubnormalsAndNaN) {
  EXPECT_EQ(fp8_e4m3_to_float(0x7E), 448.0f);
  EXPECT_EQ(fp8_e4m3_from_float(1e6f), 0x7E);
  EXPECT_EQ(fp8_e4m3_from_float(-INFINITY), 0xFE);
  EXPECT_EQ(fp8_e4m3_to_float(fp8_e4m3_from_float(0.3f)), 0.3125f);
  EXPECT_EQ(fp8_e4m3_to_float(0x01), std::ldexp(1.0f, -9));
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_float(fp8_e4m3_from_float(std::nanf("")))));
  EXPECT_EQ(fp8_e5m2_to_float(0x7B), 57344.0f);
  EXPECT_EQ(fp8_e5m2_from_float(1e9f), 0x7B);
  EXPECT_EQ(fp8_e5m2_from_float(INFINITY), 0x7B);
  EXPECT_EQ(fp8_e5m2_to_float(0x01), std::ldexp(1.0f, -16));
  EXPECT_EQ(fp8_e5m2_to_float(0x7C), INFINITY);
  EXPECT_TRUE(std::isnan(fp8_e5m2_to_float(fp8_e5m2_from_float(std::nanf("")))));
  // E5M2 is the top byte of a float16
  EXPECT_EQ(fp8_e5m2_to_float(0x3C), 1.0f);
  EXPECT_EQ(fp8_e5m2_to_float(0xC1), -2.5f);
}
