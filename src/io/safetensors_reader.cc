#include "io/safetensors_reader.h"

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "arrowquant/error.h"

namespace arrowquant {

namespace {
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // the reference implementation's limit

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw FormatError(path + ": invalid safetensors file: " + what);
}
}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : map_(std::make_unique<MappedFile>(path)) {
  SafetensorsContents c = parse_safetensors(map_->data(), map_->size(), path);
  tensors_ = std::move(c.tensors);
  metadata_ = std::move(c.metadata);
}

SafetensorsContents parse_safetensors(const uint8_t* base, size_t size, const std::string& path) {
  SafetensorsContents out;
  std::vector<TensorView>& tensors = out.tensors;
  std::map<std::string, std::string>& metadata = out.metadata;
  if (size < 8) fail(path, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  uint64_t hlen;
  std::memcpy(&hlen, base, 8);
  if (hlen > kMaxHeaderBytes) fail(path, "header length " + std::to_string(hlen) + " is implausible");
  if (8 + hlen > size)
    fail(path, "header length " + std::to_string(hlen) + " runs past the end of the file (" +
                   std::to_string(size) + " bytes): truncated?");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(base + 8, base + 8 + hlen);
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail(path, "header is not a JSON object");
  const uint8_t* data = base + 8 + hlen;
  const uint64_t data_size = size - 8 - hlen;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(path, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m)
        if (m.value().is_string()) metadata[m.key()] = m.value().get<std::string>();
      continue;
    }
    const std::string where = "tensor \"" + name + "\"";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      fail(path, where + " lacks dtype, shape or data_offsets");
    if (!v["dtype"].is_string()) fail(path, where + ": dtype is not a string");
    TensorView t;
    t.name = name;
    try {
      t.dtype = dtype_from_safetensors(v["dtype"].get<std::string>());
    } catch (const FormatError& e) {
      fail(path, where + ": " + e.what());
    }
    if (!v["shape"].is_array()) fail(path, where + ": shape is not an array");
    for (const auto& d : v["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) fail(path, where + ": shape has a bad dimension");
      t.shape.push_back(d.get<int64_t>());
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(path, where + ": data_offsets must be two non-negative integers");
    uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e) fail(path, where + ": data_offsets begin > end");
    if (e > data_size)
      fail(path, where + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                     ") out of range: the data section has " + std::to_string(data_size) + " bytes (truncated?)");
    const uint64_t want = uint64_t(num_elements(t.shape)) * dtype_size(t.dtype);
    if (e - b != want)
      fail(path, where + ": holds " + std::to_string(e - b) + " bytes but " +
                     std::string(dtype_safetensors_name(t.dtype)) + " x " + shape_str(t.shape) + " needs " +
                     std::to_string(want));
    t.data = data + b;
    t.nbytes = size_t(e - b);
    tensors.push_back(std::move(t));
  }
  // Overlap check on the sorted ranges.
  std::vector<const TensorView*> by_offset;
  for (auto& t : tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->data < b->data; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorView *p = by_offset[i - 1], *q = by_offset[i];
    if (p->data + p->nbytes > q->data)
      fail(path, "tensors \"" + p->name + "\" and \"" + q->name + "\" overlap");
  }
  return out;
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  for (auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace arrowquant
