#include "bench/gemm_bench.h"

#include <cstdio>

#include "arrowquant/error.h"
#include "arrowquant/quant_format.h"
#include "bench/kernel_bench.h"
#include "kernels/cpu_targets.h"
#include "kernels/dense_ops.h"
#include "kernels/gemm_i8.h"
#include "kernels/packed_f32.h"
#include "kernels/packed_i8.h"
#include "util/clock.h"
#include "util/interrupt.h"
#include "util/thread_pool.h"

namespace arrowquant {

nlohmann::json run_gemm_bench(const GemmBenchOptions& o, bool verbose) {
  const int threads = o.threads > 0 ? o.threads : default_threads();
  nlohmann::json out = {{"simd_target", kernels::active_target()}, {"threads", threads}, {"rows", o.rows},
                        {"cols", o.cols}, {"group_size", o.group}, {"results", nlohmann::json::array()}};
  int64_t max_n = 1;
  for (int64_t n : o.activation_rows) max_n = std::max(max_n, n);
  std::vector<float> x(size_t(max_n * o.cols)), y(size_t(max_n * o.rows));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int64_t(i * 2654435761u % 2001) - 1000) / 1000.0f;
  std::vector<float> w(size_t(o.rows * o.cols), 0.001f);
  std::vector<double> sgemm(o.activation_rows.size());
  for (size_t k = 0; k < o.activation_rows.size(); ++k) {
    const int64_t n = o.activation_rows[k];
    sgemm[k] = best_seconds([&] { kernels::linear_f32(x.data(), n, o.cols, w.data(), o.rows, nullptr, y.data(), threads); },
                            o.min_seconds);
  }
  const double flop = 2.0 * double(o.rows) * double(o.cols);
  for (const auto& name : o.formats) {
    const QuantFormat& f = quant_format_or_throw(name);
    SyntheticPacked m = make_synthetic(f, o.rows, o.cols, o.group, 42);
    const PackedView v = m.view();
    if (!kernels::gemm_i8_supported(v)) throw ValueError("no int8 GEMM for " + name + " with group " + std::to_string(o.group));
    for (size_t k = 0; k < o.activation_rows.size(); ++k) {
      const int64_t n = o.activation_rows[k];
      const double tg = best_seconds([&] { kernels::gemm_i8(v, x.data(), n, y.data(), o.rows, threads); }, o.min_seconds);
      const double tf = best_seconds([&] { kernels::matmul_f32(v, x.data(), n, y.data(), o.rows, threads); }, o.min_seconds);
      double tv = -1;  // the decode kernel once per row, where this format has the direct one
      if (kernels::matvec_i8_supported(v))
        tv = best_seconds([&] {
          for (int64_t j = 0; j < n; ++j) kernels::matvec_i8(v, x.data() + j * o.cols, y.data() + j * o.rows, threads);
        }, o.min_seconds);
      nlohmann::json r = {{"format", name}, {"n", n}, {"sgemm_gflops", n * flop / sgemm[k] / 1e9},
                          {"gemm_i8_gflops", n * flop / tg / 1e9}, {"packed_f32_gflops", n * flop / tf / 1e9}};
      if (tv > 0) r["matvec_i8_rows_gflops"] = n * flop / tv / 1e9;
      if (verbose)
        fprintf(stderr, "%s n=%lld: int8 GEMM %.1f GFLOP/s, packed f32 %.1f, sgemm %.1f\n", name.c_str(), (long long)n,
                r["gemm_i8_gflops"].get<double>(), r["packed_f32_gflops"].get<double>(), r["sgemm_gflops"].get<double>());
      out["results"].push_back(r);
      if (interrupt_requested()) throw Interrupted("interrupted");
    }
  }
  return out;
}

std::string gemm_bench_markdown(const nlohmann::json& r) {
  char buf[512];
  snprintf(buf, sizeof buf, "SIMD target: %s, %d threads, %lld x %lld weights, group size %lld\n\n",
           r["simd_target"].get<std::string>().c_str(), r["threads"].get<int>(), (long long)r["rows"].get<int64_t>(),
           (long long)r["cols"].get<int64_t>(), (long long)r["group_size"].get<int64_t>());
  std::string s = buf;
  s += "| format | rows of x | fp32 sgemm GFLOP/s | int8 GEMM GFLOP/s | × sgemm | decode kernel per row | × sgemm "
       "| packed f32 | × sgemm |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& k : r["results"]) {
    const double base = k["sgemm_gflops"], g = k["gemm_i8_gflops"], f = k["packed_f32_gflops"];
    std::string mv = "—", mvr = "—";
    if (k.contains("matvec_i8_rows_gflops")) {
      const double m = k["matvec_i8_rows_gflops"];
      snprintf(buf, sizeof buf, "%.1f", m);
      mv = buf;
      snprintf(buf, sizeof buf, "%.2f", m / base);
      mvr = buf;
    }
    snprintf(buf, sizeof buf, "| %s | %lld | %.1f | %.1f | %.2f | %s | %s | %.1f | %.2f |\n",
             k["format"].get<std::string>().c_str(), (long long)k["n"].get<int64_t>(), base, g, g / base, mv.c_str(),
             mvr.c_str(), f, f / base);
    s += buf;
  }
  return s;
}

}  // namespace arrowquant
