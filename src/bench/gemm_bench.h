// Many activation rows against one packed matrix (prefill, encoder batches), measured in one run
// against OpenBLAS sgemm on the float matrix of the same shape: what `arrowquant bench gemm` prints.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace arrowquant {

struct GemmBenchOptions {
  std::vector<std::string> formats{"int8_asym", "int4_asym", "int4_sym", "int2_asym"};
  int64_t rows = 4864, cols = 896;  // Qwen2.5-0.5B's MLP up projection
  std::vector<int64_t> activation_rows{1, 2, 4, 8, 16, 64, 512};
  int64_t group = 128;
  int threads = 0;
  double min_seconds = 0.3;  // per measurement; the best of several runs is kept
};

// Per format and activation row count: GFLOP/s (2·n·rows·cols / time) of the int8 GEMM, of the
// decode kernel called once per row, and of the packed f32 path (fused rows, or dequantised tiles +
// sgemm), each with its ratio to fp32 sgemm of the same n in the same run.
nlohmann::json run_gemm_bench(const GemmBenchOptions& o, bool verbose);
std::string gemm_bench_markdown(const nlohmann::json& results);

}  // namespace arrowquant
