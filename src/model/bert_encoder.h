// A BERT-family encoder (BertModel: embeddings, post-LayerNorm encoder layers with exact GELU),
// reading its weights through ModelWeights so that it runs unchanged from any stored format.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/linear.h"
#include "model/model_weights.h"

namespace arrowquant {

struct BertConfig {
  int64_t vocab_size = 0, hidden = 0, layers = 0, heads = 0, intermediate = 0;
  int64_t max_positions = 0, type_vocab_size = 0;
  float layer_norm_eps = 1e-12f;
  // Refuses (FormatError naming `where`) anything but a BERT encoder with absolute positions and GELU.
  static BertConfig from_json(const nlohmann::json& cfg, const std::string& where);
};

// Token-level outputs of one padded batch.
struct EncoderOutput {
  int64_t batch = 0, seq_len = 0, hidden = 0;
  std::vector<int32_t> lengths;              // valid tokens per sequence
  std::vector<float> last_hidden;            // [batch, seq_len, hidden]; padded rows are zero
  std::vector<std::vector<float>> layers;    // with keep_layers: embeddings output, then each layer
  const float* token(int64_t b, int64_t t) const { return last_hidden.data() + (b * seq_len + t) * hidden; }
};

class BertEncoder {
 public:
  BertEncoder(const ModelWeights& w, int threads);
  const BertConfig& config() const { return cfg_; }
  // `batch`: token ids with [CLS]/[SEP] already added, at most max_positions long each.
  EncoderOutput forward(const std::vector<std::vector<int32_t>>& batch, bool keep_layers = false) const;

  // Calibration access, one sequence at a time: the embedding output [T, H], one layer run in place,
  // and the layer's Linears and scale-fold points (mutable: calibration replaces weights).
  std::vector<float> embed_sequence(const std::vector<int32_t>& ids) const;
  void run_layer(int64_t l, float* x, int64_t T) const;
  std::vector<Linear*> layer_linears(int64_t l);
  std::vector<ScaleFold> layer_folds(int64_t l);
  // The word-embedding table by its tensor name (the one table worth a probe: most of a small
  // encoder's weights); nullptr for another name.
  std::vector<std::string> table_names() const { return {word_emb_name_}; }
  std::shared_ptr<const std::vector<float>> table(const std::string& name) const;
  void set_table(const std::string& name, std::shared_ptr<const std::vector<float>> values);

 private:
  struct Layer {
    Linear query, key, value, attn_out, inter, out;
    std::vector<float> ln1_g, ln1_b, ln2_g, ln2_b;
  };
  void embed(const std::vector<std::vector<int32_t>>& batch, int64_t L, const std::vector<int32_t>& lengths,
             float* x) const;
  void layer_forward(const Layer& Lr, float* x, const std::vector<int32_t>& lengths, int64_t L) const;
  // ctx may be q (each head's queries are read before its context is written).
  void attention(const float* q, const float* k, const float* v, const std::vector<int32_t>& lengths,
                 int64_t seq_len, float* ctx) const;

  BertConfig cfg_;
  int threads_;
  Embedding word_emb_;
  std::string word_emb_name_;
  Embedding pos_emb_;
  std::vector<float> type_emb_, emb_ln_g_, emb_ln_b_;
  std::vector<Layer> layers_;
};

}  // namespace arrowquant
