// The decoder's key/value cache, one KVStore per layer for keys and one for values, stored as its
// KVQuantPlan says (arrowquant/kv_quant_plan.h).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "arrowquant/kv_quant_plan.h"

namespace arrowquant {

// An array left uninitialised: a large one is mapped page by page as it is first written, so a cache
// sized for the whole context holds memory only for the positions used (Qwen2.5-0.5B-shaped model,
// 4096 positions: 100 MB of f32 cache, of which a 528-token run touches 13 MB).
template <typename T>
class UntouchedArray {
 public:
  void allocate(size_t n) {
    data_ = std::make_unique_for_overwrite<T[]>(n);
    size_ = n;
  }
  T* data() const { return data_.get(); }
  T& operator[](size_t i) const { return data_[i]; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  std::unique_ptr<T[]> data_;
  size_t size_ = 0;
};

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
  UntouchedArray<float> f32_;
  UntouchedArray<uint16_t> f16_;
  UntouchedArray<uint8_t> codes_;
  UntouchedArray<float> scales_;       // when !fp16_scales
  UntouchedArray<uint16_t> scales16_;  // when fp16_scales
};

}  // namespace arrowquant
