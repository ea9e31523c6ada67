// The decoder's key/value cache, one KVStore per layer for keys and one for values, stored as its
// KVQuantPlan says (arrowquant/kv_quant_plan.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "arrowquant/kv_quant_plan.h"

namespace arrowquant {

// One layer's keys or values: rows of `width` floats (kv heads × head_dim), one per position.
class KVStore {
 public:
  KVStore(const KVQuantPlan& plan, int64_t width, int64_t head_dim, int64_t capacity);
  void write(int64_t pos, const float* row);     // row: `width` floats
  // Floats [offset, offset + n) of row `pos`; offset and n must be multiples of the block size.
  void read(int64_t pos, int64_t offset, int64_t n, float* out) const;
  size_t bytes() const;  // memory held, codes and scales
  // The rows themselves, `width` floats apart, when the store keeps float32 (null otherwise).
  const float* f32_rows() const { return f32_.empty() ? nullptr : f32_.data(); }
  int64_t width() const { return width_; }

 private:
  KVQuantPlan plan_;
  int64_t width_, block_, capacity_;
  std::vector<float> f32_;
  std::vector<uint16_t> f16_;
  std::vector<uint8_t> codes_;
  std::vector<float> scales_;       // when !fp16_scales
  std::vector<uint16_t> scales16_;  // when fp16_scales
};

}  // namespace arrowquant
