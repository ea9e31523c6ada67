// GGUF (llama.cpp's file format) metadata reader: enough to take a tokenizer vocabulary from a GGUF
// file (tokenizer.ggml.*). Tensor data is not read. Every length is checked against the file size.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace arrowquant {

class GgufFile {
 public:
  // Throws FormatError naming the file for a bad magic, unknown version or value type, or any
  // length that runs past the end of the file.
  explicit GgufFile(const std::string& path);
  // The same from the file's bytes already in memory.
  GgufFile(const uint8_t* bytes, size_t size, const std::string& path);
  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t tensor_count() const { return tensor_count_; }
  // Metadata as JSON values (arrays of strings or numbers become JSON arrays).
  const std::map<std::string, nlohmann::json>& metadata() const { return kv_; }
  bool has(const std::string& key) const { return kv_.count(key) > 0; }
  // FormatError naming the key when it is missing.
  const nlohmann::json& at(const std::string& key) const;

 private:
  void parse(const uint8_t* bytes, size_t size);
  std::string path_;
  uint32_t version_ = 0;
  uint64_t tensor_count_ = 0;
  std::map<std::string, nlohmann::json> kv_;
};

}  // namespace arrowquant
