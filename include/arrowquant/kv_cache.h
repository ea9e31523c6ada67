// The decoder's key/value cache and how it is stored: a KVQuantPlan picks the element type (fp32,
// fp16, int8 or fp8 E4M3), the block of elements that share one scale, and the scale's precision.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace arrowquant {

enum class KVDType { F32, F16, Int8, Fp8E4M3 };

struct KVQuantPlan {
  KVDType dtype = KVDType::F32;
  int64_t block_size = 0;     // elements per scale for int8/fp8; 0 = one head (head_dim)
  bool fp16_scales = false;   // scales in fp16 instead of fp32
  // "f32", "f16", "int8", "fp8" (also "fp8_e4m3"); ValueError for anything else.
  static KVQuantPlan parse(const std::string& dtype, int64_t block_size = 0, bool fp16_scales = false);
  std::string name() const;
  std::string describe() const;  // e.g. "int8, block of one head, fp32 scales"
};

// fp8 E4M3 (OCP "E4M3FN": no infinities, max 448), round to nearest even, saturating.
uint8_t fp8_e4m3_from_float(float f);
float fp8_e4m3_to_float(uint8_t v);

// One layer's keys or values: rows of `width` floats (kv heads × head_dim), one per position.
class KVStore {
 public:
  KVStore(const KVQuantPlan& plan, int64_t width, int64_t head_dim, int64_t capacity);
  void write(int64_t pos, const float* row);     // row: `width` floats
  // Floats [offset, offset + n) of row `pos`; offset and n must be multiples of the block size.
  void read(int64_t pos, int64_t offset, int64_t n, float* out) const;
  size_t bytes() const;  // memory held, codes and scales

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
