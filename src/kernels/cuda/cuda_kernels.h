// CUDA kernels on lsb_rows_v1 packed weights: dequantisation to float32 and matrix-vector products.
// Built only when nvcc is found (AQ_HAVE_CUDA). Host pointers in, host pointers out: the wrappers
// copy to and from the device, which is what the tests need; a GPU runtime would keep weights
// resident.
#pragma once
#include <cstdint>
#include <string>

#include "arrowquant/packed_tensor.h"

namespace arrowquant::cuda {

// Number of CUDA devices usable here (0 when there is no GPU or no driver).
int device_count();
std::string device_summary();

// Rows [0, v.geom.rows) dequantised into out (host memory). Throws Error on any CUDA failure.
void dequantize_f32(const PackedView& v, float* out);
// y[r] = Σ_k W[r,k]·x[k] for every row.
void matvec_f32(const PackedView& v, const float* x, float* y);

}  // namespace arrowquant::cuda
