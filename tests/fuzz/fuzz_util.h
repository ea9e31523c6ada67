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
#include "arrowquant/tensor_source.h"

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

// Every tensor of a source read as the commands read it: float32 (or raw bytes), and its packed views
// with every byte touched (so a view pointing outside its memory is a sanitizer report).
inline void read_every_tensor(const arrowquant::TensorSource& src) {
  for (const auto& t : src.tensors())
    only_our_errors([&] {
      if (arrowquant::dtype_is_float(t.dtype) || t.format) src.read_f32(t.name);
      else src.read_raw(t.name);
      volatile uint32_t sum = 0;
      for (const auto& rows : src.read_packed(t.name)) {
        const auto& v = rows.view;
        const size_t groups = size_t(v.geom.groups_per_row() * v.geom.rows);
        for (size_t i = 0; i < arrowquant::packed_row_bytes(v.geom.cols, v.format->bits) * size_t(v.geom.rows); ++i)
          sum = sum + v.codes[i];
        for (size_t i = 0; i < 2 * groups; ++i) sum = sum + v.scales[i];
        if (v.zero_points)
          for (size_t i = 0; i < groups; ++i) sum = sum + v.zero_points[i];
      }
    });
}

}  // namespace aqfuzz
