// OCP 8-bit floats <-> float32: E4M3 (the KV cache's fp8 type, and fp8 weights) and E5M2 (fp8
// weights). Exact round to nearest even, saturating at the largest finite value (a weight or cache
// entry never becomes infinite); NaN in gives the type's NaN code.
#pragma once
#include <cstdint>

namespace arrowquant {

// E4M3 ("E4M3FN"): bias 7, no infinities, max 448, NaN = 0x7F/0xFF, subnormals down to 2^-9.
uint8_t fp8_e4m3_from_float(float f);
float fp8_e4m3_to_float(uint8_t v);
// E5M2 (IEEE-like, the top byte of a float16): bias 15, max 57344, ±inf = 0x7C/0xFC, NaN = 0x7D-0x7F
// and 0xFD-0xFF, subnormals down to 2^-16.
uint8_t fp8_e5m2_from_float(float f);
float fp8_e5m2_to_float(uint8_t v);

}  // namespace arrowquant
