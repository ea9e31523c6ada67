#include "io/safetensors_writer.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "arrowquant/error.h"
#include "util/files.h"

namespace arrowquant {

void write_safetensors_streaming(const std::string& path, const std::vector<SafetensorsWriteItem>& items,
                                 const SafetensorsProducer& produce,
                                 const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t off = 0;
  for (const auto& it : items) {
    uint64_t n = uint64_t(num_elements(it.shape)) * dtype_size(it.dtype);
    header[it.name] = {{"dtype", dtype_safetensors_name(it.dtype)},
                       {"shape", it.shape},
                       {"data_offsets", {off, off + n}}};
    off += n;
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8) h.push_back(' ');  // keep the data section 8-byte aligned
  AtomicFile f(path);
  {
    std::ofstream out(f.temp_path(), std::ios::binary);
    uint64_t hlen = h.size();
    out.write(reinterpret_cast<const char*>(&hlen), 8);
    out.write(h.data(), std::streamsize(h.size()));
    for (size_t i = 0; i < items.size(); ++i) {
      std::vector<uint8_t> bytes = produce(i);
      const uint64_t want = uint64_t(num_elements(items[i].shape)) * dtype_size(items[i].dtype);
      if (bytes.size() != want)
        throw ValueError("tensor " + items[i].name + ": produced " + std::to_string(bytes.size()) +
                         " bytes, expected " + std::to_string(want));
      out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    }
    out.flush();
    if (!out) throw IoError("short write to " + f.temp_path() + " (disk full?)");
  }
  f.commit();
}

void write_safetensors(const std::string& path, const std::vector<SafetensorsWriteItem>& items,
                       const std::map<std::string, std::string>& metadata) {
  write_safetensors_streaming(
      path, items,
      [&](size_t i) {
        auto* p = static_cast<const uint8_t*>(items[i].data);
        return std::vector<uint8_t>(p, p + size_t(num_elements(items[i].shape)) * dtype_size(items[i].dtype));
      },
      metadata);
}

}  // namespace arrowquant
