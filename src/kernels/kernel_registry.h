// The kernel table: for every format of the format table (keyed by the same FormatId, like ggml's
// type_traits_cpu beside its type_traits), the product kernels it has, each described once. A model
// asks for (format, activation[, backend]) and gets the available kernel of highest priority that
// takes the tensor's geometry. When none matches it is an error — unless the caller names a
// fallback, which is then used and reported. Nothing falls back silently.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "arrowquant/packed_tensor.h"

namespace arrowquant {

enum class Activation { F32, Int8 };
std::string activation_name(Activation a);
Activation activation_from_name(const std::string& name);  // "f32" | "int8"; ValueError otherwise

enum class Backend { Hwy, Scalar, Cuda };
std::string backend_name(Backend b);  // "hwy" (SIMD, run-time dispatch), "scalar" (reference), "cuda"

// y[j·ldy + r] = Σ_k W[r,k]·x[j·cols + k] for j < n.
using PackedProduct = void (*)(const PackedView& w, const float* x, int64_t n, float* y, int64_t ldy, int threads);

// One product kernel, written once whatever the formats that have it.
struct ProductKernel {
  std::string_view name;         // e.g. "fused-f32"
  Activation activation;
  Backend backend;
  int priority;
  std::string_view description;
  PackedProduct fn;
  // Geometries the kernel takes (which group sizes, on this CPU); null = every geometry.
  bool (*takes)(const PackedView& w) = nullptr;
};

// A kernel of one format, as the registry offers it on this machine.
struct KernelEntry {
  const QuantFormat* format;
  const ProductKernel* kernel;
  bool available = true;
  std::string unavailable_reason;
};

struct KernelRequest {
  Activation activation = Activation::F32;
  bool any_backend = true;           // false: only `backend`
  Backend backend = Backend::Hwy;
  bool has_fallback = false;         // when nothing matches, use `fallback` instead
  Activation fallback = Activation::F32;
  bool automatic = false;            // the request comes from --activations auto, not from the user
};

// What --activations auto asks of packed weights: int8 wherever the format has an int8 kernel,
// float where not.
inline KernelRequest automatic_int8_request() {
  KernelRequest r;
  r.activation = Activation::Int8;
  r.has_fallback = true;
  r.fallback = Activation::F32;
  r.automatic = true;
  return r;
}

class KernelRegistry {
 public:
  static const KernelRegistry& instance();
  const std::vector<KernelEntry>& entries() const { return entries_; }
  // The best available kernel for the format (and, given one, for w's geometry). ValueError naming
  // the format, the request and what exists, when nothing matches and no fallback was named.
  // `used_fallback` is set when the fallback was taken.
  const KernelEntry& select(const QuantFormat& format, const KernelRequest& req, bool* used_fallback = nullptr,
                            const PackedView* w = nullptr) const;

 private:
  KernelRegistry();
  std::vector<KernelEntry> entries_;
};

}  // namespace arrowquant
