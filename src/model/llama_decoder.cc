#include "model/llama_decoder.h"

#include <algorithm>
#include <cmath>

#include "arrowquant/error.h"
#include "io/json_file.h"
#include "kernels/blas.h"
#include "util/thread_pool.h"
#include "kernels/dense_ops.h"

namespace arrowquant {

namespace {

const char* kDecoderTypes[] = {"llama", "qwen2", "mistral"};

void rms_norm(const float* x, const float* w, int64_t d, float eps, float* out) {
  double ss = 0;
  for (int64_t i = 0; i < d; ++i) ss += double(x[i]) * x[i];
  const float inv = float(1.0 / std::sqrt(ss / double(d) + double(eps)));
  for (int64_t i = 0; i < d; ++i) out[i] = x[i] * inv * w[i];
}

}  // namespace

bool DecoderConfig::is_decoder(const nlohmann::json& cfg) {
  if (!cfg.is_object()) return false;
  auto it = cfg.find("model_type");
  if (it == cfg.end() || !it->is_string()) return false;
  for (const char* d : kDecoderTypes)
    if (*it == d) return true;
  return false;
}

DecoderConfig DecoderConfig::from_json(const nlohmann::json& cfg, const std::string& where) {
  DecoderConfig c;
  c.model_type = json_string(cfg, "model_type", "", where);
  if (!is_decoder(cfg))
    throw FormatError(where + ": unsupported architecture: model_type '" + c.model_type +
                      "' (the decoder supports llama, qwen2, mistral)");
  const std::string act = json_string(cfg, "hidden_act", "silu", where);
  if (act != "silu") throw FormatError(where + ": hidden_act '" + act + "' is not supported (only silu)");
  // transformers ≥ 5 writes rope_parameters {rope_type, rope_theta}; older configs rope_theta and
  // rope_scaling at the top level.
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    const nlohmann::json* rope = json_object_field(cfg, key, where);
    if (!rope) continue;
    const std::string type = json_string(*rope, "rope_type", json_string(*rope, "type", "default", where), where);
    if (type != "default") throw FormatError(where + ": " + key + " type '" + type + "' is not supported");
  }
  if (json_bool(cfg, "use_sliding_window", false, where))
    throw FormatError(where + ": sliding-window attention is not supported");
  c.vocab_size = json_positive_int(cfg, "vocab_size", where);
  c.hidden = json_positive_int(cfg, "hidden_size", where);
  c.layers = json_positive_int(cfg, "num_hidden_layers", where);
  c.heads = json_positive_int(cfg, "num_attention_heads", where);
  c.kv_heads = json_int(cfg, "num_key_value_heads", 0, where) ? json_positive_int(cfg, "num_key_value_heads", where) : c.heads;
  c.head_dim = json_int(cfg, "head_dim", c.hidden / c.heads, where);
  c.intermediate = json_positive_int(cfg, "intermediate_size", where);
  c.max_positions = json_positive_int(cfg, "max_position_embeddings", where);
  c.rms_eps = float(json_number(cfg, "rms_norm_eps", 1e-6, where));
  const nlohmann::json* rope = json_object_field(cfg, "rope_parameters", where);
  c.rope_theta = float(json_number(cfg, "rope_theta", rope ? json_number(*rope, "rope_theta", 10000.0, where) : 10000.0, where));
  c.tied_embeddings = json_bool(cfg, "tie_word_embeddings", false, where);
  c.qkv_bias = c.model_type == "qwen2" || json_bool(cfg, "attention_bias", false, where);
  c.rope_interleaved = json_string(cfg, "arrowquant_rope_layout", "half", where) == "interleaved";
  // Token ids: some configs give lists (several EOS tokens); the first is the one generation stops at.
  auto token_id = [&](const char* key) -> int32_t {
    auto it = cfg.find(key);
    if (it == cfg.end()) return -1;
    const nlohmann::json& v = it->is_array() && !it->empty() ? (*it)[0] : *it;
    return v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < c.vocab_size ? int32_t(v.get<int64_t>()) : -1;
  };
  c.bos_token_id = token_id("bos_token_id");
  c.eos_token_id = token_id("eos_token_id");
  // Sizes a real decoder has; beyond them a file is damaged (or would ask for absurd memory).
  constexpr int64_t kMaxDim = int64_t(1) << 20, kMaxVocab = int64_t(1) << 24, kMaxPositions = int64_t(1) << 22;
  if (c.hidden > kMaxDim || c.intermediate > kMaxDim || c.vocab_size > kMaxVocab || c.layers > 4096 ||
      c.heads > 4096 || c.max_positions > kMaxPositions)
    throw FormatError(where + ": implausible sizes in config.json (hidden " + std::to_string(c.hidden) + ", layers " +
                      std::to_string(c.layers) + ", vocab " + std::to_string(c.vocab_size) + ", positions " +
                      std::to_string(c.max_positions) + ")");
  if (c.kv_heads > c.heads || c.heads % c.kv_heads != 0)
    throw FormatError(where + ": num_attention_heads is not a multiple of num_key_value_heads");
  if (c.head_dim <= 0 || c.head_dim > 4096 || c.head_dim % 2 != 0)
    throw FormatError(where + ": head size " + std::to_string(c.head_dim) + " must be positive and even for rotary positions");
  if (!(c.rms_eps > 0) || !std::isfinite(c.rope_theta) || c.rope_theta <= 0)
    throw FormatError(where + ": rms_norm_eps and rope_theta must be positive");
  return c;
}

