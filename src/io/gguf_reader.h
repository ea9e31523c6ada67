// GGUF (llama.cpp's file format) v2/v3: the header, the metadata (as JSON values) and the tensor
// table, every length, count, offset and size checked against the file before anything is handed
// out: tensors lie inside the data section, aligned, of the size their type and shape give, and do
// not overlap. Tensor data stays in the memory map.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace arrowquant {

class MappedFile;

struct GgufTensor {
  std::string name;
  std::vector<int64_t> dims;  // ggml order: dims[0] varies fastest (the row length)
  uint32_t type = 0;          // ggml_type (io/ggml_types.h)
  uint64_t offset = 0;        // in the data section
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  int64_t elements() const;
};

class GgufFile {
 public:
  // Throws FormatError naming the file for a bad magic, unknown version or value type, any length
  // that runs past the end of the file, or a tensor table that does not fit the data.
  explicit GgufFile(const std::string& path);
  // The same from the file's bytes already in memory (they must outlive this object).
  GgufFile(const uint8_t* bytes, size_t size, const std::string& path);
  ~GgufFile();
  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t tensor_count() const { return tensors_.size(); }
  // Metadata as JSON values (arrays of strings or numbers become JSON arrays).
  const std::map<std::string, nlohmann::json>& metadata() const { return kv_; }
  bool has(const std::string& key) const { return kv_.count(key) > 0; }
  // FormatError naming the key when it is missing.
  const nlohmann::json& at(const std::string& key) const;
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find(const std::string& name) const;
  size_t alignment() const { return alignment_; }
  // The metadata entry of `key` byte for byte (key, type and value), to copy into another GGUF;
  // empty when the key is absent.
  std::vector<uint8_t> raw_entry(const std::string& key) const;
  // A GGUF of this file's general.architecture and tokenizer.* metadata alone, without tensors (what
  // llama.cpp calls a vocab-only file): a quantised model's tokenizer and chat template, unchanged.
  std::vector<uint8_t> vocabulary_file() const;

 private:
  void parse(const uint8_t* bytes, size_t size);
  std::string path_;
  std::unique_ptr<MappedFile> map_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  std::map<std::string, nlohmann::json> kv_;
  const uint8_t* bytes_ = nullptr;
  std::map<std::string, std::pair<size_t, size_t>> kv_spans_;  // key → (offset, bytes) of its entry
  std::vector<GgufTensor> tensors_;
};

}  // namespace arrowquant
