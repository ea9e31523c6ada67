#include "bench/kernel_bench.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "arrowquant/dtype.h"
#include "arrowquant/error.h"
#include "kernels/packed_f32.h"
#include "kernels/kernel_registry.h"
#include "kernels/cpu_targets.h"
#include "util/cpu_caches.h"
#include "util/thread_pool.h"
#include "util/clock.h"
#include "util/interrupt.h"
#include "util/units.h"
#include "kernels/blas.h"

namespace arrowquant {

namespace {
const ProductKernel* int8_kernel(const QuantFormat& f, const PackedView& v) {
  KernelRequest req;
  req.activation = Activation::Int8;
  req.any_backend = false;
  req.backend = Backend::Hwy;
  try {
    return KernelRegistry::instance().select(f, req, nullptr, &v).kernel;
  } catch (const ValueError&) {
    return nullptr;  // no int8 kernel for this format or geometry: the column shows a dash
  }
}
}  // namespace

PackedView SyntheticPacked::view() const {
  PackedView v;
  v.format = format;
  v.geom = geom;
  v.codes = codes.data();
  v.scales = scales.data();
  v.zero_points = format->symmetric ? nullptr : zero_points.data();
  return v;
}

SyntheticPacked make_synthetic(const QuantFormat& f, int64_t rows, int64_t cols, int64_t group, uint32_t seed) {
  SyntheticPacked s;
  s.format = &f;
  s.geom = quant_geometry({rows, cols}, group);
  std::mt19937 rng(seed);
  s.codes.resize(packed_row_bytes(cols, f.bits) * size_t(rows));
  for (auto& b : s.codes) b = uint8_t(rng());
  s.scales.resize(scale_bytes(s.geom));
  for (size_t i = 0; i + 1 < s.scales.size(); i += 2) {
    uint16_t h = f32_to_f16(0.001f + 0.01f * float(rng() % 1000) / 1000.0f);
    std::memcpy(s.scales.data() + i, &h, 2);
  }
  s.zero_points.resize(zero_point_bytes(s.geom, f));
  for (auto& z : s.zero_points) z = uint8_t(rng() % uint32_t(f.max_code() + 1));
  return s;
}

namespace {

uint64_t read_sum(const uint64_t* p, size_t n) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) a += p[i], b += p[i + 1], c += p[i + 2], d += p[i + 3];
  for (; i < n; ++i) a += p[i];
  return a + b + c + d;
}

volatile uint64_t g_sink;

}  // namespace

int64_t beyond_cache_side(const std::vector<std::string>& formats, int64_t group) {
  // Packed bytes per weight from the format table's own sizes, on one 8192-wide probe row.
  constexpr int64_t kProbe = 8192;
  double bytes_per_weight = 4;
  for (const auto& name : formats) {
    const QuantFormat& f = quant_format_or_throw(name);
    const QuantGeometry g = quant_geometry({1, kProbe}, group);
    const double bytes = double(packed_row_bytes(kProbe, f.bits) + scale_bytes(g) + zero_point_bytes(g, f));
    bytes_per_weight = std::min(bytes_per_weight, bytes / double(kProbe));
  }
  const double want = 2.0 * double(last_level_cache_bytes()) / bytes_per_weight;
  int64_t side = std::max<int64_t>(8192, int64_t(std::ceil(std::sqrt(want) / 1024.0)) * 1024);
  // The run holds four fp32-sized buffers (read and memcpy baselines, sgemv weights, dequantised
  // output): together at most half of physical memory.
  const double cap = double(physical_memory_bytes()) / 2.0 / 16.0;
  if (cap > 0) side = std::max<int64_t>(1024, std::min(side, int64_t(std::sqrt(cap)) / 1024 * 1024));
  return side;
}

