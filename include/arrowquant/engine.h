// ArrowEngine: opens a model (original safetensors folder, Parquet V1 table or ArrowQuant V2 folder)
// and runs it. The engine reads every format through the same loader, so a quantised model is used
// exactly like the original.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "arrowquant/kv_quant_plan.h"
#include "arrowquant/settings.h"

namespace arrowquant {

class TextTokenizer;

struct EngineOptions {
  int threads = 0;          // 0: all cores
  size_t max_length = 0;    // 0: the model's own (sentence_bert_config.json, else its positions)
  // How quantised weights are used. Packed: they stay in the mapped file and run through the fused
  // kernels (least memory; fastest when weight reads dominate, as in decoding a large model).
  // Float: dequantised to float32 once at load (BLAS speed; small decoders that fit in cache). Auto:
  // Packed for encoders with int8 activations allowed (their batches run the int8 GEMM), Float for
  // encoders with f32 activations and for decoders whose float32 weights would take under 64 MB,
  // Packed otherwise.
  // PackedCopy: packed, copied at load into huge-page memory (see ModelWeights::set_packed_kernels).
  enum class Weights { Auto, Packed, PackedCopy, Float };
  Weights weights = Weights::Auto;
  // Activations of the packed products: F32, Int8, or Auto (int8 wherever the packed weights have an
  // int8 kernel and f32 for the rest, int8 outright for models calibrated for it, e.g. SmoothQuant).
  enum class Activations { Auto, F32, Int8 };
  Activations activations = Activations::Auto;
  // The activation type to use for formats that have no kernel for `activations` (F32 or Int8);
  // Auto: none, such a model is refused.
  Activations kernel_fallback = Activations::Auto;
  // Diffusion models quantised with --time-groups: each block Linear's input rounded to the static
  // int8 clip of its image's timestep group, stored in the file (products on float activations: a
  // simulation of static-int8 hardware). Refused by text models and by files without clips.
  bool static_activations = false;
};
inline constexpr EnumOption kWeightsNames[] = {{int(EngineOptions::Weights::Auto), "auto"},
                                               {int(EngineOptions::Weights::Packed), "packed"},
                                               {int(EngineOptions::Weights::PackedCopy), "packed-copy"},
                                               {int(EngineOptions::Weights::Float), "float"}};
inline constexpr EnumOption kActivationsNames[] = {{int(EngineOptions::Activations::Auto), "auto"},
                                                   {int(EngineOptions::Activations::F32), "f32"},
                                                   {int(EngineOptions::Activations::Int8), "int8"}};

// Row-major [rows, dim] float32 vectors.
struct Embeddings {
  int64_t rows = 0, dim = 0;
  std::vector<float> values;
  const float* row(int64_t i) const { return values.data() + i * dim; }
};

struct EncodeOptions {
  int batch_size = 32;
  // Called after each batch with (texts done, total).
  std::function<void(size_t, size_t)> progress;
};

// Token-level view of one batch, for validators and benchmarks.
struct EncodedBatch {
  Embeddings embeddings;                  // pooled, one row per sequence
  std::vector<int32_t> lengths;           // valid tokens per sequence
  int64_t seq_len = 0, hidden = 0;
  std::vector<std::vector<float>> layers; // with keep_layers: [batch, seq_len, hidden] per layer
};

struct GenerateOptions {
  int max_tokens = 128;
  float temperature = 0.8f;  // 0: greedy
  int top_k = 40;            // 0: no limit
  float top_p = 0.95f;
  uint64_t seed = 0;
  int64_t context = 0;       // 0: the model's max_position_embeddings
  KVQuantPlan kv;
  std::vector<std::string> stop_tokens;  // special tokens that end generation besides EOS
  bool ignore_eos = false;               // keep going past EOS (fixed-length benchmarks)
  // Called with each new token's text as soon as it is chosen; return false to stop.
  std::function<bool(const std::string&, int32_t)> on_token;
};

struct GenerateResult {
  std::string text;                  // the generated continuation
  std::vector<int32_t> prompt_ids, ids;
  double prefill_seconds = 0, decode_seconds = 0;
  size_t kv_cache_bytes = 0;
  std::string stop_reason;           // "eos", "stop_token", "max_tokens", "context", "callback"
};

class ArrowEngine {
 public:
  // Throws IoError/FormatError naming the file (and tensor) when the model cannot be used: no
  // config.json, unknown architecture, missing tokenizer, a tensor of the wrong shape.
  explicit ArrowEngine(const std::string& model_path, EngineOptions opts = {});
  ~ArrowEngine();
  ArrowEngine(const ArrowEngine&) = delete;
  ArrowEngine& operator=(const ArrowEngine&) = delete;

  const std::string& model_path() const;
  std::string weights_kind() const;  // "safetensors", "parquet-v1", "parquet-v2", ...
  std::string architecture() const;  // config.json model_type: "bert", "llama", "qwen2", ...
  bool is_decoder() const;
  std::string pooling() const;
  bool packed_weights() const;  // whether quantised weights run packed (see EngineOptions::Weights)
  // Kernel fallbacks taken while loading (one line each); empty when every request was met.
  std::vector<std::string> kernel_notes() const;
  size_t max_length() const;
  int64_t embedding_dim() const;
  int64_t num_layers() const;

  // [CLS] … [SEP] token ids, truncated at max_length().
  std::vector<std::vector<int32_t>> tokenize(const std::vector<std::string>& texts) const;
  // Sentence embeddings, in the order of `texts`. Sentences are batched by length internally, so
  // the batch size changes speed, not results (beyond float rounding).
  Embeddings encode(const std::vector<std::string>& texts, const EncodeOptions& opts = {}) const;
  EncodedBatch encode_ids(const std::vector<std::vector<int32_t>>& batch, bool keep_layers = false) const;

  // Decoders. ValueError on an encoder (and encode() on a decoder). The prompt gets the model's BOS
  // when its tokenizer asks for one; a prompt that does not fit the context is refused.
  GenerateResult generate(const std::string& prompt, const GenerateOptions& opts = {}) const;
  const TextTokenizer& text_tokenizer() const;
  int64_t context_length() const;  // max_position_embeddings
  int64_t vocab_size() const;
  // Logits at every position of `ids` run from an empty cache: [ids.size(), vocab_size()].
  std::vector<float> logits(const std::vector<int32_t>& ids, const KVQuantPlan& kv = {}) const;
  // Bytes the KV cache of a `context`-token sequence takes under `kv`.
  size_t kv_cache_bytes(int64_t context, const KVQuantPlan& kv) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arrowquant
