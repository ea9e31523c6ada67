#include "io/gguf_reader.h"

#include <algorithm>
#include <cstring>

#include "arrowquant/error.h"
#include "io/ggml_types.h"
#include "io/gguf_format.h"
#include "io/gguf_writer.h"
#include "util/mmap_file.h"

namespace arrowquant {

namespace {

using namespace gguf;  // the value types

class Reader {
 public:
  Reader(const uint8_t* p, size_t n, const std::string& path) : p_(p), n_(n), path_(path) {}
  template <class T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, p_ + off_, sizeof(T));
    off_ += sizeof(T);
    return v;
  }
  std::string str() {
    uint64_t len = get<uint64_t>();
    need(len);
    std::string s(reinterpret_cast<const char*>(p_ + off_), size_t(len));
    off_ += size_t(len);
    return s;
  }
  nlohmann::json value(uint32_t type, int depth = 0) {
    switch (type) {
      case U8: return get<uint8_t>();
      case I8: return get<int8_t>();
      case U16: return get<uint16_t>();
      case I16: return get<int16_t>();
      case U32: return get<uint32_t>();
      case I32: return get<int32_t>();
      case F32: return get<float>();
      case BOOL: return get<uint8_t>() != 0;
      case STRING: return str();
      case U64: return get<uint64_t>();
      case I64: return get<int64_t>();
      case F64: return get<double>();
      case ARRAY: {
        if (depth > 2) fail("arrays nested too deeply");
        uint32_t et = get<uint32_t>();
        uint64_t count = get<uint64_t>();
        if (count > n_ - off_) fail("array of " + std::to_string(count) + " values is longer than the file");
        nlohmann::json a = nlohmann::json::array();
        for (uint64_t i = 0; i < count; ++i) a.push_back(value(et, depth + 1));
        return a;
      }
      default:
        fail("unknown value type " + std::to_string(type));
    }
    return nullptr;
  }
  size_t offset() const { return off_; }
  [[noreturn]] void fail(const std::string& why) const {
    throw FormatError(path_ + ": not a valid GGUF file: " + why + " (at byte " + std::to_string(off_) + ")");
  }

 private:
  void need(uint64_t k) const {
    if (k > n_ - off_) fail("truncated");
  }
  const uint8_t* p_;
  size_t n_, off_ = 0;
  const std::string& path_;
};

// Type 40 is NVFP4 upstream and Q2_0C in llama.cpp pull request 19357's branch (AngelSlim's 2-bit
// files). A GGUF stores no tensor sizes, but each tensor's data runs up to the next one's: NVFP4
// needs 36 bytes per 64 weights, Q2_0C 130 per 512, so a tensor whose space cannot hold NVFP4 is Q2_0C.
uint32_t resolve_type_40(const GgufTensor& t, uint64_t space) {
  const auto* nvfp4 = ggml::type_info(ggml::kNVFP4);
  const auto* q2_0c = ggml::type_info(ggml::kQ2_0C);
  const auto bytes = [&](const ggml::TypeInfo* type) { return uint64_t(t.elements() / type->block) * type->block_bytes; };
  if (t.dims[0] % nvfp4->block == 0 && bytes(nvfp4) <= space) return ggml::kNVFP4;
  if (t.dims[0] % q2_0c->block == 0 && bytes(q2_0c) <= space) return ggml::kQ2_0C;
  return ggml::kNVFP4;  // neither fits: reported below as an NVFP4 tensor that lies outside the file
}

}  // namespace

int64_t GgufTensor::elements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

GgufFile::GgufFile(const std::string& path) : path_(path), map_(std::make_unique<MappedFile>(path)) {
  parse(map_->data(), map_->size());
}

GgufFile::GgufFile(const uint8_t* bytes, size_t size, const std::string& path) : path_(path) { parse(bytes, size); }

GgufFile::~GgufFile() = default;

