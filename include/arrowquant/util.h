// Small shared helpers: threads, atomic output, checksums, time.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace arrowquant {

// Runs fn(begin, end) over [0, n) split into contiguous ranges on up to `threads` threads
// (0 = hardware concurrency). Exceptions from workers are rethrown on the caller's thread.
void parallel_for(int64_t n, int threads, const std::function<void(int64_t, int64_t)>& fn);
int default_threads();

// Checksum stored per Parquet row: XXH3-64 over the concatenation of the given byte ranges.
uint64_t checksum_bytes(const void* a, size_t na, const void* b = nullptr, size_t nb = 0,
                        const void* c = nullptr, size_t nc = 0);

// A file written under a temporary name in the destination's directory and renamed into place by
// commit(); destroyed without commit() it removes the temporary. An interrupted write therefore
// never leaves a file under the final name.
class AtomicFile {
 public:
  explicit AtomicFile(std::string final_path);
  ~AtomicFile();
  const std::string& temp_path() const { return temp_; }
  void commit();  // throws IoError

 private:
  std::string final_, temp_;
  bool committed_ = false;
};

// The same for a whole directory.
class AtomicDir {
 public:
  // Throws IoError when the parent is not writable, or when final_dir exists and overwrite is false.
  AtomicDir(std::string final_dir, bool overwrite);
  ~AtomicDir();
  const std::string& temp_path() const { return temp_; }
  void commit();

 private:
  std::string final_, temp_;
  bool overwrite_, committed_ = false;
};

void write_text_file(const std::string& path, const std::string& text);  // atomic
std::string read_text_file(const std::string& path);                     // throws IoError

double now_seconds();
std::string human_bytes(double bytes);

// Set from a SIGINT/SIGTERM handler; long loops check it and stop cleanly.
bool interrupt_requested();
void install_interrupt_handler();

}  // namespace arrowquant
