#include "arrowquant/engine.h"

#include <algorithm>
#include <filesystem>
#include <numeric>

#include "arrowquant/error.h"
#include "arrowquant/tensor_source.h"
#include "arrowquant/wordpiece_tokenizer.h"
#include "kernels/dense_ops.h"
#include "model/bert_encoder.h"
#include "model/model_weights.h"
#include "model/sentence_pooling.h"

namespace fs = std::filesystem;

namespace arrowquant {

struct ArrowEngine::Impl {
  std::string path;
  std::unique_ptr<ModelWeights> weights;
  std::unique_ptr<WordPieceTokenizer> tokenizer;
  std::unique_ptr<BertEncoder> encoder;
  SentencePooling pooling;
  size_t max_length = 0;
};

namespace {

// sentence-transformers truncates at max_seq_length; plain checkpoints at their position count.
size_t model_max_length(const std::string& folder, int64_t positions) {
  size_t len = size_t(positions);
  fs::path st = fs::path(folder) / "sentence_bert_config.json";
  std::error_code ec;
  if (fs::is_regular_file(st, ec)) {
    nlohmann::json j = read_json_file(st.string());
    if (j.contains("max_seq_length") && j["max_seq_length"].is_number_integer())
      len = std::min(len, size_t(std::max<int64_t>(2, j["max_seq_length"].get<int64_t>())));
  }
  return len;
}

}  // namespace

ArrowEngine::ArrowEngine(const std::string& model_path, EngineOptions opts) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.path = model_path;
  m.weights = std::make_unique<ModelWeights>(model_path);
  const nlohmann::json& cfg = m.weights->config();
  // Check the architecture before the tokenizer so that an unsupported model says so first.
  BertConfig::from_json(cfg, model_path);
  m.tokenizer = std::make_unique<WordPieceTokenizer>(WordPieceTokenizer::from_folder(m.weights->folder()));
  kernels::set_blas_threads(opts.threads);
  m.encoder = std::make_unique<BertEncoder>(*m.weights, opts.threads);
  if (int64_t(m.tokenizer->vocab_size()) > m.encoder->config().vocab_size)
    throw FormatError(m.weights->folder() + ": the tokenizer has " + std::to_string(m.tokenizer->vocab_size()) +
                      " tokens but the model's vocab_size is " + std::to_string(m.encoder->config().vocab_size));
  m.pooling = SentencePooling::from_folder(m.weights->folder());
  m.max_length = model_max_length(m.weights->folder(), m.encoder->config().max_positions);
  if (opts.max_length > 0) {
    if (opts.max_length < 2 || int64_t(opts.max_length) > m.encoder->config().max_positions)
      throw ValueError("max length " + std::to_string(opts.max_length) + " must be between 2 and the model's " +
                       std::to_string(m.encoder->config().max_positions) + " positions");
    m.max_length = opts.max_length;
  }
}

ArrowEngine::~ArrowEngine() = default;

const std::string& ArrowEngine::model_path() const { return impl_->path; }
std::string ArrowEngine::weights_kind() const { return impl_->weights->kind(); }
std::string ArrowEngine::architecture() const { return "bert"; }
std::string ArrowEngine::pooling() const { return impl_->pooling.describe(); }
size_t ArrowEngine::max_length() const { return impl_->max_length; }
int64_t ArrowEngine::embedding_dim() const { return impl_->encoder->config().hidden; }
int64_t ArrowEngine::num_layers() const { return impl_->encoder->config().layers; }

std::vector<std::vector<int32_t>> ArrowEngine::tokenize(const std::vector<std::string>& texts) const {
  std::vector<std::vector<int32_t>> ids;
  ids.reserve(texts.size());
  for (const auto& t : texts) ids.push_back(impl_->tokenizer->encode(t, impl_->max_length));
  return ids;
}

EncodedBatch ArrowEngine::encode_ids(const std::vector<std::vector<int32_t>>& batch, bool keep_layers) const {
  EncoderOutput o = impl_->encoder->forward(batch, keep_layers);
  EncodedBatch r;
  r.embeddings.rows = o.batch;
  r.embeddings.dim = o.hidden;
  r.embeddings.values.resize(size_t(o.batch * o.hidden));
  impl_->pooling.apply(o, r.embeddings.values.data());
  r.lengths = std::move(o.lengths);
  r.seq_len = o.seq_len;
  r.hidden = o.hidden;
  r.layers = std::move(o.layers);
  return r;
}

Embeddings ArrowEngine::encode(const std::vector<std::string>& texts, const EncodeOptions& opts) const {
  if (opts.batch_size < 1) throw ValueError("batch size must be at least 1");
  std::vector<std::vector<int32_t>> ids = tokenize(texts);
  // Longest first, so that each batch pads little; results go back to the caller's order.
  std::vector<size_t> order(ids.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a].size() > ids[b].size(); });
  Embeddings out;
  out.rows = int64_t(texts.size());
  out.dim = embedding_dim();
  out.values.resize(size_t(out.rows * out.dim));
  for (size_t start = 0; start < order.size(); start += size_t(opts.batch_size)) {
    size_t end = std::min(order.size(), start + size_t(opts.batch_size));
    std::vector<std::vector<int32_t>> batch;
    for (size_t i = start; i < end; ++i) batch.push_back(std::move(ids[order[i]]));
    EncodedBatch r = encode_ids(batch);
    for (size_t i = start; i < end; ++i)
      std::copy(r.embeddings.row(int64_t(i - start)), r.embeddings.row(int64_t(i - start)) + out.dim,
                out.values.begin() + int64_t(order[i]) * out.dim);
    if (opts.progress) opts.progress(end, order.size());
  }
  return out;
}

}  // namespace arrowquant
