#include "arrowquant/util.h"

#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "arrowquant/error.h"

namespace fs = std::filesystem;

namespace arrowquant {

int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? int(n) : 1;
}

uint64_t checksum_bytes(const void* a, size_t na, const void* b, size_t nb, const void* c, size_t nc) {
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  if (na) XXH3_64bits_update(st, a, na);
  if (nb) XXH3_64bits_update(st, b, nb);
  if (nc) XXH3_64bits_update(st, c, nc);
  uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

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

double now_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

std::string human_bytes(double b) {
  char buf[32];
  if (b >= 1e9) snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
  else if (b >= 1e6) snprintf(buf, sizeof buf, "%.2f MB", b / 1e6);
  else if (b >= 1e3) snprintf(buf, sizeof buf, "%.1f kB", b / 1e3);
  else snprintf(buf, sizeof buf, "%.0f B", b);
  return buf;
}

namespace {
std::atomic<bool> g_interrupt{false};
extern "C" void on_signal(int) { g_interrupt.store(true); }
}  // namespace
bool interrupt_requested() { return g_interrupt.load(); }
void install_interrupt_handler() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

}  // namespace arrowquant
