// The kernel registry: every product kernel on packed weights, keyed by (weight format, activation
// type, backend, priority). A model asks for (format, activation[, backend]) and gets the available
// kernel of highest priority. When none matches it is an error — unless the caller names a
// fallback, which is then used and reported. Nothing falls back silently.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "arrowquant/packed_tensor.h"

namespace arrowquant {

enum class Activation { F32, Int8 };
std::string activation_name(Activation a);
Activation activation_from_name(const std::string& name);  // "f32" | "int8"; ValueError otherwise

// y[j·ldy + r] = Σ_k W[r,k]·x[j·cols + k] for j < n.
using PackedProduct = void (*)(const PackedView& w, const float* x, int64_t n, float* y, int64_t ldy, int threads);

struct KernelEntry {
  std::string format;       // quant_type, e.g. "int4_asym"
  Activation activation;
  std::string backend;      // "hwy" (SIMD, run-time dispatch), "scalar" (reference), "cuda"
  int priority = 0;
  std::string description;
  PackedProduct fn = nullptr;
  bool available = true;
  std::string unavailable_reason;
  // Geometries the kernel takes (group sizes differ per format); null = all.
  bool (*supports)(const PackedView& w) = nullptr;
};

struct KernelRequest {
  Activation activation = Activation::F32;
  std::string backend;               // empty: any
  bool has_fallback = false;         // when nothing matches, use `fallback` instead
  Activation fallback = Activation::F32;
  bool automatic = false;            // the request comes from --activations auto, not from the user
};

class KernelRegistry {
 public:
  static const KernelRegistry& instance();
  const std::vector<KernelEntry>& entries() const { return entries_; }
  // ValueError naming the format, the request and what exists, when nothing matches and no
  // fallback was named. `used_fallback` is set when the fallback was taken.
  // The best available kernel for format (and, given one, for w's geometry).
  const KernelEntry& select(const std::string& format, const KernelRequest& req, bool* used_fallback = nullptr,
                            const PackedView* w = nullptr) const;

 private:
  KernelRegistry();
  std::vector<KernelEntry> entries_;
};


}  // namespace arrowquant
