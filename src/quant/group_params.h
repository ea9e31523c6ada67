// Choosing one group's scale and zero point, and the code of a value under them. Shared by
// round-to-nearest, GPTQ and AWQ so that every method stores exactly what dequantisation reads.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "arrowquant/quant_format.h"
#include "arrowquant/quant_options.h"
#include "arrowquant/dtype.h"
#include "arrowquant/tensor.h"

namespace arrowquant {

// Scale and zero point of one group, with the scale already rounded to float16 (the stored value),
// so that codes are chosen against exactly what dequantisation will use.
struct GroupParams {
  uint16_t scale_f16 = 0;
  float scale = 0;
  int zero = 0;
};

inline GroupParams make_params(float scale, float lo, const QuantFormat& f) {
  GroupParams p;
  p.scale_f16 = f32_to_f16(scale);
  p.scale = f16_to_f32(p.scale_f16);
  if (f.symmetric) {
    p.zero = f.mid_code();
  } else if (p.scale > 0) {
    p.zero = std::clamp(int(std::lround(-lo / p.scale)), 0, f.max_code());
  }
  return p;
}

inline int code_of(float x, const GroupParams& p, int max_code) {
  if (p.scale <= 0) return p.zero;
  return std::clamp(int(std::nearbyint(x / p.scale)) + p.zero, 0, max_code);
}

inline double group_sq_error(const float* x, int64_t n, const GroupParams& p, int max_code) {
  double err = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float d = x[i] - p.scale * float(code_of(x[i], p, max_code) - p.zero);
    err += double(d) * d;
  }
  return err;
}

inline GroupParams choose_params(const float* x, int64_t n, const QuantFormat& f, ClipMethod clip) {
  float lo = 0, hi = 0;  // affine ranges always include zero so the zero point is a valid code
  for (int64_t i = 0; i < n; ++i) { lo = std::min(lo, x[i]); hi = std::max(hi, x[i]); }
  const int qmax = f.max_code();
  auto candidate = [&](float shrink, int sym_denominator) {
    if (f.symmetric) {
      const float amax = std::max(-lo, hi) * shrink;
      return make_params(amax / float(sym_denominator), 0, f);
    }
    return make_params((hi - lo) * shrink / float(qmax), lo * shrink, f);
  };
  // Symmetric codes run from -mid to mid-1: try the scale that maps the largest magnitude to -mid
  // and the one that maps it to mid-1 (which one fits better depends on the sign of the extreme).
  const int den_a = f.mid_code(), den_b = std::max(1, f.mid_code() - 1);
  GroupParams best = candidate(1.0f, den_a);
  if (clip == ClipMethod::MinMax && !f.symmetric) return best;
  double best_err = group_sq_error(x, n, best, qmax);
  const int steps = clip == ClipMethod::Mse ? 20 : 1;
  for (int den : {den_a, den_b}) {
    for (int s = 0; s < steps; ++s) {
      const float shrink = 1.0f - 0.025f * float(s);
      GroupParams p = candidate(shrink, den);
      double e = group_sq_error(x, n, p, qmax);
      if (e < best_err) { best_err = e; best = p; }
    }
  }
  return best;
}

inline float dequant_value(int code, const GroupParams& p) { return p.scale * float(code - p.zero); }

}  // namespace arrowquant
