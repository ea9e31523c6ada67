// fp8 E4M3 <-> float32 (the KV cache's fp8 type).
#pragma once
#include <cstdint>

namespace arrowquant {

// fp8 E4M3 (OCP "E4M3FN": no infinities, max 448), round to nearest even, saturating.
uint8_t fp8_e4m3_from_float(float f);
float fp8_e4m3_to_float(uint8_t v);

}  // namespace arrowquant
