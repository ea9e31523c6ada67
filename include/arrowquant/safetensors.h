// Safetensors: https://github.com/huggingface/safetensors format. 8-byte little-endian header length,
// a JSON header, then the tensor bytes. Every header is validated before any tensor is handed out.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "arrowquant/mmap_file.h"
#include "arrowquant/tensor.h"

namespace arrowquant {

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

struct SafetensorsWriteItem {
  std::string name;
  DType dtype;
  Shape shape;
  const void* data;  // dtype x shape bytes
};

// Writes a safetensors file atomically (temporary name, then rename).
void write_safetensors(const std::string& path, const std::vector<SafetensorsWriteItem>& items,
                       const std::map<std::string, std::string>& metadata = {});

// The same, one tensor at a time: items give names, dtypes and shapes (data is ignored), and
// produce(i) returns item i's bytes just before they are written, so only one tensor is in memory.
using SafetensorsProducer = std::function<std::vector<uint8_t>(size_t)>;
void write_safetensors_streaming(const std::string& path, const std::vector<SafetensorsWriteItem>& items,
                                 const SafetensorsProducer& produce,
                                 const std::map<std::string, std::string>& metadata = {});

}  // namespace arrowquant
