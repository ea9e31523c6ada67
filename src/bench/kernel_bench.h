// Kernel throughput measured against the machine's own memory bandwidth, in one run: what
// `arrowquant bench kernels` prints and the Google Benchmark target reuses.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/packed_tensor.h"
#include "util/clock.h"

namespace arrowquant {

// A packed matrix with random codes, scales and zero points: throughput does not depend on values.
struct SyntheticPacked {
  const QuantFormat* format = nullptr;
  QuantGeometry geom;
  std::vector<uint8_t> codes, scales, zero_points;
  PackedView view() const;
  size_t bytes() const { return codes.size() + scales.size() + zero_points.size(); }
};
SyntheticPacked make_synthetic(const QuantFormat& f, int64_t rows, int64_t cols, int64_t group, uint32_t seed);

// Best time of one call of fn, running it until min_seconds have passed (at least 3 times, after a
// warm-up call for page faults, caches and the thread pool).
template <class Fn>
double best_seconds(Fn&& fn, double min_seconds) {
  fn();
  double best = 1e30, start = now_seconds();
  for (int i = 0; i < 3 || now_seconds() - start < min_seconds; ++i) {
    const double t0 = now_seconds();
    fn();
    best = std::min(best, now_seconds() - t0);
    if (i > 10000) break;
  }
  return best;
}

struct KernelBenchOptions {
  std::vector<std::string> formats{"int8_asym", "int4_asym", "int4_sym", "int3_asym", "int2_asym"};
  int64_t small_rows = 1024, small_cols = 1024;  // packed data in cache
  int64_t large_rows = 0, large_cols = 0;  // far beyond cache; 0 = beyond_cache_side()
  int64_t group = 128;
  std::vector<int> threads{1, 2};
  double min_seconds = 0.3;  // per measurement; the best of several runs is kept
};

// Rows = cols of a square matrix whose smallest packed form among `formats` is at least twice the
// last-level cache read at run time (a multiple of 1024, at least 8192), capped so that the run's four
// fp32-sized buffers take at most half of physical memory (the report prints the ratio reached).
int64_t beyond_cache_side(const std::vector<std::string>& formats, int64_t group);

// Rows: baselines (read bandwidth, memcpy, fp32 sgemv) and, per format, size and thread count,
// fused matvec with fp32 and int8 activations and dequantisation to fp32 — each as GB/s and as a
// ratio to the baseline of the same size and thread count.
nlohmann::json run_kernel_bench(const KernelBenchOptions& o, bool verbose);
std::string kernel_bench_markdown(const nlohmann::json& results);

}  // namespace arrowquant
