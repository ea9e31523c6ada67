#include "quant/weight_error.h"

#include <cmath>

namespace arrowquant {

int64_t first_nonfinite(const float* v, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) return int64_t(i);
  return -1;
}

WeightError weight_error(const float* a, const float* b, size_t n) {
  double dd = 0, aa = 0, bb = 0, ab = 0;
  for (size_t i = 0; i < n; ++i) {
    const double x = a[i], y = b[i];
    dd += (x - y) * (x - y);
    aa += x * x;
    bb += y * y;
    ab += x * y;
  }
  WeightError e;
  e.rel_rmse = aa > 0 ? std::sqrt(dd / aa) : (dd > 0 ? 1.0 : 0.0);
  e.cosine = (aa > 0 && bb > 0) ? ab / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
  return e;
}

}  // namespace arrowquant
