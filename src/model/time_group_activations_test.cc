// Static int8 rounding by timestep group: each image's rows take its group's clip, values are
// clamped to ±clip and land on clip/127 steps; outside a batch, and for Linears without clips,
// inputs pass unchanged.
#include "model/time_group_activations.h"

#include <gtest/gtest.h>

#include <cmath>

#include "arrowquant/error.h"

using namespace arrowquant;

TEST(TimeGroupActivations, EachImageRoundsToItsGroupsClip) {
  TimeGroupClips c;
  c.train_timesteps = 1000;
  c.groups = 2;
  c.clips = {{"lin", {1.0f, 4.0f}}};
  const TimeGroupActivations a(c);
  Linear l;
  l.name = "lin";
  l.in = 3;
  const std::vector<float> x = {0.3f, -2.0f, 0.011f,  // image 0 (t = 100: group 0, clip 1)
                                0.3f, -5.0f, 0.011f};  // image 1 (t = 900: group 1, clip 4)
  std::vector<float> out(6);
  a.quantize(l, x.data(), 2, out.data());  // no batch: unchanged
  EXPECT_EQ(out, x);
  {
    const TimeGroupActivations::Batch batch(a, {100.0f, 900.0f});
    a.quantize(l, x.data(), 2, out.data());
    EXPECT_FLOAT_EQ(out[0], std::nearbyint(0.3f * 127) / 127);
    EXPECT_FLOAT_EQ(out[1], -1.0f);  // clamped
    EXPECT_FLOAT_EQ(out[2], 1.0f / 127);
    EXPECT_FLOAT_EQ(out[3], 4.0f * std::nearbyint(0.3f / 4 * 127) / 127);
    EXPECT_FLOAT_EQ(out[4], -4.0f);
    EXPECT_FLOAT_EQ(out[5], 0.0f);  // below half a step of 4/127
    Linear other = l;
    other.name = "other";
    a.quantize(other, x.data(), 2, out.data());
    EXPECT_EQ(out, x);
    EXPECT_THROW(a.quantize(l, x.data(), 1, out.data()), Error);  // 1 row for 2 images
  }
  a.quantize(l, x.data(), 2, out.data());
  EXPECT_EQ(out, x);
}

TEST(TimeGroupActivations, ClipsForALinearTheModelHasNotAreRefused) {
  TimeGroupClips c;
  c.train_timesteps = 1000;
  c.groups = 1;
  c.clips = {{"lin", {1.0f}}, {"missing", {1.0f}}};
  Linear l;
  l.name = "lin";
  try {
    attach_time_group_activations(std::make_shared<const TimeGroupActivations>(c), {&l}, "m.parquet");
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
}
