// Shared by the libFuzzer targets (src/**/*_fuzz.cc, built with -DAQ_FUZZ=ON and clang). A reader of
// outside input may refuse an input only with one of our errors (FormatError, IoError, ValueError,
// all arrowquant::Error): any other exception, a crash, a leak or a sanitizer report is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "arrowquant/error.h"

namespace aqfuzz {

// A private folder for the inputs of readers that take a path (memory-mapped files, model folders).
inline const std::string& scratch() {
  static const std::string dir = [] {
    const std::string d = std::filesystem::temp_directory_path().string() + "/aqfuzz-" + std::to_string(::getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// `data` as the file `name` in the scratch folder, replaced for every input.
inline std::string as_file(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = scratch() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (size && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
  return path;
}

template <class Fn>
void only_our_errors(Fn&& fn) {
  try {
    fn();
  } catch (const arrowquant::Error&) {
    // a clear refusal: what a reader must do with bad input
  }
}

}  // namespace aqfuzz
