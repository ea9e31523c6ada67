// How the decoder's key/value cache is stored: the element type (fp32, fp16, int8 or fp8 E4M3), the
// block of elements that share one scale, and the scale's precision.
#pragma once
#include <cstdint>
#include <string>

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

}  // namespace arrowquant
