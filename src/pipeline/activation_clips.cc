#include "pipeline/activation_clips.h"

#include <algorithm>
#include <cmath>

#include "arrowquant/error.h"

namespace arrowquant {

namespace {

// Values kept per Linear and group: past twice this, every other one is dropped and the stride doubles.
constexpr size_t kSampleCap = size_t(1) << 17;
// Clips tried, as fractions of the group's largest |x|.
constexpr int kCandidates = 24;
constexpr float kSmallestFraction = 0.2f;

// Σ (|x| − q(|x|))² for symmetric int8 rounding at `clip`.
double rounding_error(const std::vector<float>& v, float clip) {
  const float step = clip / 127.0f, inv = 127.0f / clip;
  double e = 0;
  for (float a : v) {
    const float q = step * std::nearbyint(std::min(a * inv, 127.0f));
    e += double(a - q) * double(a - q);
  }
  return e;
}

}  // namespace

ActivationClipObserver::ActivationClipObserver(int64_t groups) : groups_(groups) {
  if (groups < 1) throw Error("internal: time groups must be at least 1");
}

void ActivationClipObserver::observe(const Linear& l, const float* x, int64_t n) {
  auto& gs = by_linear_[l.name];
  if (gs.empty()) gs.resize(size_t(groups_));
  Group& g = gs.at(size_t(group_));
  for (int64_t i = 0; i < n * l.in; ++i) {
    const float a = std::fabs(x[i]);
    if (std::isfinite(a)) g.max_abs = std::max(g.max_abs, a);
    if (g.seen++ % g.stride == 0) g.sample.push_back(a);
    if (g.sample.size() >= 2 * kSampleCap) {
      for (size_t j = 0; j < g.sample.size() / 2; ++j) g.sample[j] = g.sample[2 * j];
      g.sample.resize(g.sample.size() / 2);
      g.stride *= 2;
    }
  }
}

std::map<std::string, std::vector<float>> ActivationClipObserver::clips() const {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, gs] : by_linear_) {
    std::vector<float> c(size_t(groups_), 0.0f);
    for (size_t k = 0; k < gs.size(); ++k) {
      const Group& g = gs[k];
      if (g.sample.empty() || !(g.max_abs > 0)) continue;
      double best = HUGE_VAL;
      for (int i = 0; i < kCandidates; ++i) {
        const float f = 1.0f - (1.0f - kSmallestFraction) * float(i) / float(kCandidates - 1);
        const double e = rounding_error(g.sample, g.max_abs * f);
        if (e < best) best = e, c[k] = g.max_abs * f;
      }
    }
    // Groups without states (or all-zero inputs): the nearest group's clip; 1 when none has one.
    for (size_t k = 0; k < c.size(); ++k) {
      if (c[k] > 0) continue;
      for (size_t d = 1; d < c.size() && c[k] <= 0; ++d) {
        if (k >= d && gs[k - d].max_abs > 0 && c[k - d] > 0) c[k] = c[k - d];
        else if (k + d < c.size() && c[k + d] > 0 && gs[k + d].max_abs > 0) c[k] = c[k + d];
      }
      if (c[k] <= 0) c[k] = 1.0f;
    }
    out[name] = std::move(c);
  }
  return out;
}

std::map<std::string, std::vector<double>> ActivationClipObserver::code_entropies() const {
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, gs] : by_linear_) {
    std::vector<double> e(size_t(groups_), -1.0);
    for (size_t k = 0; k < gs.size(); ++k) {
      const Group& g = gs[k];
      if (g.sample.empty() || !(g.max_abs > 0)) continue;
      std::vector<double> counts(128, 0.0);
      const float inv = 127.0f / g.max_abs;
      for (float a : g.sample) counts[size_t(std::nearbyint(std::min(a * inv, 127.0f)))] += 1;
      double h = 0;
      for (double c : counts)
        if (c > 0) h -= c / double(g.sample.size()) * std::log2(c / double(g.sample.size()));
      e[k] = h;
    }
    out[name] = std::move(e);
  }
  return out;
}

}  // namespace arrowquant
