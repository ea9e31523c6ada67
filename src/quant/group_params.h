// Choosing one group's scale and zero point, and the code of a value under them. Shared by
// round-to-nearest, GPTQ and AWQ so that every method stores exactly what dequantisation reads.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "arrowquant/error.h"
#include "arrowquant/quant_format.h"
#include "arrowquant/quant_options.h"
#include "arrowquant/dtype.h"
#include "arrowquant/tensor.h"
#include "format/lattice_codebook.h"

namespace arrowquant {

// Scale and zero point of one group, with the scale already rounded to float16 (the stored value),
// so that codes are chosen against exactly what dequantisation will use.
// A value's level is scale · (code − zero + offset): offset is 1/2 on half-offset grids (no level at
// zero), else 0.
// On a codebook format the level is the format's (levels[code] − 128), on a float8 format the code's
// value; zero and offset are unused.
// On a lattice format a weight's "code" is its level + 128 (src/format/pack.h), so zero is 128.
struct GroupParams {
  uint16_t scale_f16 = 0;
  float scale = 0;
  int zero = 0;
  float offset = 0;
  const QuantFormat* codebook = nullptr;
  float level(int code) const { return codebook ? codebook->level_of(code) : float(code - zero) + offset; }
};

inline GroupParams make_params(float scale, float lo, const QuantFormat& f) {
  GroupParams p;
  p.scale_f16 = f32_to_f16(scale);
  p.scale = f16_to_f32(p.scale_f16);
  if (f.codebook() || f.float8()) {
    p.codebook = &f;
  } else if (f.lattice()) {
    p.zero = 128;
  } else if (f.symmetric) {
    p.zero = f.mid_code();
    p.offset = f.half_offset ? 0.5f : 0.0f;
  } else if (p.scale > 0) {
    p.zero = std::clamp(int(std::lround(-lo / p.scale)), 0, f.max_code());
  }
  return p;
}

// The nearest level's code. On a half-offset grid the levels sit at (k + 1/2)·scale, so the nearest
// one is floor(x / scale) (code floor(x / scale) + zero).
inline int code_of(float x, const GroupParams& p, int max_code) {
  if (p.codebook) {
    const float t = p.scale > 0 ? x / p.scale : 0.0f;
    return p.codebook->float8() ? nearest_float8_code(*p.codebook, t) : nearest_codebook_code(*p.codebook, t);
  }
  if (p.scale <= 0) return p.zero;
  const float t = x / p.scale;
  return std::clamp(int(p.offset != 0 ? std::floor(t) : std::nearbyint(t)) + p.zero, 0, max_code);
}

// A lattice format's 8 weights at x: the nearest codebook point at p's scale, each weight's level + 128
// into out (what pack_row takes).
inline void lattice_codes(const float* x, const GroupParams& p, uint8_t* out) {
  float t[lattice::kDim];
  for (int i = 0; i < lattice::kDim; ++i) t[i] = p.scale > 0 ? x[i] / p.scale : 0.0f;
  int8_t l[lattice::kDim];
  lattice::decode(lattice::nearest(t), l);
  for (int i = 0; i < lattice::kDim; ++i) out[i] = uint8_t(l[i] + 128);
}

// A lattice group's codes (n a multiple of 8) and their squared error, each weight's weighted by w[i].
inline double lattice_group(const float* x, const float* w, int64_t n, const GroupParams& p, uint8_t* codes) {
  double err = 0;
  for (int64_t v = 0; v < n; v += lattice::kDim) {
    lattice_codes(x + v, p, codes + v);
    for (int64_t i = v; i < v + lattice::kDim; ++i) {
      const float d = x[i] - p.scale * float(int(codes[i]) - 128);
      err += double(w ? w[i] : 1.0f) * double(d) * d;
    }
  }
  return err;
}

// A lattice group's scale: the Gaussian optimum for the group's RMS (lattice::kGaussianScale), ±10 %,
// whichever has the least (weighted) squared error, then refitted by least squares with its codes
// fixed. Rotated weights are close to Gaussian, so three trials suffice where the scalar grids search
// twenty clip ratios.
inline GroupParams choose_lattice_params(const float* x, const float* w, int64_t n, const QuantFormat& f) {
  // geometry_problem() refuses such a tensor first; a caller that skips it must not write past codes.
  if (n % lattice::kDim != 0)
    throw Error("internal: a lattice group of " + std::to_string(n) + " weights (whole vectors of 8 needed)");
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
  const float rms = float(std::sqrt(ss / double(std::max<int64_t>(n, 1))));
  std::vector<uint8_t> codes(static_cast<size_t>(n)), best_codes(static_cast<size_t>(n));
  GroupParams best = make_params(lattice::kGaussianScale * rms, 0, f);
  double best_err = lattice_group(x, w, n, best, best_codes.data());
  for (float m : {0.9f, 1.1f}) {
    const GroupParams p = make_params(lattice::kGaussianScale * rms * m, 0, f);
    const double e = lattice_group(x, w, n, p, codes.data());
    if (e < best_err) { best_err = e; best = p; best_codes.swap(codes); }
  }
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double l = int(best_codes[size_t(i)]) - 128, wi = w ? w[i] : 1.0;
    num += wi * x[i] * l;
    den += wi * l * l;
  }
  if (den > 0 && num > 0) {
    const GroupParams p = make_params(float(num / den), 0, f);
    if (lattice_group(x, w, n, p, codes.data()) < best_err) best = p;
  }
  return best;
}

