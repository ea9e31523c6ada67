// The int8 GEMM against its exact reference (each activation row quantised as matvec_i8 does it, times
// the dequantised weights, in double) on every SIMD target: every format with integer levels,
// odd shapes, ragged groups, unaligned data, 1…n activation rows, a ldy wider than the rows.
#include "kernels/gemm_i8.h"

#include <gtest/gtest.h>

#include <cmath>

#include "arrowquant/error.h"
#include "kernels/packed_i8.h"
#include "kernels/packed_test_cases.h"

using namespace arrowquant;
using aqtest::Case;
using aqtest::for_each_target;
using aqtest::make_case;

TEST(GemmI8, EveryRowEqualsTheInt8Reference) {
  for_each_target([](const std::string& target) {
    SCOPED_TRACE(target);
    for (const QuantFormat& f : quant_formats())
      for (int64_t cols : {64, 172, 256, 600})
        for (int64_t group : {32, 64, 96, 128, 256, 0}) {
          if (!aqtest::fits(f, cols, group)) continue;
          const int64_t rows = 37;  // a whole panel, a ragged one, and rows padded to the micro-kernel's
          Case c = make_case(f, rows, cols, group, uint32_t(11 + cols + group));
          PackedView v = c.view(3);
          const std::string what = std::string(f.name) + " cols " + std::to_string(cols) + " g " + std::to_string(group);
          if (!kernels::gemm_i8_supported(v)) {  // refused, never silently approximated
            std::vector<float> x(static_cast<size_t>(cols)), y(static_cast<size_t>(rows));
            EXPECT_THROW(kernels::gemm_i8(v, x.data(), 1, y.data(), rows, 1), ValueError) << what;
            continue;
          }
          for (int64_t n : {1, 2, 3, 5, 9}) {
            const int64_t ldy = rows + 3;
            std::vector<float> x = aqtest::random_floats(size_t(n * cols), uint32_t(7 + n), 1.0f);
            std::vector<float> y(static_cast<size_t>(n * ldy), -1.0f), ref(static_cast<size_t>(n * rows));
            kernels::gemm_i8(v, x.data(), n, y.data(), ldy, 2);
            for (int64_t j = 0; j < n; ++j) kernels::matvec_i8_reference(v, x.data() + j * cols, ref.data() + j * rows);
            for (int64_t j = 0; j < n; ++j) {
              double scale = 0;
              for (int64_t r = 0; r < rows; ++r) scale = std::max(scale, double(std::fabs(ref[size_t(j * rows + r)])));
              for (int64_t r = 0; r < rows; ++r)
                // integer sums are exact; only the float epilogue (per group, per lane) rounds
                ASSERT_NEAR(y[size_t(j * ldy + r)], ref[size_t(j * rows + r)], 2e-5 * (scale + 1))
                    << what << " n " << n << " x " << j << " row " << r;
              for (int64_t r = rows; r < ldy; ++r) ASSERT_EQ(y[size_t(j * ldy + r)], -1.0f) << what << " wrote past its rows";
            }
          }
        }
  });
}

TEST(GemmI8, AgreesWithTheDecodeKernelRowByRow) {
  // The same quantised activations as decode, so prefill and decode see the same numbers.
  for (const char* name : {"int8_asym", "int4_sym", "gauss2"}) {
    Case c = make_case(quant_format_or_throw(name), 70, 896, 128, 3);
    const PackedView v = c.view(0);
    const int64_t n = 7;
    std::vector<float> x = aqtest::random_floats(size_t(n * 896), 5, 2.0f), y(size_t(n * 70)), one(70);
    kernels::gemm_i8(v, x.data(), n, y.data(), 70, 2);
    for (int64_t j = 0; j < n; ++j) {
      kernels::matvec_i8(v, x.data() + j * 896, one.data(), 1);
      for (int64_t r = 0; r < 70; ++r)
        ASSERT_NEAR(y[size_t(j * 70 + r)], one[size_t(r)], 1e-4f * (1 + std::fabs(one[size_t(r)]))) << name;
    }
  }
}

TEST(GemmI8, RefusesWhatItCannotDo) {
  std::vector<float> x(2 * 192, 1.0f), y(8);
  Case fp8 = make_case(quant_format_or_throw("fp8_e4m3"), 4, 192, 64, 1);
  EXPECT_THROW(kernels::gemm_i8(fp8.view(0), x.data(), 2, y.data(), 4, 1), ValueError);
  Case g48 = make_case(quant_format_or_throw("int4_sym"), 4, 192, 48, 1);
  EXPECT_THROW(kernels::gemm_i8(g48.view(0), x.data(), 2, y.data(), 4, 1), ValueError);
  Case ok = make_case(quant_format_or_throw("int4_sym"), 4, 192, 64, 1);
  x[200] = std::nanf("");
  EXPECT_THROW(kernels::gemm_i8(ok.view(0), x.data(), 2, y.data(), 4, 1), ValueError);
}