size_t DecoderState::bytes() const {
  size_t b = 0;
  for (const auto& k : keys) b += k.bytes();
  for (const auto& v : values) b += v.bytes();
  return b;
}

LlamaDecoder::LlamaDecoder(const ModelWeights& w, int threads)
    : cfg_(DecoderConfig::from_json(w.config(), w.path())), threads_(threads) {
  const int64_t H = cfg_.hidden, I = cfg_.intermediate, D = cfg_.head_dim;
  const int64_t qd = cfg_.heads * D, kvd = cfg_.kv_heads * D;
  embed_ = Embedding::load(w, "model.embed_tokens.weight", cfg_.vocab_size, H);
  final_norm_ = w.load("model.norm.weight", {H});
  residual_ = w.residual_rotation(H);
  // Some checkpoints say nothing of tying but carry no head: tie them, as transformers does.
  if (!cfg_.tied_embeddings && !w.has("lm_head.weight")) cfg_.tied_embeddings = true;
  // A tied head reads the (possibly packed) embedding table as a weight matrix.
  lm_head_ = cfg_.tied_embeddings ? Linear::tied_to(embed_, threads)
                                  : Linear::load(w, "lm_head", cfg_.vocab_size, H, false, threads);
  for (int64_t i = 0; i < cfg_.layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    Layer L;
    L.attn_norm = w.load(p + "input_layernorm.weight", {H});
    L.mlp_norm = w.load(p + "post_attention_layernorm.weight", {H});
    L.q = Linear::load(w, p + "self_attn.q_proj", qd, H, cfg_.qkv_bias, threads);
    L.k = Linear::load(w, p + "self_attn.k_proj", kvd, H, cfg_.qkv_bias, threads);
    L.v = Linear::load(w, p + "self_attn.v_proj", kvd, H, cfg_.qkv_bias, threads);
    L.o = Linear::load(w, p + "self_attn.o_proj", H, qd, false, threads);
    L.gate = Linear::load(w, p + "mlp.gate_proj", I, H, false, threads);
    L.up = Linear::load(w, p + "mlp.up_proj", I, H, false, threads);
    L.down = Linear::load(w, p + "mlp.down_proj", H, I, false, threads);
    layers_.push_back(std::move(L));
  }
  // Rotary tables, in float32 the way transformers and llama2.c compute them.
  const int64_t half = D / 2;
  rope_cos_.resize(size_t(cfg_.max_positions * half));
  rope_sin_.resize(rope_cos_.size());
  for (int64_t i = 0; i < half; ++i) {
    const float inv_freq = 1.0f / std::pow(cfg_.rope_theta, float(2 * i) / float(D));
    for (int64_t pos = 0; pos < cfg_.max_positions; ++pos) {
      const float a = float(pos) * inv_freq;
      rope_cos_[size_t(pos * half + i)] = std::cos(a);
      rope_sin_[size_t(pos * half + i)] = std::sin(a);
    }
  }
}

