// A fully connected layer y = x·Wᵀ + b as the model code sees it. A quantised weight stays packed
// (pointing into the mapped file) and runs through the fused kernels; a float one is multiplied
// with BLAS. The model code cannot tell which.
#pragma once
#include <cstdint>
#include <memory>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "model/model_weights.h"

namespace arrowquant {

struct Linear;
// Sees the input of every Linear it is attached to; calibration accumulates statistics with it.
class LinearObserver {
 public:
  virtual ~LinearObserver() = default;
  virtual void observe(const Linear& l, const float* x, int64_t n) = 0;
};

// Rounds a Linear's input before its product, as a runtime with static int8 activations would
// (model/time_group_activations.h). out may not alias x.
class InputQuantizer {
 public:
  virtual ~InputQuantizer() = default;
  virtual void quantize(const Linear& l, const float* x, int64_t n, float* out) const = 0;
};

struct Linear {
  std::string name;                  // tensor name prefix, e.g. "model.layers.0.self_attn.q_proj"
  int64_t in = 0, out = 0;
  std::shared_ptr<const std::vector<float>> weight;  // [out, in] when stored in float
  std::vector<PackedRows> packed;   // when quantised
  std::shared_ptr<const void> packed_owner;  // what packed points into, when not a memory map
  const ProductKernel* kernel = nullptr;  // the registry's choice for the packed chunks
  // Packed chunks stored in a rotated input space: the input is rotated before the kernels see it.
  std::shared_ptr<const PreparedRotation> rotation;
  std::vector<float> bias;           // [out] or empty
  int threads = 0;
  LinearObserver* observer = nullptr;  // calibration only
  std::shared_ptr<const InputQuantizer> input_quantizer;  // static activations; null: inputs as they are

  // Loads `<prefix>.weight` (and `<prefix>.bias` when with_bias), checking shapes.
  static Linear load(const ModelWeights& w, const std::string& prefix, int64_t out, int64_t in,
                     bool with_bias, int threads);
  static Linear from_tensor(const ModelWeights& w, const std::string& name, int64_t out, int64_t in, int threads);
  // A head tied to an embedding table: shares its floats or its packed chunks, copies nothing.
  static Linear tied_to(const struct Embedding& e, int threads);
  // y[n, out] = x[n, in]·Wᵀ + b
  void forward(const float* x, int64_t n, float* y) const;
  // Several layers reading the same input (q/k/v, gate/up): each output as forward() makes it, the
  // input rotated once for every layer stored in the same rotation.
  static void forward_shared(std::initializer_list<std::pair<const Linear*, float*>> layers, const float* x, int64_t n);
  bool is_packed() const { return !packed.empty(); }
  // Replaces the weight by float values [out, in] (calibration swaps in quantised-then-dequantised
  // weights this way); drops packed chunks.
  void set_weight(std::vector<float> w);
  // From now on the products run on q's packed codes through the kernels the engine picks by
  // default (int8 activations and the integer GEMM where q's format has them, else float), as the
  // deployed model will. float_weight() keeps returning the float weight, which should be q's
  // dequantised values. Calibration advances finished blocks this way.
  void run_on_packed(std::shared_ptr<const QuantizedTensor> q);
  // Back to the float weight after run_on_packed (the packed copy is let go).
  void drop_packed();
  // The float weight [out, in]; throws when the layer runs on packed chunks.
  const std::vector<float>& float_weight() const;

 private:
  // The product itself, x already in the weight's input space.
  void multiply(const float* x, int64_t n, float* y) const;
};

// Where a per-input-channel scale of some Linears (AWQ, SmoothQuant) can be folded in exactly:
// x' = x / s ahead of the consumers, W' = W · diag(s) inside them. The producer is the op whose
// output feeds only these consumers: an RMSNorm weight, or the output rows (and bias) of a Linear.
struct ScaleFold {
  std::string name;                    // for reports: "layers.0.attn_in"
  std::vector<Linear*> consumers;
  std::vector<float>* norm = nullptr;  // producer: an elementwise norm weight
  std::string norm_name;               // its tensor name
  Linear* rows = nullptr;              // producer: a Linear whose output rows feed the consumers
  // Consumer input channel c takes producer element channel_source[c] (grouped-query attention
  // repeats a value head for several query heads); empty = identity.
  std::vector<int64_t> channel_source;
  // An adaLN modulation (DiT) as producer: `rows` makes m per image and the consumers read
  // LN(h)·(1 + m[adaln_scale + c]) + m[adaln_shift + c]; both rows of channel c are divided by its
  // scale and the 1 moves into the scale row's bias. -1: `rows` feeds the consumers directly.
  int64_t adaln_shift = -1, adaln_scale = -1;
};

// The gradient of a block's output error with respect to its float parameters, added up over
// sequences (block-wise tuning): one [out, in] per Linear and one per elementwise norm weight, in the
// order the model lists them; sized by the model on first use.
struct BlockGradient {
  std::vector<std::vector<float>> linear;
  std::vector<std::vector<float>> norm;
};

// A lookup table (token embeddings): rows dequantised on demand when the table is quantised.
struct Embedding {
  int64_t rows = 0, cols = 0;
  std::shared_ptr<const std::vector<float>> table;
  std::vector<PackedRows> packed;
  const ProductKernel* kernel = nullptr;  // used when the table doubles as a tied output head
  std::shared_ptr<const PreparedRotation> rotation;  // of the packed rows (lookup undoes it)
  static Embedding load(const ModelWeights& w, const std::string& name, int64_t rows, int64_t cols);
  void lookup(int64_t row, float* out) const;
  bool is_packed() const { return !packed.empty(); }
};

}  // namespace arrowquant
