#include "model/calibration_model.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "arrowquant/error.h"
#include "tokenizers/load_tokenizer.h"
#include "tokenizers/wordpiece_tokenizer.h"
#include "model/bert_encoder.h"
#include "model/dit_calibration.h"
#include "model/dit_transformer.h"
#include "model/llama_decoder.h"

namespace arrowquant {

namespace {

// The block-level part is the same for both architectures: each model class offers embed_sequence,
// run_layer, layer_linears and layer_folds.
template <class Model>
class BlockAccess : public CalibrationModel {
 public:
  BlockAccess(const ModelWeights& w, int threads) : model_(w, threads) {}
  int64_t context() const override { return model_.config().max_positions; }
  int64_t blocks() const override { return model_.config().layers; }
  std::vector<float> embed(const std::vector<int32_t>& ids) const override { return model_.embed_sequence(ids); }
  void run_block(int64_t b, float* x, int64_t T) const override { model_.run_layer(b, x, T); }
  std::vector<Linear*> linears(int64_t b) override { return model_.layer_linears(b); }
  std::vector<ScaleFold> folds(int64_t b) override { return model_.layer_folds(b); }
  std::vector<std::string> table_names() const override { return model_.table_names(); }
  std::shared_ptr<const std::vector<float>> table(const std::string& name) const override { return model_.table(name); }
  void set_table(const std::string& name, std::shared_ptr<const std::vector<float>> values) override {
    model_.set_table(name, std::move(values));
  }

 protected:
  Model model_;
};

class EncoderCalibration : public BlockAccess<BertEncoder> {
 public:
  EncoderCalibration(const ModelWeights& w, int threads)
      : BlockAccess(w, threads), tok_(WordPieceTokenizer::from_folder(w.folder())) {}
  std::string kind() const override { return "encoder"; }
  // Sentence embeddings are mean-pooled and normalised (what sentence-transformers' MiniLM does).
  std::vector<float> output(const float* x, int64_t T) const override {
    const int64_t H = model_.config().hidden;
    std::vector<double> sum(static_cast<size_t>(H), 0.0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t j = 0; j < H; ++j) sum[size_t(j)] += x[t * H + j];
    double norm = 0;
    for (double v : sum) norm += v * v;
    norm = std::sqrt(norm);
    std::vector<float> out(static_cast<size_t>(H));
    for (int64_t j = 0; j < H; ++j) out[size_t(j)] = norm > 0 ? float(sum[size_t(j)] / norm) : 0.0f;
    return out;
  }
  double divergence(const std::vector<float>& base, const std::vector<float>& probe) const override {
    double dot = 0;
    for (size_t j = 0; j < base.size(); ++j) dot += double(base[j]) * probe[j];
    return 1.0 - dot;
  }
  bool divergence_per_token() const override { return false; }
  int64_t default_seq_len() const override { return std::min<int64_t>(128, context()); }
  std::vector<std::vector<int32_t>> sequences(const std::vector<std::string>& docs, int64_t samples,
                                              int64_t seq_len) const override {
    std::vector<std::vector<int32_t>> out;
    for (const auto& d : docs) {
      if (int64_t(out.size()) >= samples) break;
      auto ids = tok_.encode(d, size_t(seq_len));
      if (ids.size() > 2) out.push_back(std::move(ids));  // more than [CLS] [SEP]
    }
    return out;
  }

 private:
  WordPieceTokenizer tok_;
};

class DecoderCalibration : public BlockAccess<LlamaDecoder> {
 public:
  DecoderCalibration(const ModelWeights& w, int threads)
      : BlockAccess(w, threads), tok_(load_text_tokenizer(w.path())) {}
  std::string kind() const override { return "decoder"; }
  std::vector<float> output(const float* x, int64_t T) const override {
    std::vector<float> logits = model_.output_logits(x, T);
    const int64_t V = model_.config().vocab_size;
    for (int64_t t = 0; t < T; ++t) {  // log-softmax per position
      float* row = logits.data() + t * V;
      const float mx = *std::max_element(row, row + V);
      double z = 0;
      for (int64_t v = 0; v < V; ++v) z += std::exp(double(row[v]) - mx);
      const float lz = float(std::log(z)) + mx;
      for (int64_t v = 0; v < V; ++v) row[v] -= lz;
    }
    return logits;
  }
  double divergence(const std::vector<float>& base, const std::vector<float>& probe) const override {
    double kl = 0;
    for (size_t i = 0; i < base.size(); ++i) kl += std::exp(double(base[i])) * (double(base[i]) - probe[i]);
    return kl;
  }
  bool divergence_per_token() const override { return true; }
  double block_loss_gradient(int64_t b, const float* x, int64_t T, const float* target, BlockGradient& g) const override {
    return model_.layer_loss_gradient(b, x, T, target, g);
  }
  int64_t default_seq_len() const override { return std::min<int64_t>(256, context()); }
  std::vector<std::vector<int32_t>> sequences(const std::vector<std::string>& docs, int64_t samples,
                                              int64_t seq_len) const override {
    std::vector<int32_t> stream;
    const int64_t want = samples * seq_len;
    for (const auto& d : docs) {
      if (int64_t(stream.size()) >= want) break;
      auto ids = tok_->encode(d, tok_->adds_bos());
      for (int32_t id : ids)
        if (id >= 0 && id < model_.config().vocab_size) stream.push_back(id);
    }
    std::vector<std::vector<int32_t>> out;
    for (size_t at = 0; at < stream.size() && int64_t(out.size()) < samples; at += size_t(seq_len)) {
      const size_t end = std::min(stream.size(), at + size_t(seq_len));
      if (end - at >= 2) out.emplace_back(stream.begin() + long(at), stream.begin() + long(end));
    }
    return out;
  }

 private:
  std::unique_ptr<TextTokenizer> tok_;
};

}  // namespace

void CalibrationModel::check_time_groups(int64_t groups) const {
  if (groups <= 0) return;
  if (train_timesteps() <= 0)
    throw ValueError("--time-groups is for diffusion models (activation clips per group of timesteps); this is " +
                     std::string(kind() == "encoder" ? "an " : "a ") + kind() + " model");
  if (groups > train_timesteps())
    throw ValueError("--time-groups " + std::to_string(groups) + ": the model has only " +
                     std::to_string(train_timesteps()) + " timesteps");
}

std::unique_ptr<CalibrationModel> CalibrationModel::open(const ModelWeights& w, int threads) {
  if (DecoderConfig::is_decoder(w.config())) return std::make_unique<DecoderCalibration>(w, threads);
  if (DitConfig::is_dit(w.config())) return open_dit_calibration(w, threads);
  return std::make_unique<EncoderCalibration>(w, threads);  // BertConfig refuses anything else
}

}  // namespace arrowquant
