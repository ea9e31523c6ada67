// fp8 E4M3 round-trips every code, saturates and keeps subnormals.
#include "util/fp8.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace arrowquant;

TEST(Fp8, Fp8E4M3RoundTripsEveryCode) {
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7F) == 0x7F) continue;  // NaN
    float f = fp8_e4m3_to_float(uint8_t(c));
    EXPECT_EQ(fp8_e4m3_from_float(f), uint8_t(c)) << c << " " << f;
  }
  EXPECT_EQ(fp8_e4m3_to_float(0x7E), 448.0f);
  EXPECT_EQ(fp8_e4m3_from_float(1e6f), 0x7E);                   // saturates
  EXPECT_EQ(fp8_e4m3_to_float(fp8_e4m3_from_float(0.3f)), 0.3125f);
  EXPECT_EQ(fp8_e4m3_to_float(0x01), std::ldexp(1.0f, -9));    // smallest subnormal
}
