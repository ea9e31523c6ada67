#include "kernels/packed_i8.h"

#include <string>

#include "arrowquant/error.h"
#include "kernels/kernel_clock.h"
#include "kernels/packed_i8_hwy.h"
#include "kernels/packed_prepared.h"
#include "util/thread_pool.h"

namespace arrowquant::kernels {

bool matvec_i8_supported(const PackedView& v) { return simd::i8_supported(v); }

void matvec_i8(const PackedView& v, const float* x, float* y, int threads) {
  if (!matvec_i8_supported(v))
    throw ValueError(std::string("no int8-activation kernel for ") + std::string(v.format->name) + " with group " +
                     std::to_string(v.geom.group_size) +
                     " (" + kI8Geometries + ")");
  ScopedKernelTimer timer(kernel_clock_slots().fused_ns);
  // Reused across calls (decode calls this for every layer); the workers share it by reference.
  thread_local PreparedI8 reused;
  PreparedI8& p = reused;
  simd::prepare_i8(v, x, p);
  parallel_for(v.geom.rows, threads, [&](int64_t r0, int64_t r1) { simd::i8_rows(v, p, r0, r1, y); });
}

}  // namespace arrowquant::kernels
