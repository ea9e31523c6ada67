// Shared by the kernel tests: packed test matrices at any alignment, the closeness check of products
// against the scalar reference, and a loop over every SIMD target compiled in.
#pragma once
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "arrowquant/packed_tensor.h"
#include "kernels/packed_reference.h"
#include "quant/rtn.h"
#include "test_util.h"

namespace aqtest {

using namespace arrowquant;

struct Case {
  QuantizedTensor q;
  // copies of the packed bytes at an odd offset, to prove unaligned access is fine
  std::vector<uint8_t> codes, scales, zps;
  PackedView view(size_t misalign) {
    codes.assign(misalign, 0);
    codes.insert(codes.end(), q.codes.begin(), q.codes.end());
    scales.assign(misalign, 0);
    scales.insert(scales.end(), q.scales.begin(), q.scales.end());
    zps.assign(misalign, 0);
    zps.insert(zps.end(), q.zero_points.begin(), q.zero_points.end());
    PackedView v = view_of(q);
    v.codes = codes.data() + misalign;
    v.scales = scales.data() + misalign;
    v.zero_points = q.format->symmetric ? nullptr : zps.data() + misalign;
    return v;
  }
};

// Whether a format stores rows of `cols` in groups of `group` (0: one per row); a lattice needs whole
// 8-weight vectors, so the odd shapes of the loops below skip it.
inline bool fits(const QuantFormat& f, int64_t cols, int64_t group) {
  return geometry_problem(f, cols, group == 0 || group > cols ? cols : group).empty();
}

inline Case make_case(const QuantFormat& f, int64_t rows, int64_t cols, int64_t group, uint32_t seed) {
  FloatTensor t{"w", {rows, cols}, aqtest::random_floats(size_t(rows * cols), seed, 0.05f)};
  Case c;
  c.q = quantize_rtn(t, {&f, group, ClipMethod::MinMax, 1});
  return c;
}

// |a - b| within rel · Σ|w·x| per output: the error float accumulation order can introduce.
inline void expect_products_close(const PackedView& v, const std::vector<float>& x, int64_t n, const std::vector<float>& got,
                           double rel, const std::string& what) {
  std::vector<float> ref(got.size()), w(size_t(v.geom.cols));
  kernels::matmul_f32_reference(v, x.data(), n, ref.data());
  for (int64_t r = 0; r < v.geom.rows; ++r) {
    dequantize_rows(v, r, r + 1, w.data());
    for (int64_t j = 0; j < n; ++j) {
      double mag = 0;
      for (int64_t c = 0; c < v.geom.cols; ++c) mag += std::fabs(double(w[size_t(c)]) * x[size_t(j * v.geom.cols + c)]);
      const size_t i = size_t(j * v.geom.rows + r);
      ASSERT_LE(std::fabs(double(got[i]) - ref[i]), rel * mag + 1e-30) << what << " row " << r << " x " << j;
    }
  }
}

// Runs fn once per SIMD target compiled in and supported here (AVX3, AVX2, SSE4, ... and the
// scalar fallback), so that every dispatched variant is tested, not just the best one.
inline void for_each_target(const std::function<void(const std::string&)>& fn) {
  for (int64_t t : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(t);
    fn(hwy::TargetName(t));
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace aqtest
