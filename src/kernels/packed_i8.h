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

// The same for codes that straddle bytes (3, 5, 6 bits): a few rows at a time are widened to one
// byte per code in cache and multiplied by the int8_asym kernel (packed_i8.cc says how each zero
// rule maps onto it). Supported where that kernel takes the geometry.
void matvec_i8_widened(const PackedView& v, const float* x, float* y, int threads);
bool matvec_i8_widened_supported(const PackedView& v);

}  // namespace arrowquant::kernels
