#include "model/dit_transformer.h"

#include <cmath>
#include <functional>
#include <optional>

#include "arrowquant/error.h"
#include "io/json_file.h"
#include "kernels/blas.h"
#include "kernels/dense_ops.h"
#include "util/thread_pool.h"

namespace arrowquant {

namespace {

constexpr int64_t kTimeChannels = 256;  // diffusers' CombinedTimestepLabelEmbeddings: Timesteps(256)
constexpr float kAdaNormEps = 1e-6f;    // AdaLayerNormZero's and the final norm_out's LayerNorm

// diffusers' get_timestep_embedding(t, 256, flip_sin_to_cos=True, downscale_freq_shift=1), in float32
// the way torch computes it (the argument t·f reaches 1000 rad: its rounding is the embedding's).
void timestep_projection(float t, float* out) {
  const int64_t half = kTimeChannels / 2;
  for (int64_t k = 0; k < half; ++k) {
    const float exponent = float(-std::log(10000.0)) * float(k) / float(half - 1);
    const float arg = t * std::exp(exponent);
    out[k] = std::cos(arg);
    out[half + k] = std::sin(arg);
  }
}

// diffusers' get_2d_sincos_pos_embed for a square grid at base size = grid: the first half of each
// vector encodes the column, the second the row, each as [sin(p·ω), cos(p·ω)], ω_k = 10000^(−k/(D/4)).
std::vector<float> sincos_positions(int64_t grid, int64_t dim) {
  std::vector<float> pos(size_t(grid * grid * dim));
  const int64_t quarter = dim / 4;
  for (int64_t i = 0; i < grid; ++i)
    for (int64_t j = 0; j < grid; ++j) {
      float* p = pos.data() + (i * grid + j) * dim;
      for (int64_t k = 0; k < quarter; ++k) {
        const double omega = 1.0 / std::pow(10000.0, double(k) / double(quarter));
        p[k] = float(std::sin(double(j) * omega));
        p[quarter + k] = float(std::cos(double(j) * omega));
        p[2 * quarter + k] = float(std::sin(double(i) * omega));
        p[3 * quarter + k] = float(std::cos(double(i) * omega));
      }
    }
  return pos;
}

}  // namespace

bool DitConfig::is_dit(const nlohmann::json& cfg) {
  return cfg.is_object() && cfg.contains("_class_name") && cfg["_class_name"] == "DiTTransformer2DModel";
}

DitConfig DitConfig::from_json(const nlohmann::json& cfg, const std::string& where) {
  if (!is_dit(cfg)) throw FormatError(where + ": not a DiTTransformer2DModel config (\"_class_name\")");
  const std::string norm = json_string(cfg, "norm_type", "ada_norm_zero", where);
  if (norm != "ada_norm_zero") throw FormatError(where + ": norm_type '" + norm + "' is not supported (only ada_norm_zero)");
  const std::string act = json_string(cfg, "activation_fn", "gelu-approximate", where);
  if (act != "gelu-approximate")
    throw FormatError(where + ": activation_fn '" + act + "' is not supported (only gelu-approximate)");
  if (json_bool(cfg, "norm_elementwise_affine", false, where))
    throw FormatError(where + ": norm_elementwise_affine is not supported (adaLN-Zero norms have no affine)");
  DitConfig c;
  c.heads = json_positive_int(cfg, "num_attention_heads", where);
  c.head_dim = json_positive_int(cfg, "attention_head_dim", where);
  c.layers = json_positive_int(cfg, "num_layers", where);
  c.in_channels = json_positive_int(cfg, "in_channels", where);
  c.out_channels = json_int(cfg, "out_channels", c.in_channels, where);
  c.sample_size = json_positive_int(cfg, "sample_size", where);
  c.patch = json_positive_int(cfg, "patch_size", where);
  c.num_classes = json_positive_int(cfg, "num_embeds_ada_norm", where);
  c.norm_eps = float(json_number(cfg, "norm_eps", 1e-5, where));
  c.attention_bias = json_bool(cfg, "attention_bias", true, where);
  constexpr int64_t kMax = int64_t(1) << 16;
  if (c.heads > kMax || c.head_dim > kMax || c.layers > 4096 || c.in_channels > 4096 || c.sample_size > kMax ||
      c.num_classes > (int64_t(1) << 24) || c.heads * c.head_dim > kMax)
    throw FormatError(where + ": implausible sizes in config.json");
  c.hidden = c.heads * c.head_dim;
  c.ff_inner = 4 * c.hidden;
  if (c.out_channels != c.in_channels && c.out_channels != 2 * c.in_channels)
    throw FormatError(where + ": out_channels " + std::to_string(c.out_channels) + " must be in_channels (" +
                      std::to_string(c.in_channels) + ") or twice it (learned variance)");
  if (c.sample_size % c.patch != 0)
    throw FormatError(where + ": sample_size " + std::to_string(c.sample_size) + " is not a multiple of patch_size " +
                      std::to_string(c.patch));
  if (c.hidden % 4 != 0)
    throw FormatError(where + ": the width " + std::to_string(c.hidden) + " must be a multiple of 4 (2-D sin-cos positions)");
  if (!(c.norm_eps > 0)) throw FormatError(where + ": norm_eps must be positive");
  return c;
}

DitTransformer::DitTransformer(const ModelWeights& w, int threads)
    : cfg_(DitConfig::from_json(w.config(), w.path())), threads_(threads) {
  const int64_t D = cfg_.hidden, P = cfg_.patch, C = cfg_.in_channels;
  // The patch convolution (kernel = stride = p) is a Linear over each patch's C·p·p values.
  patch_embed_.name = "pos_embed.proj";
  patch_embed_.in = C * P * P;
  patch_embed_.out = D;
  patch_embed_.threads = threads;
  patch_embed_.weight = std::make_shared<const std::vector<float>>(w.load("pos_embed.proj.weight", {D, C, P, P}));
  patch_embed_.bias = w.load("pos_embed.proj.bias", {D});
  positions_ = sincos_positions(cfg_.grid(), D);
  for (int64_t l = 0; l < cfg_.layers; ++l) {
    const std::string p = "transformer_blocks." + std::to_string(l) + ".";
    Block b;
    b.time_1 = Linear::load(w, p + "norm1.emb.timestep_embedder.linear_1", D, kTimeChannels, true, threads);
    b.time_2 = Linear::load(w, p + "norm1.emb.timestep_embedder.linear_2", D, D, true, threads);
    b.label_table = w.load(p + "norm1.emb.class_embedder.embedding_table.weight", {cfg_.num_classes + 1, D});
    b.modulation = Linear::load(w, p + "norm1.linear", 6 * D, D, true, threads);
    b.q = Linear::load(w, p + "attn1.to_q", D, D, cfg_.attention_bias, threads);
    b.k = Linear::load(w, p + "attn1.to_k", D, D, cfg_.attention_bias, threads);
    b.v = Linear::load(w, p + "attn1.to_v", D, D, cfg_.attention_bias, threads);
    b.out = Linear::load(w, p + "attn1.to_out.0", D, D, true, threads);
    b.ff_in = Linear::load(w, p + "ff.net.0.proj", cfg_.ff_inner, D, true, threads);
    b.ff_out = Linear::load(w, p + "ff.net.2", D, cfg_.ff_inner, true, threads);
    blocks_.push_back(std::move(b));
  }
  final_modulation_ = Linear::load(w, "proj_out_1", 2 * D, D, true, threads);
  final_proj_ = Linear::load(w, "proj_out_2", P * P * cfg_.out_channels, D, true, threads);
}

std::vector<Linear*> DitTransformer::block_linears(int64_t l) {
  Block& b = blocks_.at(size_t(l));
  return {&b.time_1, &b.time_2, &b.modulation, &b.q, &b.k, &b.v, &b.out, &b.ff_in, &b.ff_out};
}

std::vector<ScaleFold> DitTransformer::block_folds(int64_t l) {
  Block& b = blocks_.at(size_t(l));
  const int64_t D = cfg_.hidden;
  const std::string p = "transformer_blocks." + std::to_string(l) + ".";
  ScaleFold attn_in{p + "attn_in", {&b.q, &b.k, &b.v}, nullptr, "", &b.modulation, {}, 0, D};
  ScaleFold mlp_in{p + "mlp_in", {&b.ff_in}, nullptr, "", &b.modulation, {}, 3 * D, 4 * D};
  ScaleFold attn_out{p + "attn_out", {&b.out}, nullptr, "", &b.v, {}, -1, -1};
  // attn_out: a context channel mixes value channel c alone (softmax weights), so it scales with v's row c.
  return {attn_in, mlp_in, attn_out};
}

std::vector<const Linear*> DitTransformer::linears() const {
  std::vector<const Linear*> out = {&patch_embed_};
  for (const Block& b : blocks_)
    for (const Linear* l : {&b.time_1, &b.time_2, &b.modulation, &b.q, &b.k, &b.v, &b.out, &b.ff_in, &b.ff_out})
      out.push_back(l);
  out.push_back(&final_modulation_);
  out.push_back(&final_proj_);
  return out;
}

std::vector<float> DitTransformer::conditioning(const Block& b, const std::vector<float>& time_proj,
                                                const std::vector<int32_t>& labels) const {
  const int64_t B = int64_t(labels.size()), D = cfg_.hidden;
  std::vector<float> h(size_t(B * D)), c(size_t(B * D));
  b.time_1.forward(time_proj.data(), B, h.data());
  kernels::silu(h.data(), B * D);
  b.time_2.forward(h.data(), B, c.data());
  for (int64_t i = 0; i < B; ++i) {
    const float* e = b.label_table.data() + int64_t(labels[size_t(i)]) * D;
    for (int64_t j = 0; j < D; ++j) c[size_t(i * D + j)] += e[j];
  }
  kernels::silu(c.data(), B * D);  // both the blocks' and the final layer's modulation read SiLU(c)
  return c;
}

void DitTransformer::attention(const float* q, const float* k, const float* v, int64_t batch, float* ctx) const {
  const int64_t T = cfg_.tokens(), D = cfg_.hidden, hd = cfg_.head_dim;
  const float scale = 1.0f / std::sqrt(float(hd));
  // Per (image, head): S = scale·Q·Kᵀ, softmax per row, O = S·V, read and written in place in the
  // [T, D] rows (lda = D), the BLAS on each worker's own thread.
  parallel_for(batch * cfg_.heads, threads_, [&](int64_t begin, int64_t end) {
    std::vector<float> s(size_t(T * T));
    for (int64_t job = begin; job < end; ++job) {
      const int64_t off = (job / cfg_.heads) * T * D + (job % cfg_.heads) * hd;
      kernels::gemm(kernels::Transpose::kNo, kernels::Transpose::kYes, T, T, hd, scale, q + off, D, k + off, D, 0.0f,
                    s.data(), T);
      for (int64_t r = 0; r < T; ++r) kernels::softmax(s.data() + r * T, T);
      kernels::gemm(kernels::Transpose::kNo, kernels::Transpose::kNo, T, hd, T, 1.0f, s.data(), T, v + off, D, 0.0f,
                    ctx + off, D);
    }
  });
}

std::vector<float> DitTransformer::forward(const float* x, int64_t B, const std::vector<float>& timesteps,
                                           const std::vector<int32_t>& labels) const {
  if (int64_t(timesteps.size()) != B || int64_t(labels.size()) != B)
    throw ValueError("DiT forward: " + std::to_string(B) + " images but " + std::to_string(timesteps.size()) +
                     " timesteps and " + std::to_string(labels.size()) + " labels");
  for (int32_t y : labels)
    if (y < 0 || y > cfg_.num_classes)
      throw ValueError("class label " + std::to_string(y) + " out of range: the model has " +
                       std::to_string(cfg_.num_classes) + " classes (label " + std::to_string(cfg_.num_classes) +
                       " = unconditional)");
  for (float t : timesteps)
    if (!std::isfinite(t) || t < 0) throw ValueError("timestep " + std::to_string(t) + " must be finite and >= 0");
  std::optional<TimeGroupActivations::Batch> rounding;
  if (static_activations_) rounding.emplace(*static_activations_, timesteps);
  std::vector<float> h = embed(x, B);
  const std::vector<float> proj = time_projection(timesteps);
  BlockScratch scratch;
  for (int64_t l = 0; l < cfg_.layers; ++l) run_block(l, h.data(), B, proj, labels, scratch);
  return output_from(h.data(), B, proj, labels);
}

void DitTransformer::use_static_activations(const TimeGroupClips& clips, const std::string& file) {
  std::vector<Linear*> all = {&patch_embed_, &final_modulation_, &final_proj_};
  for (int64_t b = 0; b < cfg_.layers; ++b)
    for (Linear* l : block_linears(b)) all.push_back(l);
  auto a = std::make_shared<const TimeGroupActivations>(clips);
  attach_time_group_activations(a, all, file);
  static_activations_ = std::move(a);
}

std::vector<float> DitTransformer::embed(const float* x, int64_t B) const {
  const int64_t D = cfg_.hidden, T = cfg_.tokens(), P = cfg_.patch, C = cfg_.in_channels, G = cfg_.grid();
  const int64_t S = cfg_.sample_size, N = B * T;
  // Patchify: token (i, j) of image b reads x[b, c, i·p + r, j·p + s] in (c, r, s) order.
  std::vector<float> patches(size_t(N * C * P * P));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < G; ++i)
      for (int64_t j = 0; j < G; ++j) {
        float* out = patches.data() + ((b * T) + i * G + j) * C * P * P;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t r = 0; r < P; ++r)
            for (int64_t s = 0; s < P; ++s) *out++ = x[((b * C + c) * S + i * P + r) * S + j * P + s];
      }
  std::vector<float> h(size_t(N * D));
  patch_embed_.forward(patches.data(), N, h.data());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) h[size_t(n * D + d)] += positions_[size_t((n % T) * D + d)];
  return h;
}

