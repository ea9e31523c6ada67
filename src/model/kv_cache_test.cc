// The KV cache stores: f32 exact, f16 to half precision, int8 and fp8 within their step of each
// block's scale; sizes as the plan says; block sizes that do not divide a head refused.
#include "model/kv_cache.h"

#include <gtest/gtest.h>

#include <cmath>

#include "arrowquant/error.h"
#include "test_util.h"

using namespace arrowquant;

namespace {
// Largest |stored - written| over a row, relative to the row's largest magnitude.
double round_trip_error(const KVQuantPlan& plan, const std::vector<float>& row, int64_t head_dim) {
  const int64_t width = int64_t(row.size());
  KVStore s(plan, width, head_dim, 4);
  s.write(2, row.data());
  std::vector<float> back(row.size());
  s.read(2, 0, width, back.data());
  double err = 0, mag = 0;
  for (size_t i = 0; i < row.size(); ++i) {
    err = std::max(err, double(std::fabs(back[i] - row[i])));
    mag = std::max(mag, double(std::fabs(row[i])));
  }
  return err / mag;
}
}  // namespace

TEST(KVCache, EveryTypeRoundTripsWithinItsPrecision) {
  const std::vector<float> row = aqtest::random_floats(128, 5, 2.0f);  // 2 heads of 64
  EXPECT_EQ(round_trip_error(KVQuantPlan::parse("f32"), row, 64), 0.0);
  EXPECT_LE(round_trip_error(KVQuantPlan::parse("f16"), row, 64), 1e-3);
  EXPECT_LE(round_trip_error(KVQuantPlan::parse("int8"), row, 64), 0.5 / 127 + 1e-6);  // half a step
  EXPECT_LE(round_trip_error(KVQuantPlan::parse("int8", 16, true), row, 64), 0.5 / 127 + 1e-3);
  EXPECT_LE(round_trip_error(KVQuantPlan::parse("fp8"), row, 64), 1.0 / 16 + 1e-6);  // 3 mantissa bits
}

TEST(KVCache, SizesFollowThePlan) {
  const int64_t width = 128, head = 64, cap = 10;
  EXPECT_EQ(KVStore(KVQuantPlan::parse("f32"), width, head, cap).bytes(), size_t(width * cap * 4));
  EXPECT_EQ(KVStore(KVQuantPlan::parse("f16"), width, head, cap).bytes(), size_t(width * cap * 2));
  // int8: one byte per value and one fp32 scale per head (default block) per position
  EXPECT_EQ(KVStore(KVQuantPlan::parse("int8"), width, head, cap).bytes(), size_t(width * cap + 2 * cap * 4));
  EXPECT_EQ(KVStore(KVQuantPlan::parse("fp8", 32, true), width, head, cap).bytes(), size_t(width * cap + 4 * cap * 2));
  EXPECT_THROW(KVStore(KVQuantPlan::parse("int8", 48), width, head, cap), ValueError);  // 48 does not divide 64
  EXPECT_THROW(KVQuantPlan::parse("int4"), ValueError);
  EXPECT_EQ(KVQuantPlan::parse("fp8").name(), "fp8_e4m3");
}
