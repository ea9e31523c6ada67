#include "util/files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "arrowquant/error.h"

namespace fs = std::filesystem;

namespace arrowquant {

namespace {
std::string temp_sibling(const std::string& final_path, const char* tag) {
  fs::path p(final_path);
  std::string leaf = p.filename().string();
  fs::path parent = p.has_parent_path() ? p.parent_path() : fs::path(".");
  return (parent / ("." + leaf + "." + tag + "-" + std::to_string(::getpid()))).string();
}

void require_writable_dir(const fs::path& dir, const std::string& what) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw IoError("cannot write " + what + ": directory " + dir.string() + " does not exist");
  if (::access(dir.c_str(), W_OK) != 0)
    throw IoError("cannot write " + what + ": directory " + dir.string() + " is not writable");
}

fs::path parent_of(const std::string& path) {
  fs::path p(path);
  return p.has_parent_path() ? p.parent_path() : fs::path(".");
}
}  // namespace

AtomicFile::AtomicFile(std::string final_path) : final_(std::move(final_path)) {
  require_writable_dir(parent_of(final_), final_);
  temp_ = temp_sibling(final_, "partial");
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

void AtomicFile::commit() {
  std::error_code ec;
  fs::rename(temp_, final_, ec);
  if (ec) throw IoError("cannot rename " + temp_ + " to " + final_ + ": " + ec.message());
  committed_ = true;
}

AtomicDir::AtomicDir(std::string final_dir, bool overwrite)
    : final_(std::move(final_dir)), overwrite_(overwrite) {
  while (final_.size() > 1 && final_.back() == '/') final_.pop_back();
  std::error_code mk;
  fs::create_directories(parent_of(final_), mk);  // like mkdir -p; failures surface just below
  require_writable_dir(parent_of(final_), final_);
  std::error_code ec;
  if (fs::exists(final_, ec) && !overwrite_)
    throw IoError("output " + final_ + " already exists (use --force to replace it)");
  temp_ = temp_sibling(final_, "partial");
  fs::remove_all(temp_, ec);
  if (!fs::create_directory(temp_, ec))
    throw IoError("cannot create " + temp_ + ": " + ec.message());
}

AtomicDir::~AtomicDir() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(temp_, ec);
  }
}

void AtomicDir::commit() {
  std::error_code ec;
  std::string old;
  if (fs::exists(final_, ec)) {
    old = temp_sibling(final_, "old");
    fs::rename(final_, old, ec);
    if (ec) throw IoError("cannot move old " + final_ + " aside: " + ec.message());
  }
  fs::rename(temp_, final_, ec);
  if (ec) {
    if (!old.empty()) fs::rename(old, final_, ec);
    throw IoError("cannot rename " + temp_ + " to " + final_ + ": " + ec.message());
  }
  committed_ = true;
  if (!old.empty()) fs::remove_all(old, ec);
}

void write_text_file(const std::string& path, const std::string& text) {
  AtomicFile f(path);
  {
    std::ofstream out(f.temp_path(), std::ios::binary);
    out << text;
    out.flush();
    if (!out) throw IoError("cannot write " + path);
  }
  f.commit();
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}




}  // namespace arrowquant
