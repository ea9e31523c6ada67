// A kernel table in the spirit of ggml's type_traits_cpu: each product kernel described once, and per format
// of the format table the kernels it has; selection by format, activations, backend and geometry.
#include "kernels/kernel_registry.h"

#include "arrowquant/error.h"
#include "kernels/gemm_i8.h"
#include "kernels/packed_f32.h"
#include "kernels/packed_i8.h"
#include "kernels/packed_reference.h"
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

std::string backend_name(Backend b) {
  switch (b) {
    case Backend::Hwy: return "hwy";
    case Backend::Scalar: return "scalar";
    case Backend::Cuda: return "cuda";
  }
  return "?";
}

namespace {

void hwy_f32(const PackedView& w, const float* x, int64_t n, float* y, int64_t ldy, int threads) {
  kernels::matmul_f32(w, x, n, y, ldy, threads);
}

// More than 8 rows (prefill, batches) go through the int8 GEMM: one pass of widened weights for all
// rows; up to 8, the decode kernel per row reads the packed bytes directly and is faster (`bench
// gemm`: the two cross between 8 and 16 rows).
constexpr int64_t kGemmFromRows = 9;

using MatvecI8 = void (*)(const PackedView&, const float*, float*, int);

// Each int8 kernel: its decode product once per row up to 8 rows, the GEMM from there.
template <MatvecI8 Matvec>
void rows_or_gemm_i8(const PackedView& w, const float* x, int64_t n, float* y, int64_t ldy, int threads) {
  if (n >= kGemmFromRows) return kernels::gemm_i8(w, x, n, y, ldy, threads);
  for (int64_t j = 0; j < n; ++j) Matvec(w, x + j * w.geom.cols, y + j * ldy, threads);
}

// Codes that fit bytes; 3-, 5- and 6-bit codes widened to bytes a few rows at a time; the same cut out
// of their bytes in registers, and lattice2 decoded in registers, where the CPU has the instructions.
constexpr PackedProduct hwy_i8 = rows_or_gemm_i8<kernels::matvec_i8>;
constexpr PackedProduct hwy_i8_widened = rows_or_gemm_i8<kernels::matvec_i8_widened>;
constexpr PackedProduct hwy_i8_straddle = rows_or_gemm_i8<kernels::matvec_i8_straddle>;
constexpr PackedProduct hwy_i8_lattice = rows_or_gemm_i8<kernels::matvec_i8_lattice>;

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
constexpr PackedProduct kCudaFn = cuda_f32;
#else
constexpr PackedProduct kCudaFn = nullptr;
#endif

// The kernels, each described once.
constexpr ProductKernel kFusedF32{
    "fused-f32", Activation::F32, Backend::Hwy, 100,
    "fused unpack + FMA, activations permuted to the code order (dequantised rows where the groups do "
    "not fit the vectors); prefill of more than 8 rows: dequantised tiles + sgemm",
    hwy_f32};
constexpr ProductKernel kRowsF32{
    "rows-f32", Activation::F32, Backend::Hwy, 100,
    "each row dequantised, then SIMD dot products (no fused path for this width yet); prefill: "
    "dequantised tiles + sgemm",
    hwy_f32};
// What every int8 kernel does with more than 8 rows.
constexpr const char* kGemmNote =
    "; more than 8 rows: the int8 GEMM (weights widened to bytes 32 rows at a time in cache, rows interleaved, "
    "vpdpbusd with broadcast activations)";
const std::string kInt8Description =
    std::string("activations to int8 per group (<= 128), u8 x s8 dot products in int32 (VNNI where the CPU has "
                "it); weights ") + kernels::kI8Geometries + kGemmNote;
const ProductKernel kInt8{"vnni-i8", Activation::Int8, Backend::Hwy, 100, kInt8Description, hwy_i8,
                          kernels::matvec_i8_supported};
const std::string kWidenedDescription =
    "codes that straddle bytes widened to one byte each, 16 rows at a time in cache, then " + kInt8Description;
const ProductKernel kWidenedInt8{"widened-i8", Activation::Int8, Backend::Hwy, 100, kWidenedDescription,
                                 hwy_i8_widened, kernels::matvec_i8_widened_supported};
const std::string kStraddleDescription =
    std::string("codes that straddle bytes cut out of them in registers, 64 at a time (vpermb spreads the bytes, "
                "vpmultishiftqb cuts each code's bits), u8 x s8 dot products in int32; ") +
    kernels::kStraddleI8Requirements + kGemmNote;
const ProductKernel kStraddleInt8{"straddle-i8", Activation::Int8, Backend::Hwy, 110, kStraddleDescription,
                                  hwy_i8_straddle, kernels::matvec_i8_straddle_supported};
const std::string kLatticeWidenedDescription =
    "each 16-bit code decoded to its 8 levels (one byte each), 16 rows at a time in cache, then " + kInt8Description;
const ProductKernel kLatticeWidenedInt8{"lattice-widened-i8", Activation::Int8, Backend::Hwy, 100,
                                        kLatticeWidenedDescription, hwy_i8_widened,
                                        kernels::matvec_i8_widened_supported};
const std::string kLatticeDescription =
    std::string("32 codes at a time decoded in registers (pattern digits by word permutes, signs onto the "
                "activations, the ±1/4 shift from per-code activation sums), u8 x s8 dot products in int32; ") +
    kernels::kLatticeI8Requirements + kGemmNote;
const ProductKernel kLatticeInt8{"lattice-i8", Activation::Int8, Backend::Hwy, 110, kLatticeDescription,
                                 hwy_i8_lattice, kernels::matvec_i8_lattice_supported};
const std::string kLutDescription =
    "codes to byte levels by a table look-up in registers (pshufb), then " + kInt8Description;
const ProductKernel kLutInt8{"lut-i8", Activation::Int8, Backend::Hwy, 100, kLutDescription, hwy_i8,
                             kernels::matvec_i8_supported};
constexpr ProductKernel kScalar{"reference", Activation::F32, Backend::Scalar, 0,
                                "reference: dequantise a row, dot in double", scalar_f32};
constexpr ProductKernel kCuda{"cuda-f32", Activation::F32, Backend::Cuda, 200,
                              "dequantise + matrix-vector (src/kernels/cuda/)", kCudaFn};

// Which kernels each format has, in format-table order.
struct FormatKernels {
  FormatId format;
  std::vector<const ProductKernel*> kernels;
};
const std::vector<FormatKernels>& kernel_table() {
  static const std::vector<FormatKernels> t = {
      {FormatId::Int8Asym, {&kFusedF32, &kInt8, &kScalar, &kCuda}},
      {FormatId::Int8Sym, {&kFusedF32, &kInt8, &kScalar, &kCuda}},
      {FormatId::Int4Asym, {&kFusedF32, &kInt8, &kScalar, &kCuda}},
      {FormatId::Int4Sym, {&kFusedF32, &kInt8, &kScalar, &kCuda}},
      {FormatId::Int3Asym, {&kRowsF32, &kStraddleInt8, &kWidenedInt8, &kScalar, &kCuda}},
      {FormatId::Int3Sym, {&kRowsF32, &kStraddleInt8, &kWidenedInt8, &kScalar, &kCuda}},
      {FormatId::Int2Asym, {&kFusedF32, &kInt8, &kScalar, &kCuda}},
      {FormatId::Int2Sym, {&kFusedF32, &kInt8, &kScalar, &kCuda}},
      // Half-offset grids: the symmetric kernels, subtracting the format's centre().
      {FormatId::Int8Half, {&kFusedF32, &kInt8, &kScalar, &kCuda}},
      {FormatId::Int4Half, {&kFusedF32, &kInt8, &kScalar, &kCuda}},
      {FormatId::Int3Half, {&kRowsF32, &kStraddleInt8, &kWidenedInt8, &kScalar, &kCuda}},
      {FormatId::Int2Half, {&kFusedF32, &kInt8, &kScalar, &kCuda}},
      // 6 and 5 bits, like int3 (codes straddle bytes): dequantised rows; for int8, cut out in registers
      // where the CPU can, else widened to bytes.
      {FormatId::Int6Asym, {&kRowsF32, &kStraddleInt8, &kWidenedInt8, &kScalar, &kCuda}},
      {FormatId::Int6Sym, {&kRowsF32, &kStraddleInt8, &kWidenedInt8, &kScalar, &kCuda}},
      {FormatId::Int5Asym, {&kRowsF32, &kStraddleInt8, &kWidenedInt8, &kScalar, &kCuda}},
      {FormatId::Int5Sym, {&kRowsF32, &kStraddleInt8, &kWidenedInt8, &kScalar, &kCuda}},
      {FormatId::Int6Half, {&kRowsF32, &kStraddleInt8, &kWidenedInt8, &kScalar, &kCuda}},
      {FormatId::Int5Half, {&kRowsF32, &kStraddleInt8, &kWidenedInt8, &kScalar, &kCuda}},
      // Codebooks: dequantised rows for f32, the byte-table look-up for int8 (3 bits: widened, then
      // looked up).
      {FormatId::Nf4, {&kRowsF32, &kLutInt8, &kScalar, &kCuda}},
      {FormatId::Gauss2, {&kRowsF32, &kLutInt8, &kScalar, &kCuda}},
      {FormatId::Gauss3, {&kRowsF32, &kStraddleInt8, &kWidenedInt8, &kScalar, &kCuda}},
      {FormatId::Gauss4, {&kRowsF32, &kLutInt8, &kScalar, &kCuda}},
      // The lattice: 8 levels per 16-bit code decoded in registers where the CPU can, else into bytes
      // (widened) and the int8 kernel; no CUDA decoder yet.
      {FormatId::Lattice2, {&kRowsF32, &kLatticeInt8, &kLatticeWidenedInt8, &kScalar}},
      // FP8: values that are not integers, so f32 activations only (bytes to floats in registers, like
      // int8); no CUDA decoder.
      {FormatId::Fp8E4m3, {&kFusedF32, &kScalar}},
      {FormatId::Fp8E5m2, {&kFusedF32, &kScalar}},
  };
  return t;
}

}  // namespace

