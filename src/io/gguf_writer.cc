#include "io/gguf_writer.h"

#include <cstring>

#include "arrowquant/error.h"
#include "io/gguf_format.h"

namespace arrowquant {

namespace {

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.insert(out.end(), b, b + sizeof(T));
}

void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

std::vector<uint8_t> entry(const std::string& key, uint32_t type) {
  std::vector<uint8_t> e;
  put_string(e, key);
  put<uint32_t>(e, type);
  return e;
}

}  // namespace

void GgufLayout::add_entry(const std::vector<uint8_t>& raw) { entries_.push_back(raw); }

void GgufLayout::add_string(const std::string& key, const std::string& value) {
  auto e = entry(key, gguf::STRING);
  put_string(e, value);
  entries_.push_back(std::move(e));
}

void GgufLayout::add_u32(const std::string& key, uint32_t value) {
  auto e = entry(key, gguf::U32);
  put<uint32_t>(e, value);
  entries_.push_back(std::move(e));
}

void GgufLayout::add_f32(const std::string& key, float value) {
  auto e = entry(key, gguf::F32);
  put<float>(e, value);
  entries_.push_back(std::move(e));
}

void GgufLayout::add_bool(const std::string& key, bool value) {
  auto e = entry(key, gguf::BOOL);
  put<uint8_t>(e, value ? 1 : 0);
  entries_.push_back(std::move(e));
}

void GgufLayout::add_string_array(const std::string& key, const std::vector<std::string>& values) {
  auto e = entry(key, gguf::ARRAY);
  put<uint32_t>(e, gguf::STRING);
  put<uint64_t>(e, values.size());
  for (const auto& v : values) put_string(e, v);
  entries_.push_back(std::move(e));
}

void GgufLayout::add_i32_array(const std::string& key, const std::vector<int32_t>& values) {
  auto e = entry(key, gguf::ARRAY);
  put<uint32_t>(e, gguf::I32);
  put<uint64_t>(e, values.size());
  for (int32_t v : values) put<int32_t>(e, v);
  entries_.push_back(std::move(e));
}

void GgufLayout::add_tensor(const std::string& name, const std::vector<int64_t>& dims, uint32_t type, size_t nbytes) {
  tensors_.push_back({name, dims, type, data_bytes_});
  data_bytes_ += nbytes + padding_after(nbytes);
}

size_t GgufLayout::padding_after(size_t n) {
  return (gguf::kDefaultAlignment - n % gguf::kDefaultAlignment) % gguf::kDefaultAlignment;
}

std::vector<uint8_t> GgufLayout::head() const {
  std::vector<uint8_t> out(gguf::kMagic, gguf::kMagic + 4);
  put<uint32_t>(out, gguf::kVersion);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, entries_.size());
  for (const auto& e : entries_) out.insert(out.end(), e.begin(), e.end());
  for (const auto& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, uint32_t(t.dims.size()));
    for (int64_t d : t.dims) put<uint64_t>(out, uint64_t(d));
    put<uint32_t>(out, t.type);
    put<uint64_t>(out, t.offset);
  }
  if (!tensors_.empty()) out.resize(out.size() + padding_after(out.size()), 0);
  return out;
}

void write_tensor_data(std::ostream& out, const uint8_t* bytes, size_t n, const std::string& path) {
  static const char zeros[gguf::kDefaultAlignment] = {};
  out.write(reinterpret_cast<const char*>(bytes), std::streamsize(n));
  out.write(zeros, std::streamsize(GgufLayout::padding_after(n)));
  if (!out) throw IoError("cannot write " + path);
}

}  // namespace arrowquant
