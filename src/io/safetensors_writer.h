// Writes safetensors files (8-byte header length, JSON header, tensor bytes), atomically.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "arrowquant/tensor.h"

namespace arrowquant {

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