// Squared error of a group under p, each value's error weighted by w[i] (w null: all 1).
inline double group_sq_error(const float* x, const float* w, int64_t n, const GroupParams& p, int max_code) {
  double err = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float d = x[i] - p.scale * p.level(code_of(x[i], p, max_code));
    err += double(w ? w[i] : 1.0f) * double(d) * d;
  }
  return err;
}

// With the codes and zero point of p fixed, the scale that minimises the weighted squared error,
// Σw·x·(q−z) / Σw·(q−z)², rounded to float16 as stored; p itself when that is not better.
inline GroupParams refit_scale(const float* x, const float* w, int64_t n, const GroupParams& p, int max_code) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double q = double(p.level(code_of(x[i], p, max_code))), wi = w ? w[i] : 1.0;
    num += wi * x[i] * q;
    den += wi * q * q;
  }
  if (den <= 0 || num <= 0) return p;
  GroupParams r = p;
  r.scale_f16 = f32_to_f16(float(num / den));
  r.scale = f16_to_f32(r.scale_f16);
  return group_sq_error(x, w, n, r, max_code) < group_sq_error(x, w, n, p, max_code) ? r : p;
}

// The group's scale and zero point. With importance weights w (llama.cpp's importance matrix: the
// mean square of each input on calibration data), the clip search minimises the weighted error and
// the scale is then refitted by weighted least squares; w null keeps plain round-to-nearest.
inline GroupParams choose_params(const float* x, const float* w, int64_t n, const QuantFormat& f, ClipMethod clip) {
  if (f.lattice()) return choose_lattice_params(x, w, n, f);
  float lo = 0, hi = 0;  // affine ranges always include zero so the zero point is a valid code
  for (int64_t i = 0; i < n; ++i) { lo = std::min(lo, x[i]); hi = std::max(hi, x[i]); }
  const int qmax = f.max_code();
  auto candidate = [&](float shrink, float sym_denominator) {
    if (f.symmetric) {
      const float amax = std::max(-lo, hi) * shrink;
      return make_params(amax / sym_denominator, 0, f);
    }
    return make_params((hi - lo) * shrink / float(qmax), lo * shrink, f);
  };
  // Symmetric codes run from -mid to mid-1: try the scale that maps the largest magnitude to -mid
  // and the one that maps it to mid-1 (which one fits better depends on the sign of the extreme).
  // A half-offset grid is symmetric: its outer levels are ±(mid - 1/2).
  // A codebook's outer levels are ±127, a float8 type's ±max_value.
  const float den_a = f.float8()     ? f.max_value
                      : f.codebook() ? 127.0f
                      : f.half_offset ? float(f.mid_code()) - 0.5f
                                      : float(f.mid_code());
  const float den_b = f.codebook() || f.float8() || f.half_offset ? den_a : float(std::max(1, f.mid_code() - 1));
  const bool one_den = den_a == den_b;
  GroupParams best = candidate(1.0f, den_a);
  if (clip == ClipMethod::MinMax && !f.symmetric && !w) return best;
  double best_err = group_sq_error(x, w, n, best, qmax);
  const int steps = clip == ClipMethod::Mse || w ? 20 : 1;
  const float dens[2] = {den_a, den_b};
  for (int di = 0; di < (one_den ? 1 : 2); ++di) {
    const float den = dens[di];
    for (int s = 0; s < steps; ++s) {
      const float shrink = 1.0f - 0.025f * float(s);
      GroupParams p = candidate(shrink, den);
      double e = group_sq_error(x, w, n, p, qmax);
      if (e < best_err) { best_err = e; best = p; }
    }
  }
  if (w)
    for (int iter = 0; iter < 2; ++iter) best = refit_scale(x, w, n, best, qmax);
  return best;
}

inline float dequant_value(int code, const GroupParams& p) { return p.scale * p.level(code); }

}  // namespace arrowquant
