// The tensor types of llama.cpp's GGUF files (ggml's type traits, as far as we need them): name,
// elements per block, bytes per block, the dequantisation of a run of blocks to float32 (written from
// the format's definition and checked bit for bit against the `gguf` package's dequantiser,
// tests/goldens/gguf) and, for the types an export writes, the encoding. Types known by name but not
// dequantised here are refused by name, never guessed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace arrowquant::ggml {

// The ids a reader names itself; the full table is in ggml_types.cc.
enum TypeId : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kIQ4_NL = 20, kBF16 = 30, kNVFP4 = 40,
  // AngelSlim's 2-bit SEQ type, Q2_0C (llama.cpp pull request 19357, not merged): files made by that
  // branch store it as type 40, which upstream llama.cpp gave to NVFP4. The reader tells the two apart
  // by the bytes a tensor occupies (NVFP4 needs 2.2 times Q2_0C's) and names Q2_0C by this id, which no
  // ggml build uses.
  kQ2_0C = 0x10000 | 40,
};

struct TypeInfo {
  uint32_t id;              // ggml_type
  std::string_view name;    // "Q4_K", ...
  int64_t block = 1;        // elements per block (along the row)
  size_t block_bytes = 0;   // bytes per block
  // n elements (a multiple of block) from their blocks at src (any alignment) to dst.
  void (*to_f32)(const uint8_t* src, float* dst, int64_t n) = nullptr;  // nullptr: not supported here
  // n floats (a multiple of block) into blocks (what an export writes); nullptr: not written here.
  void (*from_f32)(const float* src, uint8_t* dst, int64_t n) = nullptr;
  // Types our format table holds exactly (Q4_0, Q5_0, Q8_0: the symmetric grids of 4, 5 and 8 bits
  // in groups of 32; Q2_0C: the half-offset 2-bit grid in groups of 512): one block's codes as our
  // codes (one byte per weight, in order) and the bits of our float16 scale. nullptr for every other type.
  void (*to_codes)(const uint8_t* block, uint8_t* codes, uint16_t* scale) = nullptr;
  int code_bits = 0;         // the width of those codes
  bool half_grid = false;    // our half-offset grid (no level at zero) rather than the symmetric one
};

// nullptr for an id ggml does not define.
const TypeInfo* type_info(uint32_t id);
// "type 23 (IQ4_XS)" for messages.
std::string type_label(uint32_t id);
// The ids whose blocks this reader dequantises, for messages: "F32, F16, BF16, Q4_0, ...".
std::string supported_type_names();

}  // namespace arrowquant::ggml
