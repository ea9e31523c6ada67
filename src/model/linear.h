// A fully connected layer y = x·Wᵀ + b as the model code sees it. Today it keeps the weight in
// float32 (dequantised once at load); the packed low-bit kernels slot in behind forward().
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/model_weights.h"

namespace arrowquant {

struct Linear {
  int64_t in = 0, out = 0;
  std::vector<float> weight;  // [out, in]
  std::vector<float> bias;    // [out] or empty

  // Loads `<prefix>.weight` (and `<prefix>.bias` when with_bias), checking shapes.
  static Linear load(const ModelWeights& w, const std::string& prefix, int64_t out, int64_t in,
                     bool with_bias);
  // y[n, out] = x[n, in]·Wᵀ + b
  void forward(const float* x, int64_t n, float* y) const;
};

}  // namespace arrowquant