std::vector<float> DitTransformer::time_projection(const std::vector<float>& timesteps) const {
  std::vector<float> proj(timesteps.size() * size_t(kTimeChannels));
  for (size_t b = 0; b < timesteps.size(); ++b) timestep_projection(timesteps[b], proj.data() + b * kTimeChannels);
  return proj;
}

void DitTransformer::run_block(int64_t l, float* h, int64_t B, const std::vector<float>& timesteps,
                               const std::vector<int32_t>& labels) const {
  BlockScratch scratch;
  run_block(l, h, B, time_projection(timesteps), labels, scratch);
}

void DitTransformer::run_block(int64_t l, float* h, int64_t B, const std::vector<float>& time_proj,
                               const std::vector<int32_t>& labels, BlockScratch& scratch) const {
  const Block& blk = blocks_.at(size_t(l));
  const int64_t D = cfg_.hidden, T = cfg_.tokens(), N = B * T;
  // Every Linear reads its own buffer: calibration's statistics tell layers apart by their input
  // (q, k, v share one), so the attention context and the MLP's norm must not reuse the first norm's.
  // Each buffer is written whole before it is read: resizing keeps the previous block's values.
  for (std::vector<float>* b : {&scratch.normed, &scratch.q, &scratch.k, &scratch.v, &scratch.ctx, &scratch.mlp_in,
                                &scratch.branch})
    b->resize(size_t(N * D));
  scratch.inner.resize(size_t(N * cfg_.ff_inner));
  scratch.mod.resize(size_t(B * 6 * D));
  // Plain references, not a structured binding: clang 14 cannot capture bindings in the lambdas below.
  std::vector<float>&normed = scratch.normed, &q = scratch.q, &k = scratch.k, &v = scratch.v, &ctx = scratch.ctx,
                     &mlp_in = scratch.mlp_in, &branch = scratch.branch, &inner = scratch.inner, &mod = scratch.mod;
  std::vector<float> cond = conditioning(blk, time_proj, labels);
  blk.modulation.forward(cond.data(), B, mod.data());
  // mod per image: shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp (D each). The
  // element-wise work between the products is spread over the images too (each image's own rows, so
  // the bits do not depend on the thread count): run on one thread it was a third of a step.
  const auto per_image = [&](const std::function<void(int64_t b, const float* m)>& fn) {
    parallel_for(B, threads_, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) fn(b, mod.data() + b * 6 * D);
    });
  };
  const auto add_gated = [&](int64_t b, const float* gate) {
    for (int64_t t = 0; t < T; ++t)
      for (int64_t d = 0; d < D; ++d) h[(b * T + t) * D + d] += gate[d] * branch[size_t((b * T + t) * D + d)];
  };
  per_image([&](int64_t b, const float* m) {
    kernels::layer_norm_modulated(h + b * T * D, T, D, kAdaNormEps, m + D, m, normed.data() + b * T * D);
  });
  Linear::forward_shared({{&blk.q, q.data()}, {&blk.k, k.data()}, {&blk.v, v.data()}}, normed.data(), N);
  attention(q.data(), k.data(), v.data(), B, ctx.data());
  blk.out.forward(ctx.data(), N, branch.data());
  per_image([&](int64_t b, const float* m) {
    add_gated(b, m + 2 * D);
    kernels::layer_norm_modulated(h + b * T * D, T, D, cfg_.norm_eps, m + 4 * D, m + 3 * D, mlp_in.data() + b * T * D);
  });
  blk.ff_in.forward(mlp_in.data(), N, inner.data());
  per_image([&](int64_t b, const float*) { kernels::gelu_tanh(inner.data() + b * T * cfg_.ff_inner, T * cfg_.ff_inner); });
  blk.ff_out.forward(inner.data(), N, branch.data());
  per_image([&](int64_t b, const float* m) { add_gated(b, m + 5 * D); });
}

