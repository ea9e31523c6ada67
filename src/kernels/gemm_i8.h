// Many activation rows times one packed matrix with int8 activations — prefill, encoder batches,
// perplexity — where compute, not memory, bounds the product. Policy here, SIMD code in gemm_i8_hwy.cc.
#pragma once
#include <cstdint>

#include "arrowquant/packed_tensor.h"

namespace arrowquant::kernels {

// y[j·ldy + r] = Σ_k W[r,k]·x̂[j·cols + k] for j < n, where x̂ is each row of x quantised to int8 per
// block exactly as matvec_i8 quantises its one row (so prefill sees the numbers decode sees, and row
// j's result is matvec_i8's up to float rounding): the weights widened to one byte per weight a panel
// at a time in cache, u8 × s8 products summed in int32, the scales applied once per block.
void gemm_i8(const PackedView& v, const float* x, int64_t n, float* y, int64_t ldy, int threads);
// Every format whose weights are integers or integer levels (not fp8), in the geometries of the int8
// decode kernels (kI8Geometries).
bool gemm_i8_supported(const PackedView& v);

// While one is alive on this thread, gemm_i8 calls on the same x (pointer, rows, columns) with the same
// activation blocks reuse the int8 rows the first call made instead of quantising x again: siblings
// that read one input (q/k/v, gate/up; Linear::forward_shared) quantise it once. The owner promises
// that x does not change while the scope lives (or calls forget() when it does).
class SharedActivations {
 public:
  SharedActivations();
  ~SharedActivations();
  static void forget();
  SharedActivations(const SharedActivations&) = delete;
  SharedActivations& operator=(const SharedActivations&) = delete;
};

}  // namespace arrowquant::kernels