DecoderState LlamaDecoder::new_state(int64_t capacity, const KVQuantPlan& plan) const {
  if (capacity <= 0 || capacity > cfg_.max_positions)
    throw ValueError("context of " + std::to_string(capacity) + " tokens is outside 1.." +
                     std::to_string(cfg_.max_positions) + " (the model's max_position_embeddings)");
  DecoderState s;
  s.capacity = capacity;
  const int64_t kvd = cfg_.kv_heads * cfg_.head_dim;
  for (int64_t l = 0; l < cfg_.layers; ++l) {
    s.keys.emplace_back(plan, kvd, cfg_.head_dim, capacity);
    s.values.emplace_back(plan, kvd, cfg_.head_dim, capacity);
  }
  return s;
}

void LlamaDecoder::rope(float* x, int64_t rows, int64_t heads, int64_t pos0, bool inverse) const {
  const int64_t D = cfg_.head_dim, half = D / 2;
  for (int64_t r = 0; r < rows; ++r) {
    const float* c = rope_cos_.data() + (pos0 + r) * half;
    const float* s = rope_sin_.data() + (pos0 + r) * half;
    for (int64_t h = 0; h < heads; ++h) {
      float* v = x + (r * heads + h) * D;
      for (int64_t i = 0; i < half; ++i) {
        // interleaved: (v[2i], v[2i+1]); halves: (v[i], v[i + D/2])
        float& a = cfg_.rope_interleaved ? v[2 * i] : v[i];
        float& b = cfg_.rope_interleaved ? v[2 * i + 1] : v[i + half];
        const float x0 = a, x1 = b, si = inverse ? -s[i] : s[i];
        a = x0 * c[i] - x1 * si;
        b = x0 * si + x1 * c[i];
      }
    }
  }
}

// Causal grouped-query attention of t_count new tokens (at positions pos0...) over the cache, as
// matrix products: each KV head's keys and values are read out of the cache once (dequantised when
// the cache is quantised), then for each query head and each tile of query rows
// S = scale·Q·Kᵀ over the keys the tile can see, a masked softmax per row, and O = P·V. Work items
// are (head, tile) pairs on our pool, with the BLAS kept on each worker's own thread.
void LlamaDecoder::attention(const float* q, DecoderState& st, int64_t layer, int64_t t_count, int64_t pos0,
                             float* out) const {
  const int64_t D = cfg_.head_dim, heads = cfg_.heads, kv_heads = cfg_.kv_heads, group = heads / kv_heads;
  const int64_t qd = heads * D, n_all = pos0 + t_count;
  const float scale = 1.0f / std::sqrt(float(D));
  const KVStore& K = st.keys[size_t(layer)];
  const KVStore& V = st.values[size_t(layer)];
  // Keys and values of KV head h: rows `ld` floats apart. A float32 cache is read in place; a
  // quantised one is dequantised once per KV head into [kv_heads][n_all][D].
  std::vector<float> keys, values;
  const float *k_base = K.f32_rows(), *v_base = V.f32_rows();
  int64_t ld = K.width(), head_stride = D;
  if (!k_base || !v_base) {
    keys.resize(size_t(kv_heads * n_all * D));
    values.resize(keys.size());
    parallel_for(kv_heads * n_all, threads_, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t kvh = i / n_all, j = i % n_all;
        K.read(j, kvh * D, D, keys.data() + i * D);
        V.read(j, kvh * D, D, values.data() + i * D);
      }
    });
    k_base = keys.data();
    v_base = values.data();
    ld = D;
    head_stride = n_all * D;
  }
  constexpr int64_t kTileRows = 64;  // bounds the score buffer at 64 × context floats per worker
  const int64_t tiles = (t_count + kTileRows - 1) / kTileRows;
  parallel_for(heads * tiles, threads_, [&](int64_t begin, int64_t end) {
    std::vector<float> scores;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t h = item / tiles, t0 = (item % tiles) * kTileRows, rows = std::min(kTileRows, t_count - t0);
      const int64_t n = pos0 + t0 + rows;  // keys the last row of the tile sees
      const float* kh = k_base + (h / group) * head_stride;
      const float* vh = v_base + (h / group) * head_stride;
      scores.resize(size_t(rows * n));
      kernels::gemm(kernels::Transpose::kNo, kernels::Transpose::kYes, rows, n, D, scale, q + (t0 * heads + h) * D,
                    qd, kh, ld, 0.0f, scores.data(), n);
      for (int64_t r = 0; r < rows; ++r) {
        float* sr = scores.data() + r * n;
        const int64_t seen = pos0 + t0 + r + 1;  // causal: this token and everything before it
        kernels::softmax(sr, seen);
        std::fill(sr + seen, sr + n, 0.0f);
      }
      kernels::gemm(kernels::Transpose::kNo, kernels::Transpose::kNo, rows, D, n, 1.0f, scores.data(), n, vh, ld,
                    0.0f, out + (t0 * heads + h) * D, qd);
    }
  });
}

