#include "io/llama2c_reader.h"

#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "arrowquant/error.h"

namespace arrowquant {

namespace {
constexpr size_t kHeaderBytes = 7 * sizeof(int32_t);
}  // namespace

bool Llama2cCheckpoint::looks_like(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint8_t head[kHeaderBytes];
  return in.read(reinterpret_cast<char*>(head), sizeof head) && looks_like(head, sizeof head);
}

bool Llama2cCheckpoint::looks_like(const uint8_t* head, size_t n) {
  if (n < kHeaderBytes) return false;
  int32_t h[7];
  std::memcpy(h, head, sizeof h);
  // dim, hidden, layers, heads, kv heads, |vocab|, seq_len all small positive integers.
  for (int i = 0; i < 7; ++i) {
    // Widened first: negating INT32_MIN (a negative vocab means an unshared head) overflows.
    const int64_t v = i == 5 ? std::abs(int64_t(h[i])) : int64_t(h[i]);
    if (v <= 0 || v > (1 << 24)) return false;
  }
  return h[0] % h[3] == 0 && h[3] % h[4] == 0;
}

Llama2cCheckpoint::Llama2cCheckpoint(const std::string& path) : map_(std::make_unique<MappedFile>(path)) {
  const size_t size = map_->size();
  auto fail = [&](const std::string& what) {
    throw FormatError(path + ": invalid llama2.c checkpoint: " + what);
  };
  if (size < kHeaderBytes) fail("file is shorter than the 28-byte header");
  int32_t h[7];
  std::memcpy(h, map_->data(), sizeof h);
  if (h[5] == INT32_MIN) fail("header has an implausible vocabulary size");
  cfg_ = {h[0], h[1], h[2], h[3], h[4], h[5] < 0 ? -h[5] : h[5], h[6], h[5] > 0};
  const auto& c = cfg_;
  for (int v : {c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len})
    if (v <= 0) fail("header has a non-positive field");
  // Bounds no real checkpoint comes near; within them the byte count below cannot overflow (the
  // fuzzer found a header whose sizes overflowed it).
  if (c.dim > (1 << 20) || c.hidden_dim > (1 << 20) || c.n_layers > 4096 || c.vocab_size > (1 << 24) ||
      c.seq_len > (1 << 22))
    fail("header sizes are implausible (dim " + std::to_string(c.dim) + ", hidden " + std::to_string(c.hidden_dim) +
         ", layers " + std::to_string(c.n_layers) + ", vocab " + std::to_string(c.vocab_size) + ", seq_len " +
         std::to_string(c.seq_len) + ")");
  if (c.dim % c.n_heads != 0) fail("dim is not a multiple of n_heads");
  if (c.n_heads % c.n_kv_heads != 0) fail("n_heads is not a multiple of n_kv_heads");
  const int64_t head = c.dim / c.n_heads, kv_dim = int64_t(c.n_kv_heads) * head;
  const int64_t L = c.n_layers, D = c.dim, H = c.hidden_dim, V = c.vocab_size;
  const int64_t rope = int64_t(c.seq_len) * head / 2;
  const int64_t floats = V * D + L * D + L * D * D + 2 * L * kv_dim * D + L * D * D + L * D +
                         3 * L * H * D + D + 2 * rope + (c.shared_classifier ? 0 : V * D);
  const uint64_t want = kHeaderBytes + uint64_t(floats) * 4;
  if (size != want)
    fail("header (dim " + std::to_string(D) + ", hidden " + std::to_string(H) + ", layers " +
         std::to_string(L) + ", vocab " + std::to_string(V) + ", seq_len " + std::to_string(c.seq_len) +
         ") implies " + std::to_string(want) + " bytes but the file has " + std::to_string(size));

  const uint8_t* p = map_->data() + kHeaderBytes;
  auto take = [&](std::string name, Shape shape) {
    TensorView t{std::move(name), DType::F32, shape, p, size_t(num_elements(shape)) * 4};
    p += t.nbytes;
    return t;
  };
  // Stacked per-layer tensors are split into one tensor per layer under Hugging Face names.
  auto per_layer = [&](const std::string& suffix, Shape shape) {
    for (int64_t l = 0; l < L; ++l)
      tensors_.push_back(take("model.layers." + std::to_string(l) + "." + suffix, shape));
  };
  tensors_.push_back(take("model.embed_tokens.weight", {V, D}));
  per_layer("input_layernorm.weight", {D});
  per_layer("self_attn.q_proj.weight", {D, D});
  per_layer("self_attn.k_proj.weight", {kv_dim, D});
  per_layer("self_attn.v_proj.weight", {kv_dim, D});
  per_layer("self_attn.o_proj.weight", {D, D});
  per_layer("post_attention_layernorm.weight", {D});
  per_layer("mlp.gate_proj.weight", {H, D});
  per_layer("mlp.down_proj.weight", {D, H});
  per_layer("mlp.up_proj.weight", {H, D});
  tensors_.push_back(take("model.norm.weight", {D}));
  p += 2 * rope * 4;  // legacy RoPE tables: recomputed by any runtime, not weights
  if (!c.shared_classifier) tensors_.push_back(take("lm_head.weight", {V, D}));
}

}  // namespace arrowquant