nlohmann::json run_kernel_bench(const KernelBenchOptions& opts, bool verbose) {
  KernelBenchOptions o = opts;
  if (o.large_rows == 0) o.large_rows = o.large_cols = beyond_cache_side(o.formats, o.group);
  nlohmann::json out = {{"machine_threads", default_threads()}, {"simd_target", kernels::active_target()},
                        {"group_size", o.group}, {"last_level_cache_bytes", last_level_cache_bytes()},
                        {"baselines", nlohmann::json::array()}, {"kernels", nlohmann::json::array()}};
  struct Size {
    const char* name;
    int64_t rows, cols;
  };
  const Size sizes[] = {{"in-cache", o.small_rows, o.small_cols}, {"beyond-cache", o.large_rows, o.large_cols}};
  for (const Size& sz : sizes) {
    const size_t f32_bytes = size_t(sz.rows * sz.cols) * 4;
    // Baselines, per thread count: read bandwidth over a buffer as large as the fp32 matrix (the
    // packed matrices are smaller, so in-cache stays in cache), memcpy of it, and fp32 sgemv.
    std::vector<uint64_t> buf(f32_bytes / 8, 1);
    std::vector<uint8_t> dst(f32_bytes);
    std::vector<float> w(size_t(sz.rows * sz.cols), 0.001f), x(size_t(sz.cols), 1.0f), y(size_t(sz.rows));
    for (int t : o.threads) {
      const double tr = best_seconds([&] {
        std::vector<uint64_t> part(static_cast<size_t>(t));
        parallel_for(t, t, [&](int64_t a, int64_t b) {
          for (int64_t i = a; i < b; ++i) {
            const size_t n = buf.size() / size_t(t), off = size_t(i) * n;
            part[size_t(i)] = read_sum(buf.data() + off, i + 1 == t ? buf.size() - off : n);
          }
        });
        g_sink = part[0];
      }, o.min_seconds);
      const double tc = best_seconds([&] {
        parallel_for(t, t, [&](int64_t a, int64_t b) {
          for (int64_t i = a; i < b; ++i) {
            const size_t n = f32_bytes / size_t(t), off = size_t(i) * n;
            std::memcpy(dst.data() + off, reinterpret_cast<const uint8_t*>(buf.data()) + off,
                        i + 1 == t ? f32_bytes - off : n);
          }
        });
      }, o.min_seconds);
      const double tg = best_seconds([&] {
        kernels::gemv(sz.rows, sz.cols, w.data(), sz.cols, x.data(), 0.0f, y.data(), t);
      }, o.min_seconds);
      nlohmann::json b = {{"size", sz.name}, {"rows", sz.rows}, {"cols", sz.cols}, {"threads", t},
                          {"bytes", f32_bytes}, {"read_gbps", double(f32_bytes) / tr / 1e9},
                          {"memcpy_gbps", double(f32_bytes) / tc / 1e9},
                          {"fp32_sgemv_gbps", double(f32_bytes) / tg / 1e9}};
      if (verbose) fprintf(stderr, "baseline %s %d thread(s): read %.2f GB/s, memcpy %.2f GB/s, fp32 sgemv %.2f GB/s\n",
                           sz.name, t, b["read_gbps"].get<double>(), b["memcpy_gbps"].get<double>(),
                           b["fp32_sgemv_gbps"].get<double>());
      out["baselines"].push_back(b);
    }
    for (const auto& name : o.formats) {
      const QuantFormat& f = quant_format_or_throw(name);
      SyntheticPacked m = make_synthetic(f, sz.rows, sz.cols, o.group, 42);
      const PackedView v = m.view();
      std::vector<float> deq(size_t(sz.rows * sz.cols));
      for (int t : o.threads) {
        const double tm = best_seconds([&] { kernels::matmul_f32(v, x.data(), 1, y.data(), sz.rows, t); }, o.min_seconds);
        // The int8-activation kernel the registry picks for this format and geometry, if any.
        double ti = -1;
        if (const ProductKernel* k8 = int8_kernel(f, v))
          ti = best_seconds([&] { k8->fn(v, x.data(), 1, y.data(), sz.rows, t); }, o.min_seconds);
        const double td = best_seconds([&] {
          parallel_for(sz.rows, t, [&](int64_t a, int64_t b) { kernels::dequantize_f32(v, a, b, deq.data() + a * sz.cols); });
        }, o.min_seconds);
        nlohmann::json k = {{"format", name}, {"size", sz.name}, {"rows", sz.rows}, {"cols", sz.cols}, {"threads", t},
                            {"packed_bytes", m.bytes()},
                            {"bits_per_weight", 8.0 * double(m.bytes()) / double(sz.rows * sz.cols)},
                            {"matvec_f32_gbps", double(m.bytes()) / tm / 1e9},
                            {"matvec_f32_weights_per_ns", double(sz.rows * sz.cols) / tm / 1e9},
                            {"dequant_f32_out_gbps", double(f32_bytes) / td / 1e9}};
        if (ti > 0) k["matvec_i8_gbps"] = double(m.bytes()) / ti / 1e9;
        out["kernels"].push_back(k);
        if (verbose)
          fprintf(stderr, "%s %s %d thread(s): matvec %.2f GB/s packed, dequant %.2f GB/s fp32 out\n", name.c_str(),
                  sz.name, t, k["matvec_f32_gbps"].get<double>(), k["dequant_f32_out_gbps"].get<double>());
        if (interrupt_requested()) throw Interrupted("interrupted");
      }
    }
  }
  return out;
}