void LlamaDecoder::embed(const std::vector<int32_t>& tokens, float* x) const {
  const int64_t H = cfg_.hidden;
  for (size_t t = 0; t < tokens.size(); ++t) {
    const int32_t id = tokens[t];
    if (id < 0 || id >= cfg_.vocab_size)
      throw ValueError("token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(cfg_.vocab_size));
    embed_.lookup(id, x + int64_t(t) * H);
  }
}

void LlamaDecoder::layer_forward(int64_t l, float* x, int64_t T, DecoderState& st, int64_t pos0) const {
  const int64_t H = cfg_.hidden, I = cfg_.intermediate, D = cfg_.head_dim;
  const int64_t qd = cfg_.heads * D, kvd = cfg_.kv_heads * D;
  const Layer& L = layers_[size_t(l)];
  // Scratch kept between layers and calls (every element is written before it is read): fresh
  // buffers of a 512-token prefill were page faults in every layer.
  thread_local std::vector<float> xn, q, k, v, att, o, g, u;
  for (auto [buf, size] : {std::pair{&xn, T * H}, {&q, T * qd}, {&k, T * kvd}, {&v, T * kvd}, {&att, T * qd},
                           {&o, T * H}, {&g, T * I}, {&u, T * I}})
    buf->resize(size_t(size));
  for (int64_t t = 0; t < T; ++t) rms_norm(x + t * H, L.attn_norm.data(), H, cfg_.rms_eps, xn.data() + t * H);
  Linear::forward_shared({{&L.q, q.data()}, {&L.k, k.data()}, {&L.v, v.data()}}, xn.data(), T);
  rope(q.data(), T, cfg_.heads, pos0);
  rope(k.data(), T, cfg_.kv_heads, pos0);
  for (int64_t t = 0; t < T; ++t) {
    st.keys[size_t(l)].write(pos0 + t, k.data() + t * kvd);
    st.values[size_t(l)].write(pos0 + t, v.data() + t * kvd);
  }
  attention(q.data(), st, l, T, pos0, att.data());
  L.o.forward(att.data(), T, o.data());
  for (int64_t i = 0; i < T * H; ++i) x[i] += o[size_t(i)];
  for (int64_t t = 0; t < T; ++t) rms_norm(x + t * H, L.mlp_norm.data(), H, cfg_.rms_eps, xn.data() + t * H);
  Linear::forward_shared({{&L.gate, g.data()}, {&L.up, u.data()}}, xn.data(), T);
  kernels::silu_mul(g.data(), u.data(), T * I);  // SiLU(gate) · up
  L.down.forward(g.data(), T, o.data());
  for (int64_t i = 0; i < T * H; ++i) x[i] += o[size_t(i)];
}

std::vector<float> LlamaDecoder::forward(DecoderState& st, const std::vector<int32_t>& tokens, bool all_logits) const {
  const int64_t T = int64_t(tokens.size()), H = cfg_.hidden, pos0 = st.length;
  if (T == 0) throw ValueError("no tokens to run");
  if (pos0 + T > st.capacity)
    throw ValueError(std::to_string(pos0 + T) + " tokens do not fit the context of " + std::to_string(st.capacity));
  std::vector<float> x(size_t(T * H));
  embed(tokens, x.data());
  for (int64_t l = 0; l < cfg_.layers; ++l) layer_forward(l, x.data(), T, st, pos0);
  st.length = pos0 + T;
  const int64_t first = all_logits ? 0 : T - 1;
  return output_logits(x.data() + first * H, T - first);
}

std::vector<float> LlamaDecoder::output_logits(const float* x, int64_t T) const {
  const int64_t H = cfg_.hidden;
  std::vector<float> xn(size_t(T * H));
  if (residual_) {  // γ_f acts on the stream's own channels: norm it unrotated, rotate for the head
    std::vector<float> u(x, x + T * H);
    residual_->unrotate(u.data(), T);
    for (int64_t t = 0; t < T; ++t) rms_norm(u.data() + t * H, final_norm_.data(), H, cfg_.rms_eps, xn.data() + t * H);
    residual_->rotate(xn.data(), T);
  } else {
    for (int64_t t = 0; t < T; ++t) rms_norm(x + t * H, final_norm_.data(), H, cfg_.rms_eps, xn.data() + t * H);
  }
  std::vector<float> logits(size_t(T * cfg_.vocab_size));
  lm_head_.forward(xn.data(), T, logits.data());
  return logits;
}

namespace {
constexpr const char* kEmbedName = "model.embed_tokens.weight";
constexpr const char* kHeadName = "lm_head.weight";
}  // namespace

std::vector<std::string> LlamaDecoder::table_names() const {
  if (cfg_.tied_embeddings) return {kEmbedName};
  return {kEmbedName, kHeadName};
}

std::shared_ptr<const std::vector<float>> LlamaDecoder::table(const std::string& name) const {
  if (name == kEmbedName) return embed_.table;
  if (name == kHeadName && !cfg_.tied_embeddings) return lm_head_.weight;
  return nullptr;
}

void LlamaDecoder::set_table(const std::string& name, std::shared_ptr<const std::vector<float>> values) {
  if (name == kEmbedName) {
    embed_.table = values;
    if (cfg_.tied_embeddings) lm_head_.weight = std::move(values);
  } else if (name == kHeadName && !cfg_.tied_embeddings) {
    lm_head_.weight = std::move(values);
  } else {
    throw Error("internal: " + name + " is not a table of this decoder");
  }
}

std::vector<float> LlamaDecoder::embed_sequence(const std::vector<int32_t>& ids) const {
  const int64_t T = int64_t(ids.size());
  if (T == 0 || T > cfg_.max_positions)
    throw ValueError("sequence of " + std::to_string(T) + " tokens is outside 1.." + std::to_string(cfg_.max_positions));
  std::vector<float> x(size_t(T * cfg_.hidden));
  embed(ids, x.data());
  return x;
}

void LlamaDecoder::run_layer(int64_t l, float* x, int64_t T) const {
  DecoderState st = new_state(T, KVQuantPlan{});
  layer_forward(l, x, T, st, 0);
}

std::vector<Linear*> LlamaDecoder::layer_linears(int64_t l) {
  Layer& L = layers_.at(size_t(l));
  return {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down};
}

std::vector<ScaleFold> LlamaDecoder::layer_folds(int64_t l) {
  // Pre-norm blocks: each RMSNorm output feeds only its Linears (the residual takes the input), the
  // value rows feed only o_proj, and up_proj's rows scale down_proj's input linearly.
  Layer& L = layers_.at(size_t(l));
  const std::string p = "model.layers." + std::to_string(l) + ".";
  ScaleFold attn{p + "input_layernorm->qkv", {&L.q, &L.k, &L.v}, &L.attn_norm, p + "input_layernorm.weight", nullptr, {}};
  ScaleFold mlp{p + "post_attention_layernorm->gate,up", {&L.gate, &L.up}, &L.mlp_norm,
                p + "post_attention_layernorm.weight", nullptr, {}};
  ScaleFold down{p + "mlp.up_proj->down_proj", {&L.down}, nullptr, "", &L.up, {}};
  ScaleFold vo{p + "self_attn.v_proj->o_proj", {&L.o}, nullptr, "", &L.v, {}};
  const int64_t D = cfg_.head_dim, group = cfg_.heads / cfg_.kv_heads;
  if (group > 1)  // o_proj input channel (head h, dim d) comes from value row (h / group, d)
    for (int64_t h = 0; h < cfg_.heads; ++h)
      for (int64_t d = 0; d < D; ++d) vo.channel_source.push_back((h / group) * D + d);
  return {attn, vo, mlp, down};
}

}  // namespace arrowquant
