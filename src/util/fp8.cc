#include "util/fp8.h"

#include <cmath>

namespace arrowquant {

uint8_t fp8_e4m3_from_float(float f) {
  uint8_t sign = std::signbit(f) ? 0x80 : 0;
  float a = std::fabs(f);
  if (std::isnan(f)) return 0x7F;
  if (a >= 448.0f) return sign | 0x7E;  // saturate to the largest finite value
  if (a < std::ldexp(1.0f, -10)) return sign;  // below half the smallest subnormal (2^-9)
  int e;
  std::frexp(a, &e);  // a = m · 2^e, m in [0.5, 1)
  int exp = e - 1;    // a = 1.xxx · 2^exp
  if (exp < -6) exp = -6;  // subnormal range: fixed exponent, step 2^-9
  float step = std::ldexp(1.0f, exp - 3);
  float q = std::nearbyint(a / step) * step;  // round half to even (default rounding mode)
  if (q >= 448.0f) return sign | 0x7E;
  std::frexp(q, &e);
  int qexp = e - 1;
  if (q < std::ldexp(1.0f, -6)) {  // subnormal: exponent field 0, mantissa = q / 2^-9
    return sign | uint8_t(int(q / std::ldexp(1.0f, -9)));
  }
  int mant = int(std::nearbyint((q / std::ldexp(1.0f, qexp) - 1.0f) * 8.0f));
  return sign | uint8_t((qexp + 7) << 3) | uint8_t(mant);
}

float fp8_e4m3_to_float(uint8_t v) {
  const float sign = (v & 0x80) ? -1.0f : 1.0f;
  const int exp = (v >> 3) & 0xF, mant = v & 0x7;
  if (exp == 0xF && mant == 0x7) return std::nanf("");
  if (exp == 0) return sign * std::ldexp(float(mant), -9);
  return sign * std::ldexp(1.0f + float(mant) / 8.0f, exp - 7);
}

}  // namespace arrowquant
