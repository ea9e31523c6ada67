// Helpers shared by the tests: temporary folders, running the CLI, paths to the real models.
#pragma once
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace aqtest {

namespace fs = std::filesystem;

// What the E that fn throws says ("" when it throws none): tests check the message of an error.
template <class E, class Fn>
std::string message_of(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

inline std::string source_dir() { return AQ_SOURCE_DIR; }
inline std::string cli_path() { return AQ_CLI_PATH; }
inline std::string minilm_dir() { return source_dir() + "/models/all-MiniLM-L6-v2"; }
inline std::string stories_dir() { return source_dir() + "/models/stories260K"; }

// A fresh folder under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("aqtest-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& leaf) const { return (path_ / leaf).string(); }
  const fs::path& path() const { return path_; }
  // Names in the folder, hidden ones included (to prove nothing was left behind).
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (auto& e : fs::directory_iterator(path_)) out.push_back(e.path().filename().string());
    return out;
  }

 private:
  fs::path path_;
};

struct RunResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};

inline RunResult run_cli(const std::string& args) {
  std::string cmd = cli_path() + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  RunResult r{-1, ""};
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// A whole file as bytes, and split on a separator.
inline std::string slurp(const std::string& path) {
  FILE* f = fopen(path.c_str(), "rb");
  std::string s;
  if (!f) return s;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  fclose(f);
  return s;
}
inline std::vector<std::string> split(const std::string& all, const std::string& sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t p; (p = all.find(sep, start)) != std::string::npos; start = p + sep.size())
    parts.push_back(all.substr(start, p - start));
  parts.push_back(all.substr(start));
  return parts;
}
// "101 2023 102" → {101, 2023, 102}
inline std::vector<int32_t> parse_ids(const std::string& line) {
  std::vector<int32_t> ids;
  const char* p = line.c_str();
  char* end;
  for (long v = strtol(p, &end, 10); end != p; v = strtol(p, &end, 10)) {
    ids.push_back(int32_t(v));
    p = end;
  }
  return ids;
}

inline std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Runs the CLI with args and kills it (SIGKILL) once the checkpoint of out holds its second block.
inline void kill_after_second_block(const std::string& args, const std::string& out) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cmd = cli_path() + " " + args + " >/dev/null 2>&1";
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), (char*)nullptr);
    _exit(127);
  }
  const std::string marker = out + ".checkpoint/block_1.bin";
  bool seen = false;
  for (int i = 0; i < 1200 && !seen; ++i) {  // up to 60 s
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    seen = fs::exists(marker);
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(seen) << "the run never finished its second block";
  ASSERT_FALSE(fs::exists(out)) << "the run finished before it could be killed";
}

}  // namespace aqtest
