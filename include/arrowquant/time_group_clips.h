// Static int8 activation ranges of a diffusion model, one per group of denoising timesteps
// (TDQ/TFMQ-style time-aware activation quantisation): a Linear's input distribution moves with the
// timestep, so one static range for all of them either clips the wide timesteps or wastes levels on
// the narrow ones. The timesteps [0, train_timesteps) are cut into `groups` equal ranges; each Linear
// has one clip per group (its input is clamped to ±clip and rounded to 255 levels, scale clip/127),
// chosen on the states of the model's own trajectories. Stored in the Parquet V2 metadata
// (key time_groups); a runtime picks the group from the timestep of each image it denoises.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace arrowquant {

struct TimeGroupClips {
  int64_t train_timesteps = 0;                       // the schedule's num_train_timesteps
  int64_t groups = 0;                                // 0: the model has none
  std::map<std::string, std::vector<float>> clips;   // Linear name -> clip per group (> 0)

  bool empty() const { return groups == 0; }
  // The group of timestep t (clamped into [0, train_timesteps)).
  int64_t group_of(double t) const;
  // {"train_timesteps", "groups", "clips": {name: [clip per group]}}.
  nlohmann::json to_json() const;
  // FormatError naming `where` and the field for anything missing, mistyped or out of range.
  static TimeGroupClips from_json(const nlohmann::json& j, const std::string& where);
};

}  // namespace arrowquant