std::string kernel_bench_markdown(const nlohmann::json& r) {
  auto baseline = [&](const std::string& size, int t) -> const nlohmann::json& {
    for (const auto& b : r["baselines"])
      if (b["size"] == size && b["threads"] == t) return b;
    throw ValueError("no baseline for " + size);
  };
  char buf[512];
  std::string s = "SIMD target: " + r["simd_target"].get<std::string>() + ", group size " +
                  std::to_string(r["group_size"].get<int64_t>()) + ", last-level cache " +
                  human_bytes(double(r.value("last_level_cache_bytes", int64_t(0)))) +
                  " (the beyond-cache packed matrices are this many times larger:";
  for (const auto& k : r["kernels"])
    if (k["size"] == "beyond-cache" && k["threads"] == r["kernels"][0]["threads"]) {
      snprintf(buf, sizeof buf, " %s %.1fx", k["format"].get<std::string>().c_str(),
               k["packed_bytes"].get<double>() / std::max(1.0, double(r.value("last_level_cache_bytes", int64_t(1)))));
      s += buf;
    }
  s += ")\n\n";
  s += "| size | threads | read GB/s | memcpy GB/s | fp32 sgemv GB/s | fp32 sgemv / read |\n|---|---:|---:|---:|---:|---:|\n";
  for (const auto& b : r["baselines"]) {
    snprintf(buf, sizeof buf, "| %s %lldx%lld | %d | %.2f | %.2f | %.2f | %.2f |\n", b["size"].get<std::string>().c_str(),
             (long long)b["rows"].get<int64_t>(), (long long)b["cols"].get<int64_t>(), b["threads"].get<int>(),
             b["read_gbps"].get<double>(), b["memcpy_gbps"].get<double>(), b["fp32_sgemv_gbps"].get<double>(),
             b["fp32_sgemv_gbps"].get<double>() / b["read_gbps"].get<double>());
    s += buf;
  }
  s += "\n| format | size | threads | bits/w | matvec GB/s (packed) | / read | weights/ns | vs fp32 sgemv (time) "
       "| int8-act matvec GB/s | / read | dequant→fp32 GB/s | / memcpy |\n"
       "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& k : r["kernels"]) {
    const auto& b = baseline(k["size"], k["threads"]);
    const double read = b["read_gbps"], mc = b["memcpy_gbps"];
    // time ratio against fp32 sgemv of the same shape: how many times faster the packed product is
    const double speedup = k["matvec_f32_weights_per_ns"].get<double>() * 4.0 / b["fp32_sgemv_gbps"].get<double>();
    std::string i8 = "—", i8r = "—";
    if (k.contains("matvec_i8_gbps")) {
      snprintf(buf, sizeof buf, "%.2f", k["matvec_i8_gbps"].get<double>());
      i8 = buf;
      snprintf(buf, sizeof buf, "%.2f", k["matvec_i8_gbps"].get<double>() / read);
      i8r = buf;
    }
    snprintf(buf, sizeof buf, "| %s | %s | %d | %.2f | %.2f | %.2f | %.2f | %.2fx | %s | %s | %.2f | %.2f |\n",
             k["format"].get<std::string>().c_str(), k["size"].get<std::string>().c_str(), k["threads"].get<int>(),
             k["bits_per_weight"].get<double>(), k["matvec_f32_gbps"].get<double>(),
             k["matvec_f32_gbps"].get<double>() / read, k["matvec_f32_weights_per_ns"].get<double>(), speedup,
             i8.c_str(), i8r.c_str(), k["dequant_f32_out_gbps"].get<double>(), k["dequant_f32_out_gbps"].get<double>() / mc);
    s += buf;
  }
  return s;
}

}  // namespace arrowquant
