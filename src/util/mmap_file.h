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
  // Lets go of the whole pages inside [p, p + n) (they stay in the page cache): a reader that has
  // checked bytes it may never read again (a checksum over a table of which a run touches a few
  // rows) keeps them out of the process's resident set. Later reads fault them back in.
  void release(const void* p, size_t n) const;
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
