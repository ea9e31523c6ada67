// Safetensors: https://github.com/huggingface/safetensors format. 8-byte little-endian header length,
// a JSON header, then the tensor bytes. Every header is validated before any tensor is handed out.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "util/mmap_file.h"
#include "arrowquant/tensor.h"

namespace arrowquant {

// The tensors and metadata a safetensors file's header describes, as views into `bytes` (the whole
// file). Validated as below; FormatError naming `path` and the tensor.
struct SafetensorsContents {
  std::vector<TensorView> tensors;
  std::map<std::string, std::string> metadata;
};
SafetensorsContents parse_safetensors(const uint8_t* bytes, size_t size, const std::string& path);

class SafetensorsFile {
 public:
  // Maps and validates the file: header length in bounds, valid JSON, known dtypes, every tensor's
  // byte range inside the data section, sized dtype x shape, ranges not overlapping. Throws
  // FormatError naming the file and tensor.
  explicit SafetensorsFile(const std::string& path);
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const MappedFile& mapping() const { return *map_; }

 private:
  std::unique_ptr<MappedFile> map_;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace arrowquant
