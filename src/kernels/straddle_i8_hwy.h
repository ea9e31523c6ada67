// Entry points of the int8-activation kernel for codes that straddle bytes (3, 5, 6 bits), cut out
// of their bytes in registers (straddle_i8_hwy.cc), dispatched at run time: AVX3_DL only (VBMI,
// VNNI); on every other target `supported` is false. No policy here: packed_i8.cc decides.
#pragma once
#include <cstdint>

#include "arrowquant/packed_tensor.h"

namespace arrowquant::kernels {
struct PreparedI8;
}

namespace arrowquant::kernels::simd {

// Codes per step of the kernel: prepared activations are padded to whole steps.
inline constexpr int64_t kStraddleChunkCodes = 64;

// Whether this CPU's target has the kernel and v's groups fit it (32, multiples of 64, per channel).
bool straddle_i8_supported(const PackedView& v);
// The activations already quantised by prepare_i8 (on v read as int8_asym: p.natural, p.scale,
// p.group_aq) in natural order padded to whole steps, with their per-lane scales.
void prepare_straddle_i8(const PackedView& v, PreparedI8& p);
// Rows [r0, r1) of y.
void straddle_i8_rows(const PackedView& v, const PreparedI8& p, int64_t r0, int64_t r1, float* y);

}  // namespace arrowquant::kernels::simd
