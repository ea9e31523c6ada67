// GGUF facts shared by the reader and the writer: the header, the metadata value types, the data
// alignment, and llama.cpp's names for the tensors and architectures we read and write (its
// convert_hf_to_gguf.py and llama-arch.cpp are the reference).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace arrowquant::gguf {

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr uint32_t kVersion = 3;         // what we write; v2 and v3 are read
constexpr size_t kDefaultAlignment = 32;  // of the data section and of every tensor in it

enum ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9,
  U64 = 10, I64 = 11, F64 = 12
};

struct Architecture {
  const char* gguf;        // general.architecture
  const char* model_type;  // config.json
  const char* hf_class;
  bool permuted_qk;        // llama.cpp's converter interleaves the rotary halves of Q and K rows
};
// nullptr for an architecture neither reader nor writer handles.
const Architecture* architecture_by_gguf(const std::string& name);
const Architecture* architecture_by_model_type(const std::string& model_type);

// "blk.3.attn_q.weight" <-> "model.layers.3.self_attn.q_proj.weight"; a name outside the table is
// returned unchanged.
std::string hf_name(const std::string& gguf_name);
std::string gguf_name(const std::string& hf_name);

// Whether a tensor (by Hugging Face name) is a query or a key projection (their rows are permuted
// where Architecture::permuted_qk).
bool is_query(const std::string& hf_name);
bool is_key(const std::string& hf_name);

}  // namespace arrowquant::gguf
