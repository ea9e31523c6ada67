// Next-token choice: greedy at temperature 0, otherwise temperature, top-k, top-p (nucleus), then a
// draw from a seeded generator, so a seed reproduces a run exactly.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace arrowquant {

class Sampler {
 public:
  Sampler(float temperature, int top_k, float top_p, uint64_t seed);
  int32_t sample(const float* logits, int64_t n);

 private:
  float temperature_, top_p_;
  int top_k_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> cand_;
};

int32_t argmax(const float* v, int64_t n);

}  // namespace arrowquant
