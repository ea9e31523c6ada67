// A Llama-family decoder (Llama, Llama 2, Qwen2/Qwen2.5, Mistral-style configs; llama2.c checkpoints
// through their HF-equivalent config): RMSNorm, rotary positions, grouped-query attention, SwiGLU,
// optional QKV biases, tied or separate LM head. Weights come through ModelWeights, so it runs
// unchanged from every stored format.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/kv_cache.h"
#include "model/linear.h"
#include "model/model_weights.h"

namespace arrowquant {

struct DecoderConfig {
  std::string model_type;
  int64_t vocab_size = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0;
  int64_t intermediate = 0, max_positions = 0;
  float rms_eps = 1e-6f, rope_theta = 10000.0f;
  bool qkv_bias = false, tied_embeddings = false;
  bool rope_interleaved = false;  // llama2.c rotates adjacent pairs; HF rotates halves
  int32_t bos_token_id = -1, eos_token_id = -1;
  // FormatError naming `where` for unsupported architectures or settings (rope scaling, sliding
  // window, activations other than SiLU).
  static DecoderConfig from_json(const nlohmann::json& cfg, const std::string& where);
  static bool is_decoder(const nlohmann::json& cfg);
};

// Per-sequence state: the KV cache and how many positions it holds.
struct DecoderState {
  std::vector<KVStore> keys, values;
  int64_t length = 0, capacity = 0;
  size_t bytes() const;
};

class LlamaDecoder {
 public:
  LlamaDecoder(const ModelWeights& w, int threads);
  const DecoderConfig& config() const { return cfg_; }
  DecoderState new_state(int64_t capacity, const KVQuantPlan& plan) const;
  // Runs `tokens` at positions state.length… and appends them to the cache. Returns logits
  // [tokens.size(), vocab] when all_logits, else only the last position's [vocab].
  std::vector<float> forward(DecoderState& state, const std::vector<int32_t>& tokens, bool all_logits) const;

  // Calibration access, one sequence at a time from position 0: the embeddings [T, H], one layer run
  // in place, and the layer's Linears and scale-fold points (mutable: calibration replaces weights).
  std::vector<float> embed_sequence(const std::vector<int32_t>& ids) const;
  void run_layer(int64_t l, float* x, int64_t T) const;
  std::vector<Linear*> layer_linears(int64_t l);
  std::vector<ScaleFold> layer_folds(int64_t l);
  // Σ‖layer(x) − target‖² over one sequence x [T, H] from position 0, with the layer's float weights
  // as they are now; its gradient is added into g (linear: layer_linears() order; norm: the attention's,
  // then the MLP's). llama_layer_gradient.cc.
  double layer_loss_gradient(int64_t l, const float* x, int64_t T, const float* target, BlockGradient& g) const;
  // The next-token logits [T, vocab] of the last layer's states x [T, H]: final norm, then the head.
  std::vector<float> output_logits(const float* x, int64_t T) const;
  // The float tables outside the layers, by tensor name: the embeddings (which a tied head shares)
  // and an untied head. Setting one replaces it wherever it is read; nullptr for another name.
  std::vector<std::string> table_names() const;
  std::shared_ptr<const std::vector<float>> table(const std::string& name) const;
  void set_table(const std::string& name, std::shared_ptr<const std::vector<float>> values);

 private:
  struct Layer {
    std::vector<float> attn_norm, mlp_norm;
    Linear q, k, v, o, gate, up, down;
  };
  void embed(const std::vector<int32_t>& tokens, float* x) const;
  void layer_forward(int64_t l, float* x, int64_t T, DecoderState& st, int64_t pos0) const;
  // Rotates each head's pairs by its position's angles; inverse: by minus them (the transpose, which
  // the backward pass needs).
  void rope(float* x, int64_t rows, int64_t heads, int64_t pos0, bool inverse = false) const;
  void attention(const float* q, DecoderState& st, int64_t layer, int64_t t_count, int64_t pos0, float* out) const;

  DecoderConfig cfg_;
  int threads_;
  Embedding embed_;
  std::vector<float> final_norm_;
  // The residual stream's rotation when the weights hold a rotated model (model/residual_rotation.h):
  // the final norm then runs on the unrotated stream and hands the head a rotated input.
  std::shared_ptr<const PreparedRotation> residual_;
  Linear lm_head_;  // a tied head shares the embedding's floats or packed chunks
  std::vector<Layer> layers_;
  std::vector<float> rope_cos_, rope_sin_;  // [max_positions, head_dim / 2]
};

}  // namespace arrowquant
