// Wall time of the packed kernels by kind, for the share-of-time figures of `bench decode`. Off unless
// enabled: then each timed call costs two clock reads (~50 ns against products of 20 µs and more).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>


namespace arrowquant::kernels {

// Wall time spent in the packed kernels since the last reset, by kind (timing is off by default):
// dequantising (prefill tiles of packed weights expanded to fp32, int3 rows), fused products on packed
// weights (fp32 or int8 activations), and BLAS on the dequantised tiles; and, summed over the worker
// threads (divide by the thread count for a share of wall time), the int8 GEMM's widening of packed
// weights to bytes inside its products.
struct KernelClock {
  double dequant_seconds = 0, fused_seconds = 0, blas_seconds = 0, unpack_thread_seconds = 0;
};
void set_kernel_timing(bool on);
void reset_kernel_clock();
KernelClock kernel_clock();

struct KernelClockSlots {
  std::atomic<bool> on{false};
  std::atomic<int64_t> dequant_ns{0}, fused_ns{0}, blas_ns{0}, unpack_thread_ns{0};
};
KernelClockSlots& kernel_clock_slots();

// Adds the wall time of its scope to one slot, on the calling thread only (parallel regions are timed
// around the whole region, not per worker, so the totals add up to wall time; unpack_thread_ns alone
// is timed inside workers).
class ScopedKernelTimer {
 public:
  explicit ScopedKernelTimer(std::atomic<int64_t>& slot) : slot_(kernel_clock_slots().on.load() ? &slot : nullptr) {
    if (slot_) t0_ = std::chrono::steady_clock::now();
  }
  ~ScopedKernelTimer() {
    if (!slot_) return;
    slot_->fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0_).count());
  }
  ScopedKernelTimer(const ScopedKernelTimer&) = delete;
  ScopedKernelTimer& operator=(const ScopedKernelTimer&) = delete;

 private:
  std::atomic<int64_t>* slot_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace arrowquant::kernels
