#include "kernels/packed_f32.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

#include "kernels/blas.h"
#include "kernels/dense_ops.h"
#include "kernels/kernel_clock.h"
#include "kernels/packed_f32_hwy.h"
#include "kernels/packed_prepared.h"
#include "util/thread_pool.h"

namespace arrowquant::kernels {

void dequantize_f32(const PackedView& v, int64_t r0, int64_t r1, float* out) {
  simd::dequantize_f32(v, r0, r1, out);
}

void dequantize_bf16(const PackedView& v, int64_t r0, int64_t r1, uint16_t* out) {
  simd::dequantize_bf16(v, r0, r1, out);
}

namespace {
// Rows of W dequantised per tile for the prefill path: about 256 kB of floats, cache-resident.
int64_t tile_rows(int64_t cols) { return std::max<int64_t>(8, (256 << 10) / int64_t(sizeof(float)) / cols); }
}  // namespace

// Up to this many activation rows the fused path (one pass over the packed weights per 4 rows) beats
// dequantised tiles + sgemm; measured on Qwen2.5-0.5B shapes: 8 beat 16 and 32 for a 20-token prefill.
constexpr int64_t kFusedRows = 8;

void matmul_f32(const PackedView& v, const float* x, int64_t n, float* y, int64_t ldy, int threads) {
  const auto& g = v.geom;
  if (n <= 0 || g.rows == 0) return;
  // A few activation rows: the fused path for int2/int4/int8, dequantise-and-dot rows otherwise.
  // More rows (prefill) dequantise cache-sized tiles and hand them to BLAS.
  auto& clock = kernel_clock_slots();
  if (n <= kFusedRows && !simd::fused_f32_supported(v)) {
    ScopedKernelTimer timer(clock.dequant_ns);  // rows dequantised, then dotted: mostly dequantisation
    parallel_for(g.rows, threads, [&](int64_t r0, int64_t r1) {
      simd::dequantized_rows_f32(v, x, n, y, ldy, r0, r1);
    });
    return;
  }
  if (n <= kFusedRows) {
    // Buffers reused across calls (decode calls this for every layer). The workers get a reference:
    // naming a thread_local inside the lambda would give each worker its own, empty, instance.
    ScopedKernelTimer timer(clock.fused_ns);
    thread_local PreparedF32 reused;
    PreparedF32& prepared = reused;
    simd::prepare_f32(v, x, n, prepared);
    parallel_for(g.rows, threads, [&](int64_t r0, int64_t r1) {
      simd::fused_f32_rows(v, n, y, ldy, r0, r1, prepared);
    });
    return;
  }
  // Prefill: each worker dequantises its own tiles of rows and multiplies them with every activation
  // row through single-threaded BLAS. One thread pool, not ours plus OpenBLAS's: the two competing
  // for two cores made a 20-token prefill 6x slower than FP32.
  const int64_t tr = tile_rows(g.cols), tiles = (g.rows + tr - 1) / tr;
  std::atomic<int64_t> dequant_ns{0}, blas_ns{0};
  const auto start = std::chrono::steady_clock::now();
  auto since = [](std::chrono::steady_clock::time_point t) {
    return int64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t).count());
  };
  parallel_for(tiles, threads, [&](int64_t a, int64_t b) {
    thread_local std::vector<float> tile;
    tile.resize(size_t(tr * g.cols));
    for (int64_t t = a; t < b; ++t) {
      const int64_t t0 = t * tr, t1 = std::min(g.rows, t0 + tr);
      auto c0 = std::chrono::steady_clock::now();
      dequantize_f32(v, t0, t1, tile.data());
      dequant_ns += since(c0);
      c0 = std::chrono::steady_clock::now();
      gemm(Transpose::kNo, Transpose::kYes, n, t1 - t0, g.cols, 1.0f, x, g.cols, tile.data(), g.cols, 0.0f, y + t0,
           ldy);
      blas_ns += since(c0);
    }
  });
  if (clock.on.load()) {  // the wall time, split in the proportion the workers spent on each
    const double wall = double(since(start)), d = double(dequant_ns.load()), b = double(blas_ns.load());
    clock.dequant_ns += int64_t(wall * d / std::max(d + b, 1.0));
    clock.blas_ns += int64_t(wall * b / std::max(d + b, 1.0));
  }
}


}  // namespace arrowquant::kernels
