// A GGUF v3 file laid out before it is written: the metadata entries and the tensor table make the
// head, then each tensor's bytes follow at its aligned offset, in the order they were added. The
// head is built whole (it is small); the data is streamed by the caller one tensor at a time.
#pragma once
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace arrowquant {

class GgufLayout {
 public:
  // One entry as GgufFile::raw_entry() returns it (key, type and value), copied byte for byte.
  void add_entry(const std::vector<uint8_t>& raw);
  void add_string(const std::string& key, const std::string& value);
  void add_u32(const std::string& key, uint32_t value);
  void add_f32(const std::string& key, float value);
  void add_bool(const std::string& key, bool value);
  void add_string_array(const std::string& key, const std::vector<std::string>& values);
  void add_i32_array(const std::string& key, const std::vector<int32_t>& values);
  // dims in ggml order (dims[0] is the row length); nbytes as the type and dims give them.
  void add_tensor(const std::string& name, const std::vector<int64_t>& dims, uint32_t type, size_t nbytes);

  // Another type of the same size for tensor i (a writer that chooses after encoding rewrites the
  // head, whose size does not change).
  void set_tensor_type(size_t i, uint32_t type) { tensors_.at(i).type = type; }
  // Header, metadata, tensor table and, when there are tensors, the padding to the data section.
  std::vector<uint8_t> head() const;
  // Bytes of zeros that follow a tensor of n bytes (so the next one starts aligned).
  static size_t padding_after(size_t n);
  size_t tensor_count() const { return tensors_.size(); }

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> dims;
    uint32_t type;
    uint64_t offset;
  };
  std::vector<std::vector<uint8_t>> entries_;
  std::vector<Tensor> tensors_;
  uint64_t data_bytes_ = 0;
};

// Writes n bytes and the padding that aligns what follows; throws IoError naming `path` on failure.
void write_tensor_data(std::ostream& out, const uint8_t* bytes, size_t n, const std::string& path);

}  // namespace arrowquant
