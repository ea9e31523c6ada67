// Which packed geometries the int8-activation kernels take: the activation block that shares one
// int8 scale, derived from the weight group. Shared by the SIMD code and the policy above it.
#pragma once
#include <cstdint>

#include "arrowquant/packed_tensor.h"

namespace arrowquant::kernels {

// The geometries matvec_i8 takes, for messages (the rule itself is i8_activation_block and the chunk
// widths of packed_i8_hwy.cc).
inline constexpr const char* kI8Geometries = "per channel or in groups of 32, 64, 128 or a multiple of 128";

// Activation values per int8 scale for v: its group size up to 128 (a multiple of 32), 128 for
// larger multiples of 128 and for per-channel weights; 0 = no int8 kernel for this geometry.
int64_t i8_activation_block(const PackedView& v);

}  // namespace arrowquant::kernels