void GgufFile::parse(const uint8_t* bytes, size_t size) {
  Reader r(bytes, size, path_);
  if (size < 4 || std::memcmp(bytes, "GGUF", 4) != 0) r.fail("missing GGUF magic");
  r.get<uint32_t>();
  version_ = r.get<uint32_t>();
  if (version_ < 2 || version_ > 3) r.fail("version " + std::to_string(version_) + " is not supported (2 or 3)");
  const uint64_t tensor_count = r.get<uint64_t>();
  const uint64_t kv_count = r.get<uint64_t>();
  if (kv_count > size) r.fail("implausible metadata count");
  // Each tensor entry takes at least 8 + 4 + 8 + 4 + 8 bytes: more than the file holds is damage.
  if (tensor_count > size / 32) r.fail("implausible tensor count " + std::to_string(tensor_count));
  bytes_ = bytes;
  for (uint64_t i = 0; i < kv_count; ++i) {
    const size_t start = r.offset();
    std::string key = r.str();
    uint32_t type = r.get<uint32_t>();
    kv_[key] = r.value(type);
    kv_spans_[key] = {start, r.offset() - start};
  }
  if (auto it = kv_.find("general.alignment"); it != kv_.end()) {
    if (!it->second.is_number_unsigned() || it->second.get<uint64_t>() == 0 || it->second.get<uint64_t>() > 65536 ||
        (it->second.get<uint64_t>() & (it->second.get<uint64_t>() - 1)) != 0)
      r.fail("general.alignment must be a power of two up to 65536");
    alignment_ = size_t(it->second.get<uint64_t>());
  }
  tensors_.reserve(size_t(tensor_count));
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensor t;
    t.name = r.str();
    const uint32_t n_dims = r.get<uint32_t>();
    if (n_dims == 0 || n_dims > 4) r.fail("tensor " + t.name + " has " + std::to_string(n_dims) + " dimensions (1 to 4)");
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = r.get<uint64_t>();
      if (ne == 0 || ne > (uint64_t(1) << 40)) r.fail("tensor " + t.name + " has a dimension of " + std::to_string(ne));
      t.dims.push_back(int64_t(ne));
    }
    t.type = r.get<uint32_t>();
    t.offset = r.get<uint64_t>();
    tensors_.push_back(std::move(t));
  }
  const size_t data_start = (r.offset() + alignment_ - 1) / alignment_ * alignment_;
  if (data_start > size && !tensors_.empty()) r.fail("the data section starts past the end of the file (truncated?)");
  const size_t data_size = data_start <= size ? size - data_start : 0;
  std::vector<uint64_t> starts;  // every tensor's offset, ascending: where each one's space ends
  for (const auto& t : tensors_) starts.push_back(t.offset);
  std::sort(starts.begin(), starts.end());
  std::map<std::string, size_t> names;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    GgufTensor& t = tensors_[i];
    const std::string where = "tensor " + t.name;
    if (!names.emplace(t.name, i).second) r.fail(where + " appears twice");
    const ggml::TypeInfo* type = ggml::type_info(t.type);
    if (!type) r.fail(where + " has an unknown ggml " + ggml::type_label(t.type));
    // Sizes: the element count fits easily (each dimension ≤ 2^40, checked against the file below).
    long double elements = 1;
    for (int64_t d : t.dims) elements *= (long double)d;
    if (elements > (long double)(uint64_t(1) << 50)) r.fail(where + " is implausibly large");
    if (t.type == ggml::kNVFP4) {
      auto next = std::upper_bound(starts.begin(), starts.end(), t.offset);
      const uint64_t end = next == starts.end() ? data_size : *next;
      t.type = resolve_type_40(t, end > t.offset ? end - t.offset : 0);
      type = ggml::type_info(t.type);
    }
    if (t.dims[0] % type->block != 0)
      r.fail(where + ": its rows of " + std::to_string(t.dims[0]) + " do not hold whole " + std::string(type->name) +
             " blocks of " + std::to_string(type->block));
    const uint64_t nbytes = uint64_t(t.elements() / type->block) * type->block_bytes;
    if (t.offset % alignment_ != 0) r.fail(where + " is not aligned to " + std::to_string(alignment_) + " bytes");
    if (t.offset > data_size || nbytes > data_size - t.offset)
      r.fail(where + " lies outside the file (offset " + std::to_string(t.offset) + ", " + std::to_string(nbytes) +
             " bytes, data section " + std::to_string(data_size) + "): truncated?");
    t.data = bytes + data_start + t.offset;
    t.nbytes = size_t(nbytes);
  }
  std::vector<const GgufTensor*> by_offset;
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i - 1]->offset + by_offset[i - 1]->nbytes > by_offset[i]->offset)
      r.fail("tensors " + by_offset[i - 1]->name + " and " + by_offset[i]->name + " overlap");
}

const GgufTensor* GgufFile::find(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<uint8_t> GgufFile::raw_entry(const std::string& key) const {
  auto it = kv_spans_.find(key);
  if (it == kv_spans_.end()) return {};
  return std::vector<uint8_t>(bytes_ + it->second.first, bytes_ + it->second.first + it->second.second);
}

std::vector<uint8_t> GgufFile::vocabulary_file() const {
  // The entries are copied byte for byte, so every value keeps its GGUF type.
  GgufLayout layout;
  for (const auto& [key, span] : kv_spans_)
    if (key.rfind("tokenizer.", 0) == 0 || key == "general.architecture") layout.add_entry(raw_entry(key));
  return layout.head();
}

const nlohmann::json& GgufFile::at(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) throw FormatError(path_ + ": GGUF metadata has no '" + key + "'");
  return it->second;
}

}  // namespace arrowquant
