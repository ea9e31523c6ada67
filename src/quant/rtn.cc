#include "quant/rtn.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "arrowquant/error.h"
#include "format/pack.h"
#include "util/thread_pool.h"
#include "quant/group_params.h"
#include "quant/input_space.h"
#include "quant/weight_error.h"

namespace arrowquant {

QuantizedTensor quantize_rtn(const FloatTensor& t, const QuantizeOptions& opt, std::span<const float> importance) {
  if (!opt.format) throw ValueError("no quantisation format given for " + t.name);
  const QuantFormat& f = *opt.format;
  QuantizedTensor q;
  q.name = t.name;
  q.shape = t.shape;
  q.format = &f;
  q.geom = quant_geometry(t.shape, opt.group_size);
  if (size_t(num_elements(t.shape)) != t.values.size())
    throw ValueError("tensor " + t.name + ": shape " + shape_str(t.shape) + " does not match " +
                     std::to_string(t.values.size()) + " values");
  if (int64_t bad = first_nonfinite(t.values.data(), t.values.size()); bad >= 0)
    throw ValueError("tensor " + t.name + " has a non-finite value (" + std::to_string(t.values[bad]) +
                     ") at flat index " + std::to_string(bad) + "; refusing to quantise it");
  if (!opt.rotation.is_none()) {
    QuantizeOptions plain = opt;
    plain.rotation = {};
    QuantizedTensor r = quantize_rtn(rotated_weight(t, opt.rotation), plain, importance);
    r.rotation = opt.rotation;
    return r;
  }
  const auto& g = q.geom;
  if (const std::string why = geometry_problem(f, g.cols, g.group_size); !why.empty())
    throw ValueError("tensor " + t.name + ": " + why);
  if (!importance.empty() && int64_t(importance.size()) != g.cols)
    throw ValueError("tensor " + t.name + ": " + std::to_string(importance.size()) + " importance weights for " +
                     std::to_string(g.cols) + " columns");
  const float* weights = importance.empty() ? nullptr : importance.data();
  const int64_t groups = g.groups_per_row();
  const size_t row_bytes = packed_row_bytes(g.cols, f.bits);
  q.codes.assign(size_t(g.rows) * row_bytes, 0);
  q.scales.assign(scale_bytes(g), 0);
  q.zero_points.assign(zero_point_bytes(g, f), 0);

  parallel_for(g.rows, opt.threads, [&](int64_t r0, int64_t r1) {
    std::vector<uint8_t> codes(size_t(g.cols));
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = t.values.data() + r * g.cols;
      for (int64_t gi = 0; gi < groups; ++gi) {
        const int64_t c0 = gi * g.group_size, n = std::min(g.group_size, g.cols - c0);
        GroupParams p = choose_params(row + c0, weights ? weights + c0 : nullptr, n, f, opt.clip);
        if (f.lattice())
          lattice_group(row + c0, nullptr, n, p, codes.data() + c0);
        else
          for (int64_t i = 0; i < n; ++i) codes[size_t(c0 + i)] = uint8_t(code_of(row[c0 + i], p, f.max_code()));
        const size_t k = size_t(r * groups + gi);
        if (std::isinf(p.scale))
          throw ValueError("tensor " + t.name + ": a group's scale overflows float16 (|w| too large)");
        std::memcpy(&q.scales[2 * k], &p.scale_f16, 2);
        if (!f.symmetric) q.zero_points[k] = uint8_t(p.zero);
      }
      pack_row(f, codes.data(), g.cols, q.codes.data() + size_t(r) * row_bytes);
    }
  });
  return q;
}


}  // namespace arrowquant
