// Wall time of the packed kernels by kind, for the share-of-time figures of `bench decode`. Off unless
// enabled: then each timed call costs two clock reads (~50 ns against products of 20 µs and more).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>

#include "arrowquant/kernels.h"

namespace arrowquant::kernels {

struct KernelClockSlots {
  std::atomic<bool> on{false};
  std::atomic<int64_t> dequant_ns{0}, fused_ns{0}, blas_ns{0};
};
KernelClockSlots& kernel_clock_slots();

// Adds the wall time of its scope to one slot, on the calling thread only (parallel regions are timed
// around the whole region, not per worker, so the totals add up to wall time).
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
