#include "kernels/kernel_registry.h"

#include "arrowquant/error.h"
#include "kernels/packed_f32.h"
#include "kernels/packed_i8.h"
#include "kernels/packed_reference.h"
#include "arrowquant/quant_format.h"
#ifdef AQ_HAVE_CUDA
#include "kernels/cuda/cuda_kernels.h"
#endif

namespace arrowquant {

std::string activation_name(Activation a) { return a == Activation::F32 ? "f32" : "int8"; }

Activation activation_from_name(const std::string& name) {
  if (name == "f32" || name == "fp32") return Activation::F32;
  if (name == "int8") return Activation::Int8;
  throw ValueError("unknown activation type '" + name + "' (f32, int8)");
}

namespace {

void hwy_f32(const PackedView& w, const float* x, int64_t n, float* y, int64_t ldy, int threads) {
  kernels::matmul_f32(w, x, n, y, ldy, threads);
}

// Prefill (more than 8 rows) goes through f32 tiles and BLAS: one pass over the weights for all rows
// beats a VNNI pass per row, and f32 is the more accurate of the two.
void hwy_i8(const PackedView& w, const float* x, int64_t n, float* y, int64_t ldy, int threads) {
  if (n > 8) return kernels::matmul_f32(w, x, n, y, ldy, threads);
  for (int64_t j = 0; j < n; ++j) kernels::matvec_i8(w, x + j * w.geom.cols, y + j * ldy, threads);
}

void scalar_f32(const PackedView& w, const float* x, int64_t n, float* y, int64_t ldy, int) {
  std::vector<float> tmp(size_t(n * w.geom.rows));
  kernels::matmul_f32_reference(w, x, n, tmp.data());
  for (int64_t j = 0; j < n; ++j)
    for (int64_t r = 0; r < w.geom.rows; ++r) y[j * ldy + r] = tmp[size_t(j * w.geom.rows + r)];
}

#ifdef AQ_HAVE_CUDA
void cuda_f32(const PackedView& w, const float* x, int64_t n, float* y, int64_t ldy, int) {
  for (int64_t j = 0; j < n; ++j) cuda::matvec_f32(w, x + j * w.geom.cols, y + j * ldy);
}
#endif

}  // namespace

KernelRegistry::KernelRegistry() {
#ifdef AQ_HAVE_CUDA
  const bool cuda_ok = cuda::device_count() > 0;
  const char* cuda_reason = cuda_ok ? "" : "compiled, but this machine has no CUDA device";
  PackedProduct cuda_fn = cuda_f32;
#else
  const bool cuda_ok = false;
  const char* cuda_reason = "not compiled (nvcc was not found at build time)";
  PackedProduct cuda_fn = nullptr;
#endif
  for (const auto& f : quant_formats()) {
    const std::string name(f.name);
    entries_.push_back({name, Activation::F32, "hwy", 100,
                        f.bits == 3 ? "tile dequantisation + dot products (no fused int3 path yet)"
                                    : "fused unpack + FMA, activations permuted to the code order",
                        hwy_f32, true, ""});
    if (f.bits != 3)
      entries_.push_back({name, Activation::Int8, "hwy", 100,
                          "activations to int8 per group (<= 128), u8 x s8 dot products in int32 (VNNI where the CPU has "
                          "it); groups of 32, 64, 128 or multiples of 128, or per channel",
                          hwy_i8, true, "", kernels::matvec_i8_supported});
    entries_.push_back({name, Activation::F32, "scalar", 0, "reference: dequantise a row, dot in double", scalar_f32,
                        true, ""});
    entries_.push_back({name, Activation::F32, "cuda", 200, "dequantise + matrix-vector (src/cuda/)", cuda_fn, cuda_ok,
                        cuda_reason});
  }
}

const KernelRegistry& KernelRegistry::instance() {
  static KernelRegistry r;
  return r;
}

const KernelEntry& KernelRegistry::select(const std::string& format, const KernelRequest& req, bool* used_fallback,
                                          const PackedView* w) const {
  auto best = [&](Activation act) -> const KernelEntry* {
    const KernelEntry* b = nullptr;
    for (const auto& e : entries_)
      if (e.format == format && e.activation == act && e.available && (req.backend.empty() || e.backend == req.backend) &&
          (!w || !e.supports || e.supports(*w)) && (!b || e.priority > b->priority))
        b = &e;
    return b;
  };
  if (used_fallback) *used_fallback = false;
  if (const KernelEntry* e = best(req.activation)) return *e;
  if (req.has_fallback) {
    if (const KernelEntry* e = best(req.fallback)) {
      if (used_fallback) *used_fallback = true;
      return *e;
    }
  }
  std::string have;
  for (const auto& e : entries_)
    if (e.format == format)
      have += "\n  " + activation_name(e.activation) + " / " + e.backend + (e.available ? "" : " (" + e.unavailable_reason + ")");
  throw ValueError("no kernel for " + format + " weights" +
                   (w ? " in groups of " + std::to_string(w->geom.group_size) : std::string()) + " with " +
                   activation_name(req.activation) + " activations" +
                   (req.backend.empty() ? "" : " on backend " + req.backend) +
                   "; name a fallback (e.g. --kernel-fallback f32) to use another. Kernels for " + format + ":" + have);
}


}  // namespace arrowquant
