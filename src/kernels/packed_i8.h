// Decode products of packed weights with int8 activations: x quantised on the fly per block, u8 codes
// × s8 activations summed in int32 (VNNI where the CPU has it). Policy here, SIMD code in
// packed_i8_hwy.cc.
#pragma once
#include <cstdint>

#include "arrowquant/packed_tensor.h"
#include "kernels/i8_geometry.h"

namespace arrowquant::kernels {

// y = W·x for one activation row.
void matvec_i8(const PackedView& v, const float* x, float* y, int threads);
// Whether matvec_i8 has a kernel for v's format and group size on this CPU.
bool matvec_i8_supported(const PackedView& v);

}  // namespace arrowquant::kernels