std::vector<float> DitTransformer::output(const float* h, int64_t B, const std::vector<float>& timesteps,
                                          const std::vector<int32_t>& labels) const {
  return output_from(h, B, time_projection(timesteps), labels);
}

std::vector<float> DitTransformer::output_from(const float* h, int64_t B, const std::vector<float>& time_proj,
                                               const std::vector<int32_t>& labels) const {
  const int64_t D = cfg_.hidden, T = cfg_.tokens(), P = cfg_.patch, C = cfg_.in_channels, G = cfg_.grid();
  const int64_t S = cfg_.sample_size, N = B * T;
  // The final layer is modulated by block 0's conditioning (diffusers reuses its embedder).
  const std::vector<float> cond = conditioning(blocks_.front(), time_proj, labels);
  std::vector<float> final_mod(size_t(B * 2 * D)), normed(size_t(N * D));
  final_modulation_.forward(cond.data(), B, final_mod.data());
  for (int64_t b = 0; b < B; ++b) {
    const float* m = final_mod.data() + b * 2 * D;  // shift, scale
    kernels::layer_norm_modulated(h + b * T * D, T, D, kAdaNormEps, m + D, m, normed.data() + b * T * D);
  }
  const int64_t O = cfg_.out_channels, F = P * P * O;
  std::vector<float> y(size_t(N * F));
  final_proj_.forward(normed.data(), N, y.data());
  // Unpatchify: token (i, j) holds its patch in (r, s, channel) order; keep the first C channels
  // (the noise; a learned-variance model's other half is not used by the samplers here).
  std::vector<float> out(size_t(B * C * S * S));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < G; ++i)
      for (int64_t j = 0; j < G; ++j) {
        const float* tok = y.data() + ((b * T) + i * G + j) * F;
        for (int64_t r = 0; r < P; ++r)
          for (int64_t s = 0; s < P; ++s)
            for (int64_t c = 0; c < C; ++c) out[size_t(((b * C + c) * S + i * P + r) * S + j * P + s)] = tok[(r * P + s) * O + c];
      }
  return out;
}

}  // namespace arrowquant
