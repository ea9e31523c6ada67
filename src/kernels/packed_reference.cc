#include "kernels/packed_reference.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "arrowquant/error.h"
#include "kernels/packed_i8.h"

namespace arrowquant::kernels {

void matmul_f32_reference(const PackedView& v, const float* x, int64_t n, float* y) {
  const auto& g = v.geom;
  std::vector<float> w(static_cast<size_t>(g.cols));
  for (int64_t r = 0; r < g.rows; ++r) {
    dequantize_rows(v, r, r + 1, w.data());
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t c = 0; c < g.cols; ++c) s += double(w[size_t(c)]) * x[j * g.cols + c];
      y[j * g.rows + r] = float(s);
    }
  }
}

void quantize_activations_i8(const float* x, int64_t cols, int64_t block, std::vector<int8_t>& q,
                             std::vector<float>& scale, std::vector<float>& qsum) {
  const int64_t blocks = (cols + block - 1) / block;
  q.resize(size_t(cols));
  scale.resize(size_t(blocks));
  qsum.resize(size_t(blocks));
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t c0 = b * block, c1 = std::min(c0 + block, cols);
    float amax = 0;
    bool finite = true;
    for (int64_t c = c0; c < c1; ++c) {
      amax = std::max(amax, std::fabs(x[c]));
      finite &= std::isfinite(x[c]);
    }
    if (!finite) throw ValueError("int8 activations: the input vector holds NaN or Inf at value " + std::to_string(c0) + "+");
    const float s = amax > 0 ? amax / 127.0f : 1.0f, inv = 1.0f / s;
    int32_t sum = 0;
    for (int64_t c = c0; c < c1; ++c) {
      q[size_t(c)] = int8_t(std::clamp(std::lrintf(x[c] * inv), -127L, 127L));
      sum += q[size_t(c)];
    }
    scale[size_t(b)] = s;
    qsum[size_t(b)] = float(sum);
  }
}

void matvec_i8_reference(const PackedView& v, const float* x, float* y) {
  const int64_t a = i8_activation_block(v), cols = v.geom.cols;
  if (a == 0) throw ValueError("matvec_i8_reference: no int8 activation block for group " + std::to_string(v.geom.group_size));
  std::vector<int8_t> q;
  std::vector<float> scale, qsum;
  quantize_activations_i8(x, cols, a, q, scale, qsum);
  std::vector<float> w(static_cast<size_t>(cols));
  for (int64_t r = 0; r < v.geom.rows; ++r) {
    dequantize_rows(v, r, r + 1, w.data());
    double s = 0;
    for (int64_t c = 0; c < cols; ++c) s += double(w[size_t(c)]) * q[size_t(c)] * scale[size_t(c / a)];
    y[r] = float(s);
  }
}

}  // namespace arrowquant::kernels
