// llama2.c legacy checkpoints (karpathy/llama2.c run.c): seven int32 header fields, then float32
// tensors in a fixed order. A negative vocab_size means the classifier is stored separately.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "util/mmap_file.h"
#include "arrowquant/tensor.h"

namespace arrowquant {

struct Llama2cConfig {
  int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
  bool shared_classifier;
};

class Llama2cCheckpoint {
 public:
  // Validates the header and that the file size equals exactly what the header implies (with or
  // without a separate classifier). Throws FormatError otherwise.
  explicit Llama2cCheckpoint(const std::string& path);
  const Llama2cConfig& config() const { return cfg_; }
  // Tensors under Hugging Face Llama names, one per layer (model.layers.N.self_attn.q_proj.weight,
  // ...). The RoPE tables the format still carries are skipped: they are not weights.
  const std::vector<TensorView>& tensors() const { return tensors_; }
  // Whether the first bytes of a file (at least 28) look like a llama2.c header.
  static bool looks_like(const uint8_t* head, size_t n);
  static bool looks_like(const std::string& path);

 private:
  std::unique_ptr<MappedFile> map_;
  Llama2cConfig cfg_{};
  std::vector<TensorView> tensors_;
};

}  // namespace arrowquant
