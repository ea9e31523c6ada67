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

// The same, with the codes cut out of their bytes in registers (straddle_i8_hwy.cc), no bytes in cache:
// on CPUs with AVX-512 VBMI and VNNI, for groups of 32, multiples of 64, or per channel.
inline constexpr const char* kStraddleI8Requirements =
    "needs AVX-512 VBMI and VNNI, and groups of 32, a multiple of 64, or per channel";
void matvec_i8_straddle(const PackedView& v, const float* x, float* y, int threads);
bool matvec_i8_straddle_supported(const PackedView& v);

// lattice2 with every code decoded in registers (lattice_i8_hwy.cc): the same product as the widened
// kernel, without the bytes in cache. Supported on CPUs with AVX-512 VBMI, BITALG and VNNI, for groups
// that divide 256 weights or are multiples of them (or one per row).
inline constexpr const char* kLatticeI8Requirements =
    "needs AVX-512 VBMI, BITALG and VNNI, and groups of 16-256 weights dividing 256, multiples of 256, or per channel";
void matvec_i8_lattice(const PackedView& v, const float* x, float* y, int threads);
bool matvec_i8_lattice_supported(const PackedView& v);

}  // namespace arrowquant::kernels
