// How far an approximation is from the weights it stands for, and the finiteness check every
// quantiser makes first.
#pragma once
#include <cstddef>
#include <cstdint>

namespace arrowquant {

// Weight error of an approximation: ||a-b|| / ||a|| and cos(a, b).
struct WeightError {
  double rel_rmse = 0, cosine = 1;
};
WeightError weight_error(const float* reference, const float* approx, size_t n);

// Index of the first NaN or Inf, or -1.
int64_t first_nonfinite(const float* v, size_t n);

}  // namespace arrowquant
