#include "model/kv_cache.h"

#include <algorithm>
#include <cmath>

#include "arrowquant/dtype.h"
#include "util/fp8.h"
#include "arrowquant/error.h"

namespace arrowquant {

KVStore::KVStore(const KVQuantPlan& plan, int64_t width, int64_t head_dim, int64_t capacity)
    : plan_(plan), width_(width), block_(plan.block_size > 0 ? plan.block_size : head_dim), capacity_(capacity) {
  if (width % block_ != 0 || head_dim % block_ != 0)
    throw ValueError("KV block size " + std::to_string(block_) + " must divide the head size " +
                     std::to_string(head_dim));
  const size_t n = size_t(width * capacity);
  switch (plan_.dtype) {
    case KVDType::F32: f32_.allocate(n); break;
    case KVDType::F16: f16_.allocate(n); break;
    default:
      codes_.allocate(n);
      if (plan_.fp16_scales) scales16_.allocate(n / size_t(block_));
      else scales_.allocate(n / size_t(block_));
  }
}

void KVStore::write(int64_t pos, const float* row) {
  if (pos < 0 || pos >= capacity_) throw ValueError("KV cache position " + std::to_string(pos) + " past its capacity");
  const size_t base = size_t(pos * width_);
  switch (plan_.dtype) {
    case KVDType::F32: std::copy(row, row + width_, f32_.data() + base); return;
    case KVDType::F16:
      for (int64_t i = 0; i < width_; ++i) f16_[base + size_t(i)] = f32_to_f16(row[i]);
      return;
    default: break;
  }
  const bool fp8 = plan_.dtype == KVDType::Fp8E4M3;
  const float qmax = fp8 ? 448.0f : 127.0f;
  for (int64_t b = 0; b < width_; b += block_) {
    float amax = 0;
    for (int64_t i = 0; i < block_; ++i) amax = std::max(amax, std::fabs(row[b + i]));
    float scale = amax > 0 ? amax / qmax : 1.0f;
    const size_t si = (base + size_t(b)) / size_t(block_);
    if (plan_.fp16_scales) {
      scales16_[si] = f32_to_f16(scale);
      scale = f16_to_f32(scales16_[si]);  // quantise against the scale that will be read back
      if (scale == 0) scale = 1.0f;
    } else {
      scales_[si] = scale;
    }
    const float inv = 1.0f / scale;
    for (int64_t i = 0; i < block_; ++i) {
      const float v = row[b + i] * inv;
      codes_[base + size_t(b + i)] = fp8 ? fp8_e4m3_from_float(v)
                                         : uint8_t(int8_t(std::clamp(std::nearbyint(v), -127.0f, 127.0f)));
    }
  }
}

void KVStore::read(int64_t pos, int64_t offset, int64_t n, float* out) const {
  const size_t base = size_t(pos * width_ + offset);
  switch (plan_.dtype) {
    case KVDType::F32: std::copy(f32_.data() + base, f32_.data() + base + size_t(n), out); return;
    case KVDType::F16:
      for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(f16_[base + size_t(i)]);
      return;
    default: break;
  }
  const bool fp8 = plan_.dtype == KVDType::Fp8E4M3;
  for (int64_t b = 0; b < n; b += block_) {
    const size_t si = (base + size_t(b)) / size_t(block_);
    const float scale = plan_.fp16_scales ? f16_to_f32(scales16_[si]) : scales_[si];
    for (int64_t i = 0; i < block_; ++i) {
      const uint8_t c = codes_[base + size_t(b + i)];
      out[b + i] = scale * (fp8 ? fp8_e4m3_to_float(c) : float(int8_t(c)));
    }
  }
}

size_t KVStore::bytes() const {
  return f32_.size() * 4 + f16_.size() * 2 + codes_.size() + scales_.size() * 4 + scales16_.size() * 2;
}

}  // namespace arrowquant
