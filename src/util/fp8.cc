#include "util/fp8.h"

#include <cmath>
#include <cstring>

namespace arrowquant {

namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// A float with M mantissa bits, exponent bias B, largest finite code `max_code` (without sign) of
// value `max_value`. Rounding to nearest even on the float32 bit pattern: adding half an fp8 unit
// minus one, plus the lowest kept bit, carries into the exponent exactly when the value rounds up
// to the next binade. Below the smallest normal the step is fixed (2^(1-B-M)): scaling by its inverse
// is exact and nearbyint rounds half to even.
template <int M, int B>
uint8_t encode(float f, uint8_t max_code, float max_value, uint8_t nan_code) {
  if (std::isnan(f)) return nan_code;
  const uint8_t sign = std::signbit(f) ? 0x80 : 0;
  const float a = std::fabs(f);
  if (a >= max_value) return sign | max_code;
  constexpr int kShift = 23 - M;
  if (a < std::ldexp(1.0f, 1 - B))  // subnormal (or zero): m · 2^(1-B-M), m up to 2^M (the smallest normal)
    return sign | uint8_t(std::nearbyint(a * std::ldexp(1.0f, B - 1 + M)));
  const uint32_t u = bits_of(a);
  const uint32_t rounded = u + ((1u << (kShift - 1)) - 1) + ((u >> kShift) & 1);
  const uint32_t code = (rounded >> kShift) - (uint32_t(127 - B) << M);
  return sign | uint8_t(code > max_code ? max_code : code);
}

template <int M, int B>
float decode(uint8_t v) {
  const float sign = (v & 0x80) ? -1.0f : 1.0f;
  const int exp = (v & 0x7F) >> M, mant = v & ((1 << M) - 1);
  if (exp == 0) return sign * std::ldexp(float(mant), 1 - B - M);
  return sign * std::ldexp(1.0f + float(mant) / float(1 << M), exp - B);
}

}  // namespace

uint8_t fp8_e4m3_from_float(float f) { return encode<3, 7>(f, 0x7E, 448.0f, 0x7F); }

float fp8_e4m3_to_float(uint8_t v) {
  if ((v & 0x7F) == 0x7F) return std::nanf("");
  return decode<3, 7>(v);
}

uint8_t fp8_e5m2_from_float(float f) { return encode<2, 15>(f, 0x7B, 57344.0f, 0x7F); }

float fp8_e5m2_to_float(uint8_t v) {
  if ((v & 0x7C) == 0x7C) {  // exponent all ones
    if (v & 0x03) return std::nanf("");
    return (v & 0x80) ? -INFINITY : INFINITY;
  }
  return decode<2, 15>(v);
}

}  // namespace arrowquant
