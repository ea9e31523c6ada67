#include "arrowquant/packed_tensor.h"

#include <algorithm>
#include <cstring>

#include "arrowquant/dtype.h"
#include "format/pack.h"

namespace arrowquant {

PackedView view_of(const QuantizedTensor& q) {
  return {q.format, q.geom, q.codes.data(), q.scales.data(),
          q.format->symmetric ? nullptr : q.zero_points.data()};
}

void dequantize_rows(const PackedView& v, int64_t row_begin, int64_t row_end, float* out) {
  const QuantFormat& f = *v.format;
  const auto& g = v.geom;
  const int64_t groups = g.groups_per_row();
  const size_t row_bytes = packed_row_bytes(g.cols, f.bits);
  std::vector<uint8_t> codes(size_t(g.cols));
  for (int64_t r = row_begin; r < row_end; ++r) {
    unpack_row(f, v.codes + size_t(r) * row_bytes, g.cols, codes.data());
    f.apply_levels(codes.data(), g.cols);  // codebook: byte levels, centred on zero_at() = 128 (a lattice's already are)
    float* o = out + (r - row_begin) * g.cols;
    for (int64_t gi = 0; gi < groups; ++gi) {
      const size_t k = size_t(r * groups + gi);
      const float s = scale_at(v, k), z = zero_at(v, k);
      const int64_t c0 = gi * g.group_size, n = std::min(g.group_size, g.cols - c0);
      if (f.float8())
        for (int64_t i = 0; i < n; ++i) o[c0 + i] = s * f.level_of(codes[size_t(c0 + i)]);
      else
        for (int64_t i = 0; i < n; ++i) o[c0 + i] = s * (float(codes[size_t(c0 + i)]) - z);
    }
  }
}

std::vector<float> dequantize(const QuantizedTensor& q) {
  std::vector<float> out(size_t(q.geom.rows * q.geom.cols));
  dequantize_rows(view_of(q), 0, q.geom.rows, out.data());
  if (!q.rotation.is_none()) PreparedRotation(q.rotation, q.geom.cols).unrotate(out.data(), q.geom.rows);
  return out;
}

}  // namespace arrowquant
