// Files written atomically (temporary name, then rename) and whole-file reads.
#pragma once
#include <string>

namespace arrowquant {

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

void write_text_file(const std::string& path, const std::string& text);  // atomic, binary-safe
std::string read_text_file(const std::string& path);                     // throws IoError

}  // namespace arrowquant