KernelRegistry::KernelRegistry() {
#ifdef AQ_HAVE_CUDA
  const bool cuda_ok = cuda::device_count() > 0;
  const char* cuda_reason = cuda_ok ? "" : "compiled, but this machine has no CUDA device";
#else
  const bool cuda_ok = false;
  const char* cuda_reason = "not compiled (nvcc was not found at build time)";
#endif
  if (kernel_table().size() != quant_formats().size()) throw Error("internal: the kernel table misses a format");
  for (const auto& row : kernel_table())
    for (const ProductKernel* k : row.kernels) {
      const bool cuda = k->backend == Backend::Cuda;
      entries_.push_back({&format_of(row.format), k, !cuda || cuda_ok, cuda ? cuda_reason : ""});
    }
}

const KernelRegistry& KernelRegistry::instance() {
  static KernelRegistry r;
  return r;
}

const KernelEntry& KernelRegistry::select(const QuantFormat& format, const KernelRequest& req, bool* used_fallback,
                                          const PackedView* w) const {
  auto best = [&](Activation act) -> const KernelEntry* {
    const KernelEntry* b = nullptr;
    for (const auto& e : entries_) {
      const ProductKernel& k = *e.kernel;
      if (e.format->id != format.id || k.activation != act || !e.available) continue;
      if (!req.any_backend && k.backend != req.backend) continue;
      if (w && k.takes && !k.takes(*w)) continue;
      if (!b || k.priority > b->kernel->priority) b = &e;
    }
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
  const std::string name(format.name);
  std::string have;
  for (const auto& e : entries_)
    if (e.format->id == format.id)
      have += "\n  " + activation_name(e.kernel->activation) + " / " + backend_name(e.kernel->backend) +
              (e.available ? "" : " (" + e.unavailable_reason + ")");
  throw ValueError("no kernel for " + name + " weights" +
                   (w ? " in groups of " + std::to_string(w->geom.group_size) : std::string()) + " with " +
                   activation_name(req.activation) + " activations" +
                   (req.any_backend ? "" : " on backend " + backend_name(req.backend)) +
                   "; name a fallback (e.g. --kernel-fallback f32) to use another. Kernels for " + name + ":" + have);
}

}  // namespace arrowquant
