#include "arrowquant/time_group_clips.h"

#include <algorithm>
#include <cmath>

#include "arrowquant/error.h"

namespace arrowquant {

namespace {
// More groups than this would give each only a timestep or two of calibration states.
constexpr int64_t kMaxGroups = 1000;
}  // namespace

int64_t TimeGroupClips::group_of(double t) const {
  if (groups <= 0 || train_timesteps <= 0) return 0;
  const double g = std::floor(t * double(groups) / double(train_timesteps));
  return std::clamp<int64_t>(int64_t(std::isfinite(g) ? g : 0), 0, groups - 1);
}

nlohmann::json TimeGroupClips::to_json() const {
  nlohmann::json c = nlohmann::json::object();
  for (const auto& [name, v] : clips) c[name] = v;
  return {{"train_timesteps", train_timesteps}, {"groups", groups}, {"clips", c}};
}

TimeGroupClips TimeGroupClips::from_json(const nlohmann::json& j, const std::string& where) {
  auto bad = [&](const std::string& what) { return FormatError(where + ": " + what); };
  if (!j.is_object()) throw bad("must be an object {\"train_timesteps\", \"groups\", \"clips\"}");
  TimeGroupClips t;
  for (const char* k : {"train_timesteps", "groups"}) {
    auto it = j.find(k);
    if (it == j.end()) throw bad(std::string("missing field ") + k);
    if (!it->is_number_integer() || it->get<int64_t>() < 1)
      throw bad(std::string("field ") + k + " must be a positive integer (got " + it->dump() + ")");
  }
  t.train_timesteps = j["train_timesteps"].get<int64_t>();
  t.groups = j["groups"].get<int64_t>();
  if (t.groups > kMaxGroups || t.groups > t.train_timesteps)
    throw bad("field groups is " + std::to_string(t.groups) + ": at most " + std::to_string(kMaxGroups) +
              " and at most train_timesteps (" + std::to_string(t.train_timesteps) + ")");
  auto it = j.find("clips");
  if (it == j.end()) throw bad("missing field clips");
  if (!it->is_object() || it->empty()) throw bad("field clips must be a non-empty object {Linear name: [clip per group]}");
  for (const auto& [name, v] : it->items()) {
    if (!v.is_array() || int64_t(v.size()) != t.groups)
      throw bad("clips of " + name + " must be an array of " + std::to_string(t.groups) + " numbers");
    std::vector<float> c;
    for (const auto& x : v) {
      if (!x.is_number() || !std::isfinite(x.get<double>()) || x.get<double>() <= 0)
        throw bad("clips of " + name + " must be finite and positive (got " + x.dump() + ")");
      c.push_back(x.get<float>());
    }
    t.clips[name] = std::move(c);
  }
  return t;
}

}  // namespace arrowquant
