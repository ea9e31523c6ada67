#include "model/time_group_activations.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "arrowquant/error.h"

namespace arrowquant {

namespace {
// The groups of the images of the forward pass running on this thread (null: none).
thread_local const std::vector<int64_t>* current_groups = nullptr;
}  // namespace

TimeGroupActivations::TimeGroupActivations(TimeGroupClips clips) : clips_(std::move(clips)) {}

TimeGroupActivations::Batch::Batch(const TimeGroupActivations& a, const std::vector<float>& timesteps)
    : saved_(current_groups) {
  for (float t : timesteps) groups_.push_back(a.clips_.group_of(t));
  current_groups = &groups_;
}

TimeGroupActivations::Batch::~Batch() { current_groups = saved_; }

void TimeGroupActivations::quantize(const Linear& l, const float* x, int64_t n, float* out) const {
  auto it = clips_.clips.find(l.name);
  if (!current_groups || it == clips_.clips.end() || current_groups->empty()) {
    std::copy(x, x + n * l.in, out);
    return;
  }
  const int64_t images = int64_t(current_groups->size());
  if (n % images != 0)
    throw Error("internal: " + l.name + " sees " + std::to_string(n) + " rows for " + std::to_string(images) + " images");
  const int64_t rows_per_image = n / images;
  for (int64_t r = 0; r < n; ++r) {
    const float clip = it->second[size_t((*current_groups)[size_t(r / rows_per_image)])];
    const float step = clip / 127.0f, inv = 127.0f / clip;
    const float* xr = x + r * l.in;
    float* o = out + r * l.in;
    for (int64_t c = 0; c < l.in; ++c) o[c] = step * std::nearbyint(std::clamp(xr[c] * inv, -127.0f, 127.0f));
  }
}

void attach_time_group_activations(const std::shared_ptr<const TimeGroupActivations>& a,
                                   const std::vector<Linear*>& linears, const std::string& file) {
  std::set<std::string> named;
  for (Linear* l : linears)
    if (a->clips().clips.count(l->name)) {
      l->input_quantizer = a;
      named.insert(l->name);
    }
  for (const auto& [name, clips] : a->clips().clips)
    if (!named.count(name))
      throw FormatError(file + ": metadata key time_groups has clips for " + name + ", which this model has no Linear of");
}

}  // namespace arrowquant
