#include "kernels/kernel_clock.h"

namespace arrowquant::kernels {

KernelClockSlots& kernel_clock_slots() {
  static KernelClockSlots s;
  return s;
}

void set_kernel_timing(bool on) { kernel_clock_slots().on.store(on); }

void reset_kernel_clock() {
  auto& s = kernel_clock_slots();
  s.dequant_ns = 0, s.fused_ns = 0, s.blas_ns = 0, s.unpack_thread_ns = 0;
}

KernelClock kernel_clock() {
  const auto& s = kernel_clock_slots();
  return {s.dequant_ns.load() * 1e-9, s.fused_ns.load() * 1e-9, s.blas_ns.load() * 1e-9, s.unpack_thread_ns.load() * 1e-9};
}

}  // namespace arrowquant::kernels
