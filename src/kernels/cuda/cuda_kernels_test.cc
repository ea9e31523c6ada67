// CUDA kernels against the CPU reference. They run only where a CUDA device exists; elsewhere the
// tests say why they skip (built without nvcc, or no GPU on this machine).
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/packed_f32.h"
#include "kernels/packed_reference.h"
#include "quant/rtn.h"
#include "arrowquant/packed_tensor.h"
#include "test_util.h"
#ifdef AQ_HAVE_CUDA
#include "kernels/cuda/cuda_kernels.h"
#endif

using namespace arrowquant;

TEST(CudaKernels, KernelsMatchTheCpuReference) {
#ifndef AQ_HAVE_CUDA
  GTEST_SKIP() << "built without CUDA (nvcc not found at configure time)";
#else
  if (cuda::device_count() == 0) GTEST_SKIP() << "CUDA kernels compiled, but this machine has no CUDA device";
  for (const auto& f : quant_formats()) {
    if (f.lattice()) continue;  // no CUDA decoder for lattice codes (the kernel table has no entry)
    FloatTensor t{"w", {33, 300}, aqtest::random_floats(33 * 300, 1, 0.05f)};
    QuantizedTensor q = quantize_rtn(t, {&f, 64, ClipMethod::MinMax, 1});
    PackedView v = view_of(q);
    std::vector<float> ref(33 * 300), got(ref.size());
    dequantize_rows(v, 0, 33, ref.data());
    cuda::dequantize_f32(v, got.data());
    EXPECT_EQ(ref, got) << f.name;
    std::vector<float> x = aqtest::random_floats(300, 2, 1.0f), y(33), yr(33);
    cuda::matvec_f32(v, x.data(), y.data());
    kernels::matmul_f32_reference(v, x.data(), 1, yr.data());
    for (int r = 0; r < 33; ++r) EXPECT_NEAR(y[size_t(r)], yr[size_t(r)], 1e-4 * (1 + std::fabs(yr[size_t(r)]))) << f.name;
  }
#endif
}
