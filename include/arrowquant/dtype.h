// Element types of stored tensors and the float conversions between them.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace arrowquant {

// F8E4M3 / F8E5M2: OCP 8-bit floats (safetensors F8_E4M3 / F8_E5M2, FP8 checkpoints' weights).
enum class DType : uint8_t { F32, F16, BF16, F64, I8, U8, I16, I32, I64, BOOL, F8E4M3, F8E5M2 };

// Bytes per element.
size_t dtype_size(DType t);
bool dtype_is_float(DType t);
// Safetensors spelling ("F32", "BF16", ...). Throws FormatError on an unknown name.
DType dtype_from_safetensors(std::string_view name);
std::string_view dtype_safetensors_name(DType t);
// Our own spelling in Parquet ("float32", "float16", ...) and the torch spellings that V1 tables
// written by other tools use ("torch.float16"). Throws FormatError on an unknown name.
DType dtype_from_name(std::string_view name);
std::string_view dtype_name(DType t);

inline uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float f32_from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// IEEE half <-> float, round to nearest even, with subnormals, infinities and NaN.
inline float f16_to_f32(uint16_t h) {  // inline: kernels convert row scales with it
  const uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0) {
    if (mant == 0) return f32_from_bits(sign);
    const float v = float(mant) * (1.0f / 16777216.0f);  // subnormal: mant · 2^-24, exact
    return sign ? -v : v;
  }
  if (exp == 31) return f32_from_bits(sign | 0x7f800000u | (mant << 13));
  return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}
uint16_t f32_to_f16(float f);
inline float bf16_to_f32(uint16_t h) { return f32_from_bits(uint32_t(h) << 16); }
uint16_t f32_to_bf16(float f);

// Converts n little-endian elements of type t at src (any alignment) to float.
void convert_to_f32(DType t, const void* src, size_t n, float* dst);
void convert_from_f32(DType t, const float* src, size_t n, void* dst);

}  // namespace arrowquant
