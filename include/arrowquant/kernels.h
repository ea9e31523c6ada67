// CPU kernels on packed low-bit weights (the PackedView of a V2 tensor, pointing straight into the
// memory-mapped Parquet file: pointers may be unaligned). Vectorised with Google Highway and
// dispatched at run time to the best instruction set of the CPU.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "arrowquant/quantize.h"

namespace arrowquant::kernels {

// Rows [r0, r1) of v, dequantised into out (row-major, cols per row). Bit-identical to the scalar
// reference dequantize_rows.
void dequantize_f32(const PackedView& v, int64_t r0, int64_t r1, float* out);
// The same rounded to bfloat16 (round to nearest even), as raw uint16 bits.
void dequantize_bf16(const PackedView& v, int64_t r0, int64_t r1, uint16_t* out);

// Y[j, r] = Σ_k W[r, k] · X[j, k] for j < n, r < rows: the fused product of packed weights with n
// float32 activation rows (X row-major with cols per row; row j of Y starts at y + j·ldy). Small n
// (decode) reads each weight byte once for all n; larger n (prefill) dequantises tiles of rows into
// cache-sized float blocks and multiplies them with BLAS. Never materialises the whole matrix.
void matmul_f32(const PackedView& v, const float* x, int64_t n, float* y, int64_t ldy, int threads);

// The same with activations quantised on the fly to int8 and integer dot products (u8 codes × s8
// activations summed in int32: VNNI where the CPU has it), n = 1: int2/int4/int8 weights.
void matvec_i8(const PackedView& v, const float* x, float* y, int threads);
// Whether matvec_i8 has a kernel for v's format and group size on this CPU.
bool matvec_i8_supported(const PackedView& v);

// Activation values per int8 scale for v: its group size up to 128 (a multiple of 32), 128 for
// larger multiples of 128 and for per-channel weights; 0 = no int8 kernel for this geometry.
int64_t i8_activation_block(const PackedView& v);

// Wall time spent in the packed kernels since the last reset, by kind (timing is off by default):
// dequantising (prefill tiles of packed weights expanded to fp32, int3 rows), fused products on packed
// weights (fp32 or int8 activations), and BLAS on the dequantised tiles.
struct KernelClock {
  double dequant_seconds = 0, fused_seconds = 0, blas_seconds = 0;
};
void set_kernel_timing(bool on);
void reset_kernel_clock();
KernelClock kernel_clock();

// Scalar references (what every kernel is tested against).
void matmul_f32_reference(const PackedView& v, const float* x, int64_t n, float* y);
// What matvec_i8 computes, in double: the same quantised activations times the dequantised weights.
void matvec_i8_reference(const PackedView& v, const float* x, float* y);

// The instruction sets Highway compiled in and the one this CPU runs ("AVX3", "AVX2", "SSE4", ...).
std::vector<std::string> compiled_targets();
std::string active_target();

}  // namespace arrowquant::kernels
