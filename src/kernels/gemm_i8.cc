#include "kernels/gemm_i8.h"

#include <string>

#include "arrowquant/error.h"
#include "arrowquant/quant_format.h"
#include "kernels/gemm_i8_hwy.h"
#include "kernels/i8_geometry.h"
#include "kernels/kernel_clock.h"
#include "kernels/packed_prepared.h"
#include "util/thread_pool.h"

namespace arrowquant::kernels {

bool gemm_i8_supported(const PackedView& v) { return !v.format->float8() && i8_activation_block(v) != 0; }

namespace {
// What the reused activations were made from (SharedActivations).
struct PreparedKey {
  const float* x = nullptr;
  int64_t n = 0, cols = 0, block = 0, group_size = 0, groups = 0;
  bool operator==(const PreparedKey&) const = default;
};
thread_local int shared_depth = 0;
thread_local PreparedKey prepared_for;  // x == nullptr: nothing reusable
}  // namespace

SharedActivations::SharedActivations() { ++shared_depth, forget(); }
SharedActivations::~SharedActivations() { --shared_depth, forget(); }
void SharedActivations::forget() { prepared_for = {}; }

void gemm_i8(const PackedView& v, const float* x, int64_t n, float* y, int64_t ldy, int threads) {
  if (!gemm_i8_supported(v))
    throw ValueError(std::string("no int8 GEMM for ") + std::string(v.format->name) + " with group " +
                     std::to_string(v.geom.group_size) + " (" + kI8Geometries + "; fp8 values are not integers)");
  if (n <= 0 || v.geom.rows == 0) return;
  ScopedKernelTimer timer(kernel_clock_slots().fused_ns);
  thread_local PreparedRowsI8 reused;  // prefill calls this for every layer; the workers share it
  PreparedRowsI8& p = reused;
  const PreparedKey key{x, n, v.geom.cols, i8_activation_block(v), v.geom.group_size, v.geom.groups_per_row()};
  if (shared_depth == 0 || !(key == prepared_for)) {
    prepared_for = {};
    simd::gemm_i8_prepare(v, n, p);
    parallel_for(n, threads, [&](int64_t i0, int64_t i1) { simd::gemm_i8_quantize(v, x, i0, i1, p); });
    if (shared_depth > 0) prepared_for = key;
  }
  // Whole panels per thread: a panel is widened once, by the thread that multiplies it.
  const int64_t panel = kGemmPanelRows, panels = (v.geom.rows + panel - 1) / panel;
  parallel_for(panels, threads, [&](int64_t p0, int64_t p1) {
    simd::gemm_i8_rows(v, p, p0 * panel, std::min(v.geom.rows, p1 * panel), y, ldy);
  });
}

}  // namespace arrowquant::kernels
