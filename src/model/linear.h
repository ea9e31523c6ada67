// A fully connected layer y = x·Wᵀ + b as the model code sees it. A quantised weight stays packed
// (pointing into the mapped file) and runs through the fused kernels; a float one is multiplied
// with BLAS. The model code cannot tell which.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/model_weights.h"

namespace arrowquant {

struct Linear {
  int64_t in = 0, out = 0;
  std::shared_ptr<const std::vector<float>> weight;  // [out, in] when stored in float
  std::vector<PackedChunk> packed;   // when quantised
  const KernelEntry* kernel = nullptr;  // the registry's choice for the packed chunks
  std::vector<float> bias;           // [out] or empty
  int threads = 0;

  // Loads `<prefix>.weight` (and `<prefix>.bias` when with_bias), checking shapes.
  static Linear load(const ModelWeights& w, const std::string& prefix, int64_t out, int64_t in,
                     bool with_bias, int threads);
  static Linear from_tensor(const ModelWeights& w, const std::string& name, int64_t out, int64_t in, int threads);
  // A head tied to an embedding table: shares its floats or its packed chunks, copies nothing.
  static Linear tied_to(const struct Embedding& e, int threads);
  // y[n, out] = x[n, in]·Wᵀ + b
  void forward(const float* x, int64_t n, float* y) const;
  bool is_packed() const { return !packed.empty(); }
};

// A lookup table (token embeddings): rows dequantised on demand when the table is quantised.
struct Embedding {
  int64_t rows = 0, cols = 0;
  std::shared_ptr<const std::vector<float>> table;
  std::vector<PackedChunk> packed;
  const KernelEntry* kernel = nullptr;  // used when the table doubles as a tied output head
  static Embedding load(const ModelWeights& w, const std::string& name, int64_t rows, int64_t cols);
  void lookup(int64_t row, float* out) const;
  bool is_packed() const { return !packed.empty(); }
};

}  // namespace arrowquant
