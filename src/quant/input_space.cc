#include "quant/input_space.h"

#include "arrowquant/error.h"
#include "util/thread_pool.h"

namespace arrowquant {

FloatTensor rotated_weight(const FloatTensor& w, const InputRotation& r) {
  const int64_t cols = w.shape.empty() ? 1 : w.shape.back();
  const PreparedRotation rot(r, cols);
  FloatTensor out = w;
  const int64_t rows = cols ? int64_t(out.values.size()) / cols : 0;
  parallel_for(rows, rows * cols >= (int64_t(1) << 16) ? 0 : 1,
               [&](int64_t r0, int64_t r1) { rot.rotate(out.values.data() + r0 * cols, r1 - r0); });
  return out;
}

Hessian rotated_hessian(const Hessian& h, const InputRotation& r) {
  const int64_t d = h.dim;
  const PreparedRotation rot(r, d);
  std::vector<double> m = h.symmetric();
  // Rows rotated: M = H·Rᵀ. M is not symmetric; its transpose is R·H, whose rows rotated give R·H·Rᵀ.
  rot.rotate(m.data(), d);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = i + 1; j < d; ++j) std::swap(m[size_t(i * d + j)], m[size_t(j * d + i)]);
  rot.rotate(m.data(), d);
  Hessian out;
  out.dim = d;
  out.tokens = h.tokens;
  out.h = std::move(m);
  return out;
}

std::vector<float> stored_input_mean_square(const Hessian& h, const InputRotation& r) {
  return r.is_none() ? h.mean_square() : rotated_hessian(h, r).mean_square();
}

}  // namespace arrowquant
