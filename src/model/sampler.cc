#include "model/sampler.h"

#include <algorithm>
#include <cmath>

#include "arrowquant/error.h"

namespace arrowquant {

int32_t argmax(const float* v, int64_t n) { return int32_t(std::max_element(v, v + n) - v); }

Sampler::Sampler(float temperature, int top_k, float top_p, uint64_t seed)
    : temperature_(temperature), top_p_(top_p), top_k_(top_k), rng_(seed) {
  if (temperature < 0 || !std::isfinite(temperature)) throw ValueError("temperature must be ≥ 0");
  if (top_k < 0) throw ValueError("top-k must be ≥ 0 (0 = no limit)");
  if (!(top_p > 0 && top_p <= 1)) throw ValueError("top-p must be in (0, 1]");
}

int32_t Sampler::sample(const float* logits, int64_t n) {
  if (temperature_ == 0) return argmax(logits, n);
  cand_.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) cand_[size_t(i)] = {logits[i] / temperature_, int32_t(i)};
  size_t keep = top_k_ > 0 ? std::min<size_t>(size_t(top_k_), cand_.size()) : cand_.size();
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  std::partial_sort(cand_.begin(), cand_.begin() + int64_t(keep), cand_.end(), by_logit);
  cand_.resize(keep);
  const float mx = cand_[0].first;
  double sum = 0;
  for (auto& c : cand_) sum += (c.first = std::exp(c.first - mx));
  // Nucleus: the smallest prefix whose probability reaches top_p.
  double cum = 0;
  size_t nucleus = cand_.size();
  for (size_t i = 0; i < cand_.size(); ++i) {
    cum += cand_[i].first / sum;
    if (cum >= top_p_) {
      nucleus = i + 1;
      break;
    }
  }
  cand_.resize(nucleus);
  double total = 0;
  for (const auto& c : cand_) total += c.first;
  double r = std::uniform_real_distribution<double>(0.0, total)(rng_);
  for (const auto& c : cand_) {
    r -= c.first;
    if (r <= 0) return c.second;
  }
  return cand_.back().second;
}

}  // namespace arrowquant
