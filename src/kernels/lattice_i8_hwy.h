// Entry points of the lattice2 × int8 kernel decoded in registers (lattice_i8_hwy.cc), dispatched at
// run time: AVX3_DL only (VBMI, BITALG, VNNI); on every other target `supported` is false. No policy
// here: packed_i8.cc decides.
#pragma once
#include <cstdint>

#include "arrowquant/packed_tensor.h"

namespace arrowquant::kernels {
struct PreparedI8;
}

namespace arrowquant::kernels::simd {

// Codes per step of the kernel (256 weights): prepared activations are padded to whole steps.
inline constexpr int64_t kLatticeChunkCodes = 32;

// Whether this CPU's target has the kernel and v's groups fit it.
bool lattice_i8_supported(const PackedView& v);
// The activations already quantised by prepare_i8 (on v read as int8_asym: p.natural, p.scale) put
// into the kernel's order, with their per-code sums and per-lane scales.
void prepare_lattice_i8(const PackedView& v, PreparedI8& p);
// Rows [r0, r1) of y.
void lattice_i8_rows(const PackedView& v, const PreparedI8& p, int64_t r0, int64_t r1, float* y);

}  // namespace arrowquant::kernels::simd
