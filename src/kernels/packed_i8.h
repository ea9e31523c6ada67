// Decode products of packed weights with int8 activations: x quantised on the fly per block, u8 codes
// × s8 activations summed in int32 (VNNI where the CPU has it). Policy here, SIMD code in
// packed_i8_hwy.cc.
#pragma once
#include <cstdint>

#include "arrowquant/packed_tensor.h"

namespace arrowquant::kernels {

// y = W·x for one activation row.
void matvec_i8(const PackedView& v, const float* x, float* y, int threads);
// Whether matvec_i8 has a kernel for v's format and group size on this CPU.
bool matvec_i8_supported(const PackedView& v);

// The geometries matvec_i8 takes, for messages (the rule itself is i8_activation_block and the chunk
// widths of packed_i8_hwy.cc).
inline constexpr const char* kI8Geometries = "per channel or in groups of 32, 64, 128 or a multiple of 128";

// Activation values per int8 scale for v: its group size up to 128 (a multiple of 32), 128 for
// larger multiples of 128 and for per-channel weights; 0 = no int8 kernel for this geometry.
int64_t i8_activation_block(const PackedView& v);

}  // namespace arrowquant::kernels
