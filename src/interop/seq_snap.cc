#include "interop/seq_snap.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "format/pack.h"

namespace arrowquant {

namespace {

// bfloat16 keeps 8 significant bits: the stored inner and outer levels are each rounded by up to 2^-8
constexpr double kOuterTolerance = 1.0 / 128;

// Codes and scales of rows x cols weights in groups of `group`; false at the first group off the grid.
bool snap(const FloatTensor& w, int64_t group, SeqSnap& out) {
  const int64_t rows = w.shape[0], cols = w.shape[1], groups = cols / group;
  const QuantFormat* f = find_quant_format(2, true, true);  // int2_half
  std::vector<uint8_t> codes(static_cast<size_t>(cols));
  out.q = QuantizedTensor{w.name, w.shape, f, {rows, cols, group}, {}, {}, {}, {}};
  out.q.codes.resize(size_t(rows) * packed_row_bytes(cols, 2));
  out.q.scales.resize(size_t(rows * groups) * 2);
  out.max_rel_diff = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const float* x = w.values.data() + r * cols + g * group;
      float a = std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < group; ++i) a = std::min(a, std::fabs(x[i]));
      if (!(a > 0) || !std::isfinite(a)) return false;  // SEQ has no zero level
      const uint16_t s16 = f32_to_f16(2 * a);
      if (f16_to_f32(s16) != 2 * a) return false;  // the scale must be a float16 value
      std::memcpy(&out.q.scales[size_t(r * groups + g) * 2], &s16, 2);
      for (int64_t i = 0; i < group; ++i) {
        const float v = std::fabs(x[i]);
        int level;  // 0: a, 1: 3a
        if (v == a) {
          level = 0;
        } else {
          const double diff = std::fabs(double(v) - 3.0 * a) / v;
          if (diff > kOuterTolerance) return false;
          out.max_rel_diff = std::max(out.max_rel_diff, diff);
          level = 1;
        }
        codes[size_t(g * group + i)] = uint8_t(x[i] < 0 ? 1 - level : 2 + level);  // −3a −a +a +3a: 0 1 2 3
      }
    }
    pack_row(codes.data(), cols, 2, &out.q.codes[size_t(r) * packed_row_bytes(cols, 2)]);
  }
  return true;
}

}  // namespace

std::optional<SeqSnap> snap_to_seq_grid(const FloatTensor& w) {
  if (w.shape.size() != 2 || w.shape[0] <= 0 || w.shape[1] <= 0) return std::nullopt;
  const int64_t cols = w.shape[1];
  SeqSnap out;
  for (int64_t group : {cols, int64_t(128), int64_t(64), int64_t(32)})
    if (group <= cols && cols % group == 0 && snap(w, group, out)) return out;
  return std::nullopt;
}

}  // namespace arrowquant
