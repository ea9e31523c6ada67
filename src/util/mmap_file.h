// A read-only memory map of a whole file. Readers hand out pointers into it, so it must outlive them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace arrowquant {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws IoError
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  bool contains(const void* p, size_t n = 1) const {
    auto* b = static_cast<const uint8_t*>(p);
    return b >= data_ && n <= size_ && b <= data_ + size_ - n;
  }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace arrowquant
