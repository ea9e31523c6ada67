#include "io/gguf_reader.h"

#include <cstring>

#include "arrowquant/error.h"
#include "util/mmap_file.h"

namespace arrowquant {

namespace {

enum GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9,
  U64 = 10, I64 = 11, F64 = 12
};

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

}  // namespace

GgufFile::GgufFile(const std::string& path) : path_(path) {
  MappedFile map(path);
  parse(map.data(), map.size());
}

GgufFile::GgufFile(const uint8_t* bytes, size_t size, const std::string& path) : path_(path) { parse(bytes, size); }

void GgufFile::parse(const uint8_t* bytes, size_t size) {
  Reader r(bytes, size, path_);
  if (size < 4 || std::memcmp(bytes, "GGUF", 4) != 0) r.fail("missing GGUF magic");
  r.get<uint32_t>();
  version_ = r.get<uint32_t>();
  if (version_ < 2 || version_ > 3) r.fail("version " + std::to_string(version_) + " is not supported (2 or 3)");
  tensor_count_ = r.get<uint64_t>();
  uint64_t kv_count = r.get<uint64_t>();
  if (kv_count > size) r.fail("implausible metadata count");
  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key = r.str();
    uint32_t type = r.get<uint32_t>();
    kv_[key] = r.value(type);
  }
}

const nlohmann::json& GgufFile::at(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) throw FormatError(path_ + ": GGUF metadata has no '" + key + "'");
  return it->second;
}

}  // namespace arrowquant
