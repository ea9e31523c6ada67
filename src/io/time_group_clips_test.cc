// Static activation clips per timestep group: JSON round trip, the group of a timestep, and a clear
// error for every field that is missing, mistyped or out of range.
#include "arrowquant/time_group_clips.h"

#include <gtest/gtest.h>

#include "arrowquant/error.h"
#include "test_util.h"

using namespace arrowquant;

namespace {

nlohmann::json valid() {
  return {{"train_timesteps", 1000}, {"groups", 4}, {"clips", {{"blocks.0.q", {1.0, 2.0, 3.0, 4.5}}}}};
}

std::string error_of(const nlohmann::json& j) {
  return aqtest::message_of<FormatError>([&] { TimeGroupClips::from_json(j, "f.parquet: metadata key time_groups"); });
}

}  // namespace

TEST(TimeGroupClips, RoundTripsThroughJson) {
  const TimeGroupClips t = TimeGroupClips::from_json(valid(), "here");
  EXPECT_EQ(t.train_timesteps, 1000);
  EXPECT_EQ(t.groups, 4);
  EXPECT_EQ(t.clips.at("blocks.0.q"), (std::vector<float>{1, 2, 3, 4.5f}));
  EXPECT_EQ(t.to_json(), valid());
  EXPECT_TRUE(TimeGroupClips{}.empty());
}

TEST(TimeGroupClips, GroupsCutTheTimestepsEvenly) {
  const TimeGroupClips t = TimeGroupClips::from_json(valid(), "here");
  EXPECT_EQ(t.group_of(0), 0);
  EXPECT_EQ(t.group_of(249), 0);
  EXPECT_EQ(t.group_of(250), 1);
  EXPECT_EQ(t.group_of(999), 3);
  EXPECT_EQ(t.group_of(1000), 3);  // past the schedule: the last group
  EXPECT_EQ(t.group_of(-5), 0);
}

TEST(TimeGroupClips, EveryBadFieldIsAClearError) {
  struct Case {
    const char* why;
    nlohmann::json j;
    const char* says;
  };
  auto with = [](const char* k, nlohmann::json v) {
    nlohmann::json j = valid();
    j[k] = std::move(v);
    return j;
  };
  nlohmann::json no_groups = valid();
  no_groups.erase("groups");
  nlohmann::json no_clips = valid();
  no_clips.erase("clips");
  const Case cases[] = {
      {"not an object", nlohmann::json::array(), "must be an object"},
      {"missing groups", no_groups, "missing field groups"},
      {"missing clips", no_clips, "missing field clips"},
      {"groups not an integer", with("groups", "4"), "field groups must be a positive integer"},
      {"zero timesteps", with("train_timesteps", 0), "field train_timesteps must be a positive integer"},
      {"more groups than timesteps", with("train_timesteps", 3), "at most train_timesteps"},
      {"clips empty", with("clips", nlohmann::json::object()), "non-empty object"},
      {"clips short", with("clips", {{"q", {1.0, 2.0}}}), "clips of q must be an array of 4 numbers"},
      {"clip zero", with("clips", {{"q", {1.0, 0.0, 1.0, 1.0}}}), "clips of q must be finite and positive"},
      {"clip a string", with("clips", {{"q", {1.0, "2", 1.0, 1.0}}}), "clips of q must be finite and positive"},
  };
  for (const Case& c : cases) {
    const std::string e = error_of(c.j);
    EXPECT_NE(e.find(c.says), std::string::npos) << c.why << ": " << e;
    EXPECT_EQ(e.rfind("f.parquet: metadata key time_groups", 0), 0u) << c.why << ": " << e;
  }
}
