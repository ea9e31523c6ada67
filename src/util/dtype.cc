#include "arrowquant/dtype.h"

#include <cmath>

#include "arrowquant/error.h"
#include "util/fp8.h"

namespace arrowquant {
namespace {
struct DTypeRow {
  DType t;
  size_t size;
  bool is_float;
  std::string_view st_name, name;
};
constexpr DTypeRow kRows[] = {
    {DType::F32, 4, true, "F32", "float32"},  {DType::F16, 2, true, "F16", "float16"},
    {DType::BF16, 2, true, "BF16", "bfloat16"}, {DType::F64, 8, true, "F64", "float64"},
    {DType::I8, 1, false, "I8", "int8"},      {DType::U8, 1, false, "U8", "uint8"},
    {DType::I16, 2, false, "I16", "int16"},   {DType::I32, 4, false, "I32", "int32"},
    {DType::I64, 8, false, "I64", "int64"},   {DType::BOOL, 1, false, "BOOL", "bool"},
    {DType::F8E4M3, 1, true, "F8_E4M3", "float8_e4m3fn"}, {DType::F8E5M2, 1, true, "F8_E5M2", "float8_e5m2"},
};
const DTypeRow& row(DType t) {
  for (auto& r : kRows)
    if (r.t == t) return r;
  throw ValueError("internal: unknown dtype");
}
}  // namespace

size_t dtype_size(DType t) { return row(t).size; }
bool dtype_is_float(DType t) { return row(t).is_float; }
std::string_view dtype_safetensors_name(DType t) { return row(t).st_name; }
std::string_view dtype_name(DType t) { return row(t).name; }

DType dtype_from_safetensors(std::string_view name) {
  for (auto& r : kRows)
    if (r.st_name == name) return r.t;
  throw FormatError("unknown dtype \"" + std::string(name) + "\"");
}

DType dtype_from_name(std::string_view name) {
  std::string_view n = name;
  if (n.substr(0, 6) == "torch.") n.remove_prefix(6);
  if (n == "half") return DType::F16;
  if (n == "float") return DType::F32;
  for (auto& r : kRows)
    if (r.name == n || r.st_name == n) return r.t;
  throw FormatError("unknown dtype \"" + std::string(name) + "\"");
}

uint16_t f32_to_f16(float f) {
  uint32_t x = f32_bits(f);
  uint16_t sign = uint16_t((x >> 16) & 0x8000);
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return sign | (ax > 0x7f800000u ? 0x7e00 : 0x7c00);  // NaN / Inf
  if (ax >= 0x477ff000u) return sign | 0x7c00;  // rounds to >= 65520: overflow to Inf
  if (ax < 0x38800000u) {                         // below the smallest normal half (2^-14)
    // Subnormal half: round(|f| * 2^24) with ties to even, done exactly in integer arithmetic.
    if (ax < 0x33000000u) return sign;            // < 2^-25 rounds to zero
    uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;
    int shift = 126 - int(e);                     // m * 2^(e-150) * 2^24 = m >> (126 - e)
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    return sign | uint16_t(q);
  }
  uint32_t r = ax - 0x38000000u;  // rebias exponent 127 -> 15 (shifted by 13 below)
  uint32_t q = r >> 13, rem = r & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) q++;
  return sign | uint16_t(q);
}

uint16_t f32_to_bf16(float f) {
  uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40);  // quiet NaN
  x += 0x7fff + ((x >> 16) & 1);
  return uint16_t(x >> 16);
}

void convert_to_f32(DType t, const void* src, size_t n, float* dst) {
  auto* b = static_cast<const uint8_t*>(src);
  switch (t) {
    case DType::F32: std::memcpy(dst, b, n * 4); return;
    case DType::F16:
      for (size_t i = 0; i < n; ++i) { uint16_t h; std::memcpy(&h, b + 2 * i, 2); dst[i] = f16_to_f32(h); }
      return;
    case DType::BF16:
      for (size_t i = 0; i < n; ++i) { uint16_t h; std::memcpy(&h, b + 2 * i, 2); dst[i] = bf16_to_f32(h); }
      return;
    case DType::F64:
      for (size_t i = 0; i < n; ++i) { double d; std::memcpy(&d, b + 8 * i, 8); dst[i] = float(d); }
      return;
    case DType::F8E4M3:
      for (size_t i = 0; i < n; ++i) dst[i] = fp8_e4m3_to_float(b[i]);
      return;
    case DType::F8E5M2:
      for (size_t i = 0; i < n; ++i) dst[i] = fp8_e5m2_to_float(b[i]);
      return;
    default:
      throw ValueError("cannot convert " + std::string(dtype_name(t)) + " to float32");
  }
}

void convert_from_f32(DType t, const float* src, size_t n, void* dst) {
  auto* b = static_cast<uint8_t*>(dst);
  switch (t) {
    case DType::F32: std::memcpy(b, src, n * 4); return;
    case DType::F16:
      for (size_t i = 0; i < n; ++i) { uint16_t h = f32_to_f16(src[i]); std::memcpy(b + 2 * i, &h, 2); }
      return;
    case DType::BF16:
      for (size_t i = 0; i < n; ++i) { uint16_t h = f32_to_bf16(src[i]); std::memcpy(b + 2 * i, &h, 2); }
      return;
    case DType::F64:
      for (size_t i = 0; i < n; ++i) { double d = src[i]; std::memcpy(b + 8 * i, &d, 8); }
      return;
    case DType::F8E4M3:
      for (size_t i = 0; i < n; ++i) b[i] = fp8_e4m3_from_float(src[i]);
      return;
    case DType::F8E5M2:
      for (size_t i = 0; i < n; ++i) b[i] = fp8_e5m2_from_float(src[i]);
      return;
    default:
      throw ValueError("cannot convert float32 to " + std::string(dtype_name(t)));
  }
}

}  // namespace arrowquant
