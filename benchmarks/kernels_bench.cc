// Google Benchmark harness for the packed kernels: `./build/bench --benchmark_filter=...`. Reports
// packed bytes processed per second (bytes_per_second) so that results read against memory
// bandwidth (the GEMM: FLOPs as items per second); `arrowquant bench kernels` prints the same kernels next to bandwidth baselines measured
// in the same run.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "bench/kernel_bench.h"
#include "kernels/gemm_i8.h"
#include "kernels/packed_f32.h"
#include "kernels/packed_i8.h"
#include "arrowquant/quant_format.h"

using namespace arrowquant;

namespace {

const SyntheticPacked& matrix(const char* format, int64_t rows, int64_t cols = 0) {
  static std::vector<std::pair<std::string, SyntheticPacked>> cache;
  if (cols == 0) cols = rows;
  const std::string key = std::string(format) + "/" + std::to_string(rows) + "x" + std::to_string(cols);
  for (auto& [k, m] : cache)
    if (k == key) return m;
  cache.emplace_back(key, make_synthetic(quant_format_or_throw(format), rows, cols, 128, 7));
  return cache.back().second;
}

void BM_Matvec(benchmark::State& state, const char* format) {
  const SyntheticPacked& m = matrix(format, state.range(0));
  std::vector<float> x(size_t(m.geom.cols), 1.0f), y(size_t(m.geom.rows));
  for (auto _ : state) {
    kernels::matmul_f32(m.view(), x.data(), 1, y.data(), m.geom.rows, int(state.range(1)));
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(m.bytes()));
}

// Decode shapes: rows × cols, threads. Qwen2.5-0.5B's (896 wide, 4864 MLP) and a large square.
void BM_MatvecI8(benchmark::State& state, const char* format) {
  const SyntheticPacked& m = matrix(format, state.range(0), state.range(1));
  std::vector<float> x(size_t(m.geom.cols), 1.0f), y(size_t(m.geom.rows));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 7) - 3.0f;
  for (auto _ : state) {
    kernels::matvec_i8(m.view(), x.data(), y.data(), int(state.range(2)));
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(m.bytes()));
}

void BM_Dequantize(benchmark::State& state, const char* format) {
  const SyntheticPacked& m = matrix(format, state.range(0));
  std::vector<float> out(size_t(m.geom.rows * m.geom.cols));
  for (auto _ : state) {
    kernels::dequantize_f32(m.view(), 0, m.geom.rows, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(out.size() * 4));  // fp32 written
}

// Prefill shapes: n activation rows × a packed rows × cols matrix through the int8 GEMM; FLOPs are
// reported as items (2·n·rows·cols per call).
void BM_GemmI8(benchmark::State& state, const char* format) {
  const SyntheticPacked& m = matrix(format, state.range(0), state.range(1));
  const int64_t n = state.range(2);
  std::vector<float> x(size_t(n * m.geom.cols)), y(size_t(n * m.geom.rows));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 7) - 3.0f;
  for (auto _ : state) {
    kernels::gemm_i8(m.view(), x.data(), n, y.data(), m.geom.rows, int(state.range(3)));
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * 2 * n * m.geom.rows * m.geom.cols);
}

// Rows = cols of a square matrix beyond this machine's last-level cache (read at run time).
int64_t beyond_cache() {
  static const int64_t side = beyond_cache_side({"int2_asym"}, 128);
  return side;
}

void BM_Memcpy(benchmark::State& state) {
  const size_t n = size_t(state.range(0) * state.range(0)) * 4;
  std::vector<uint8_t> a(n, 1), b(n);
  for (auto _ : state) {
    std::memcpy(b.data(), a.data(), n);
    benchmark::DoNotOptimize(b.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n));
}

}  // namespace

BENCHMARK_CAPTURE(BM_Matvec, int8_asym, "int8_asym")->ArgsProduct({{1024, beyond_cache()}, {1, 2}})->UseRealTime();
BENCHMARK_CAPTURE(BM_Matvec, int4_asym, "int4_asym")->ArgsProduct({{1024, beyond_cache()}, {1, 2}})->UseRealTime();
BENCHMARK_CAPTURE(BM_Matvec, int2_asym, "int2_asym")->ArgsProduct({{1024, beyond_cache()}, {1, 2}})->UseRealTime();
#define AQ_DECODE_SHAPES \
  ->Args({896, 896, 1})->Args({4864, 896, 1})->Args({896, 4864, 1})->Args({beyond_cache(), beyond_cache(), 1}) \
  ->Args({896, 896, 2})->Args({4864, 896, 2})->Args({896, 4864, 2})->Args({beyond_cache(), beyond_cache(), 2})->UseRealTime()
BENCHMARK_CAPTURE(BM_MatvecI8, int8_sym, "int8_sym") AQ_DECODE_SHAPES;
BENCHMARK_CAPTURE(BM_MatvecI8, int4_sym, "int4_sym") AQ_DECODE_SHAPES;
BENCHMARK_CAPTURE(BM_MatvecI8, int2_asym, "int2_asym") AQ_DECODE_SHAPES;
BENCHMARK_CAPTURE(BM_GemmI8, int4_asym, "int4_asym")->ArgsProduct({{4864}, {896}, {16, 512}, {1, 2}})->UseRealTime();
BENCHMARK_CAPTURE(BM_GemmI8, int8_asym, "int8_asym")->ArgsProduct({{4864}, {896}, {16, 512}, {1, 2}})->UseRealTime();
BENCHMARK_CAPTURE(BM_Dequantize, int4_asym, "int4_asym")->Arg(1024)->Arg(8192)->UseRealTime();
BENCHMARK(BM_Memcpy)->Arg(1024)->Arg(8192)->UseRealTime();

BENCHMARK_MAIN();
