#include "arrowquant/engine.h"

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <optional>

#include "arrowquant/error.h"
#include "tokenizers/wordpiece_tokenizer.h"
#include "kernels/dense_ops.h"
#include "tokenizers/load_tokenizer.h"
#include "util/clock.h"
#include "model/bert_encoder.h"
#include "model/llama_decoder.h"
#include "model/sampler.h"
#include "model/model_weights.h"
#include "model/sentence_pooling.h"
#include "io/json_file.h"

namespace fs = std::filesystem;

namespace arrowquant {

struct ArrowEngine::Impl {
  std::string path;
  std::unique_ptr<ModelWeights> weights;
  std::unique_ptr<WordPieceTokenizer> tokenizer;
  std::unique_ptr<BertEncoder> encoder;
  SentencePooling pooling;
  size_t max_length = 0;
  std::string architecture;
  std::unique_ptr<LlamaDecoder> decoder;
  std::unique_ptr<TextTokenizer> text_tokenizer;
  bool packed = false;

  const BertEncoder& enc() const {
    if (!encoder) throw ValueError(path + " is a " + architecture + " decoder: use generate or ppl, not encode");
    return *encoder;
  }
  const LlamaDecoder& dec() const {
    if (!decoder) throw ValueError(path + " is a " + architecture + " encoder: use encode, not generate or ppl");
    return *decoder;
  }
};

namespace {

// sentence-transformers truncates at max_seq_length; plain checkpoints at their position count.
size_t model_max_length(const std::string& folder, int64_t positions) {
  size_t len = size_t(positions);
  fs::path st = fs::path(folder) / "sentence_bert_config.json";
  std::error_code ec;
  if (fs::is_regular_file(st, ec)) {
    nlohmann::json j = read_json_file(st.string());
    if (const int64_t n = json_int(j, "max_seq_length", 0, st.string()); n > 0) len = std::min(len, size_t(std::max<int64_t>(2, n)));
  }
  return len;
}

Activation kernel_activation(EngineOptions::Activations a) {
  if (a == EngineOptions::Activations::Auto) throw ValueError("internal: activations still auto");
  return a == EngineOptions::Activations::Int8 ? Activation::Int8 : Activation::F32;
}

// Packed or float weights (see EngineOptions::Weights); `decoder` is null for encoders. `activations`
// is resolved (not Auto); `int8_allowed`: they were int8 or auto.
EngineOptions::Weights resolve_weights_mode(EngineOptions::Weights mode, EngineOptions::Activations activations,
                                            bool int8_allowed, const DecoderConfig* decoder) {
  if (activations == EngineOptions::Activations::Int8) {
    // int8 activations exist only in the packed kernels: asking for them is asking for packed weights
    if (mode == EngineOptions::Weights::Float)
      throw ValueError("int8 activations need packed weights (--weights packed or auto), not float");
    return mode == EngineOptions::Weights::PackedCopy ? mode : EngineOptions::Weights::Packed;
  }
  if (mode != EngineOptions::Weights::Auto) return mode;
  // Encoders run their batches through the int8 GEMM on the packed weights: MiniLM at batch 1 and 32,
  // INT8/INT4/INT2, ran 2.2-7.3x the float engine (BENCHMARKS, issue 15); with f32 activations the
  // packed path was the slower one (0.56-0.74x: dequantised tiles every call).
  if (!decoder) return int8_allowed ? EngineOptions::Weights::Packed : EngineOptions::Weights::Float;
  const DecoderConfig& c = *decoder;
  const double params = double(c.layers) * double(c.hidden) *
                            double(2 * c.heads * c.head_dim + 2 * c.kv_heads * c.head_dim + 3 * c.intermediate) +
                        double(c.vocab_size * c.hidden);
  return params * 4 >= 64e6 ? EngineOptions::Weights::Packed : EngineOptions::Weights::Float;
}

}  // namespace

ArrowEngine::ArrowEngine(const std::string& model_path, EngineOptions opts) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.path = model_path;
  if (opts.static_activations)
    throw ValueError(model_path + ": static activations per timestep group are for diffusion models (sample, validate)");
  // Open once; whether quantised tensors stay packed is decided from the config before any tensor
  // is loaded.
  m.weights = std::make_unique<ModelWeights>(model_path);
  // auto: int8 activations wherever packed weights have a kernel for them (4x fewer activation bytes,
  // integer dot products: decode reads weights near memory speed; +0.0005–0.0006 KL on stories260K),
  // f32 where not. SmoothQuant models chose their scales for int8, so they ask for it outright.
  const bool auto_activations = opts.activations == EngineOptions::Activations::Auto;
  if (auto_activations)
    opts.activations = m.weights->preferred_activations() == "int8" ? EngineOptions::Activations::Int8
                                                                    : EngineOptions::Activations::F32;
  const nlohmann::json& cfg = m.weights->config();
  m.architecture = json_string(cfg, "model_type", "", model_path);
  std::optional<DecoderConfig> dcfg;
  if (DecoderConfig::is_decoder(cfg)) dcfg = DecoderConfig::from_json(cfg, model_path);  // refuses unsupported settings
  const EngineOptions::Weights mode = resolve_weights_mode(
      opts.weights, opts.activations, auto_activations || opts.activations == EngineOptions::Activations::Int8,
      dcfg ? &*dcfg : nullptr);
  m.packed = mode == EngineOptions::Weights::Packed || mode == EngineOptions::Weights::PackedCopy;
  m.weights->set_packed_kernels(m.packed, mode == EngineOptions::Weights::PackedCopy);
  KernelRequest req;
  req.activation = kernel_activation(opts.activations);
  // The fallback is per tensor, recorded in the kernel notes.
  if (auto_activations && m.packed && req.activation == Activation::F32) req = automatic_int8_request();
  if (opts.kernel_fallback != EngineOptions::Activations::Auto) {
    req.has_fallback = true;
    req.fallback = kernel_activation(opts.kernel_fallback);
  }
  m.weights->set_kernel_request(req);
  if (dcfg) {
    m.text_tokenizer = load_text_tokenizer(m.weights->path());
    m.decoder = std::make_unique<LlamaDecoder>(*m.weights, opts.threads);
    if (int64_t(m.text_tokenizer->vocab_size()) > m.decoder->config().vocab_size)
      throw FormatError(m.weights->folder() + ": the tokenizer has " + std::to_string(m.text_tokenizer->vocab_size()) +
                        " tokens but the model's vocab_size is " + std::to_string(m.decoder->config().vocab_size));
    return;
  }
  // Check the architecture before the tokenizer so that an unsupported model says so first.
  BertConfig::from_json(cfg, model_path);
  m.tokenizer = std::make_unique<WordPieceTokenizer>(WordPieceTokenizer::from_folder(m.weights->folder()));
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
std::string ArrowEngine::architecture() const { return impl_->architecture; }
bool ArrowEngine::is_decoder() const { return impl_->decoder != nullptr; }
bool ArrowEngine::packed_weights() const { return impl_->packed; }
std::vector<std::string> ArrowEngine::kernel_notes() const { return impl_->weights->kernel_notes(); }

std::string ArrowEngine::pooling() const { return impl_->pooling.describe(); }
size_t ArrowEngine::max_length() const { return impl_->max_length; }
int64_t ArrowEngine::embedding_dim() const {
  return impl_->decoder ? impl_->decoder->config().hidden : impl_->enc().config().hidden;
}
int64_t ArrowEngine::num_layers() const {
  return impl_->decoder ? impl_->decoder->config().layers : impl_->enc().config().layers;
}

std::vector<std::vector<int32_t>> ArrowEngine::tokenize(const std::vector<std::string>& texts) const {
  impl_->enc();
  std::vector<std::vector<int32_t>> ids;
  ids.reserve(texts.size());
  for (const auto& t : texts) ids.push_back(impl_->tokenizer->encode(t, impl_->max_length));
  return ids;
}

EncodedBatch ArrowEngine::encode_ids(const std::vector<std::vector<int32_t>>& batch, bool keep_layers) const {
  EncoderOutput o = impl_->enc().forward(batch, keep_layers);
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

const TextTokenizer& ArrowEngine::text_tokenizer() const {
  impl_->dec();
  return *impl_->text_tokenizer;
}
int64_t ArrowEngine::context_length() const { return impl_->dec().config().max_positions; }
int64_t ArrowEngine::vocab_size() const { return impl_->dec().config().vocab_size; }

size_t ArrowEngine::kv_cache_bytes(int64_t context, const KVQuantPlan& kv) const {
  return impl_->dec().new_state(context, kv).bytes();
}

std::vector<float> ArrowEngine::logits(const std::vector<int32_t>& ids, const KVQuantPlan& kv) const {
  const LlamaDecoder& d = impl_->dec();
  DecoderState st = d.new_state(std::max<int64_t>(1, int64_t(ids.size())), kv);
  return d.forward(st, ids, true);
}

GenerateResult ArrowEngine::generate(const std::string& prompt, const GenerateOptions& opts) const {
  const LlamaDecoder& d = impl_->dec();
  const TextTokenizer& tok = *impl_->text_tokenizer;
  if (opts.max_tokens < 0) throw ValueError("max tokens must be ≥ 0");
  std::vector<int32_t> stops;
  for (const auto& s : opts.stop_tokens) {
    int32_t id = tok.special_id(s);
    if (id < 0) throw ValueError("unknown special token '" + s + "': the vocabulary has no such special token");
    stops.push_back(id);
  }
  int32_t eos = d.config().eos_token_id >= 0 ? d.config().eos_token_id : tok.eos_id();
  const int64_t ctx = opts.context > 0 ? opts.context : d.config().max_positions;
  GenerateResult r;
  r.prompt_ids = tok.encode(prompt, tok.adds_bos());
  if (r.prompt_ids.empty()) throw ValueError("the prompt is empty and the tokenizer adds no BOS token");
  if (int64_t(r.prompt_ids.size()) >= ctx)
    throw ValueError("the prompt has " + std::to_string(r.prompt_ids.size()) + " tokens but the context holds " +
                     std::to_string(ctx) + " (one more is needed to generate)");
  Sampler sampler(opts.temperature, opts.top_k, opts.top_p, opts.seed);
  DecoderState st = d.new_state(ctx, opts.kv);
  r.kv_cache_bytes = st.bytes();
  double t0 = now_seconds();
  std::vector<float> logits = d.forward(st, r.prompt_ids, false);
  r.prefill_seconds = now_seconds() - t0;
  t0 = now_seconds();
  int32_t prev = r.prompt_ids.back();
  r.stop_reason = "max_tokens";
  for (int i = 0; i < opts.max_tokens; ++i) {
    int32_t next = sampler.sample(logits.data(), int64_t(logits.size()));
    if (next == eos && !opts.ignore_eos) { r.stop_reason = "eos"; break; }
    if (std::find(stops.begin(), stops.end(), next) != stops.end()) { r.stop_reason = "stop_token"; break; }
    r.ids.push_back(next);
    // Models pad their vocabulary past the tokenizer's (Qwen2: 151936 vs 151665); such ids have no text.
    std::string piece = size_t(next) < tok.vocab_size() ? tok.piece(next, prev) : std::string();
    r.text += piece;
    prev = next;
    if (opts.on_token && !opts.on_token(piece, next)) { r.stop_reason = "callback"; break; }
    if (i + 1 == opts.max_tokens) break;
    if (st.length >= st.capacity) { r.stop_reason = "context"; break; }
    logits = d.forward(st, {next}, false);
  }
  r.decode_seconds = now_seconds() - t0;
  return r;
}

}  // namespace arrowquant
