// The rotated residual stream: every tensor's role by its name, each role's transform undone exactly,
// and the rotated float decoder computing the same logits as the original (computational invariance)
// on the tiny Llama and Qwen2 goldens (tied and untied heads, QKV biases) and the real stories260K;
// models it cannot rotate are refused by name.
#include "model/residual_rotation.h"

#include <gtest/gtest.h>

#include <cmath>

#include "arrowquant/error.h"
#include "model/llama_decoder.h"
#include "model/model_weights.h"
#include "test_util.h"

using namespace arrowquant;

TEST(ResidualRotation, RolesByName) {
  EXPECT_EQ(residual_role("model.embed_tokens.weight"), ResidualRole::Table);
  EXPECT_EQ(residual_role("lm_head.weight"), ResidualRole::Head);
  EXPECT_EQ(residual_role("model.norm.weight"), ResidualRole::FinalNorm);
  EXPECT_EQ(residual_role("model.layers.3.input_layernorm.weight"), ResidualRole::BlockNorm);
  EXPECT_EQ(residual_role("model.layers.3.post_attention_layernorm.weight"), ResidualRole::BlockNorm);
  EXPECT_EQ(residual_role("model.layers.0.self_attn.k_proj.weight"), ResidualRole::Reader);
  EXPECT_EQ(residual_role("model.layers.0.mlp.up_proj.weight"), ResidualRole::Reader);
  EXPECT_EQ(residual_role("model.layers.0.self_attn.k_proj.bias"), ResidualRole::Other);  // output side
  EXPECT_EQ(residual_role("model.layers.9.self_attn.o_proj.weight"), ResidualRole::Writer);
  EXPECT_EQ(residual_role("model.layers.9.mlp.down_proj.weight"), ResidualRole::Writer);
  EXPECT_EQ(residual_role("model.layers.9.mlp.down_proj.bias"), ResidualRole::WriterBias);
  EXPECT_EQ(residual_role("encoder.layer.0.attention.self.query.weight"), ResidualRole::Other);
  EXPECT_EQ(reader_norm("model.layers.2.self_attn.v_proj.weight"), "model.layers.2.input_layernorm.weight");
  EXPECT_EQ(reader_norm("model.layers.2.mlp.gate_proj.weight"), "model.layers.2.post_attention_layernorm.weight");
  EXPECT_EQ(reader_norm("model.layers.2.mlp.down_proj.weight"), "");
}

// Into the rotated model and back: the identity, except that a reader keeps its norm's γ folded.
TEST(ResidualRotation, EveryTransformIsUndone) {
  const int64_t H = 48;
  const PreparedRotation r(hadamard_rotation(H, 7), H);
  const std::vector<float> gamma = aqtest::random_floats(size_t(H), 3, 1.0f);
  for (ResidualRole role : {ResidualRole::Reader, ResidualRole::Table, ResidualRole::Head, ResidualRole::Writer,
                            ResidualRole::WriterBias}) {
    const Shape shape = role == ResidualRole::Writer ? Shape{H, 20} : role == ResidualRole::WriterBias ? Shape{H} : Shape{5, H};
    const std::vector<float> x = aqtest::random_floats(size_t(num_elements(shape)), 11, 1.0f);
    std::vector<float> y = x;
    rotate_residual(r, role, shape, y.data(), gamma.data());
    double moved = 0;
    for (size_t i = 0; i < x.size(); ++i) moved += std::fabs(y[i] - x[i]);
    EXPECT_GT(moved, 1.0) << int(role);
    unrotate_residual(r, role, shape, y.data());
    for (size_t i = 0; i < x.size(); ++i) {
      const float want = role == ResidualRole::Reader ? x[i] * gamma[i % size_t(H)] : x[i];
      ASSERT_NEAR(y[i], want, 1e-5) << int(role) << " at " << i;
    }
  }
  std::vector<float> norm(size_t(H), 3.0f);
  rotate_residual(r, ResidualRole::BlockNorm, {H}, norm.data(), nullptr);
  for (float v : norm) EXPECT_EQ(v, 1.0f);
}

namespace {
std::vector<float> logits_of(std::shared_ptr<const TensorSource> src, const std::string& path,
                             const std::vector<int32_t>& ids) {
  ModelWeights w(std::move(src), path);
  LlamaDecoder d(w, 1);
  DecoderState st = d.new_state(int64_t(ids.size()), KVQuantPlan{});
  return d.forward(st, ids, true);
}
}  // namespace

TEST(ResidualRotation, RotatedFloatDecoderComputesTheSameLogits) {
  const std::vector<int32_t> ids = {1, 5, 17, 200, 3, 42, 7, 99};
  for (const std::string path : {aqtest::source_dir() + "/tests/goldens/tiny/llama",
                                 aqtest::source_dir() + "/tests/goldens/tiny/qwen2",
                                 aqtest::stories_dir() + "/stories260K.bin"}) {
    SCOPED_TRACE(path);
    std::shared_ptr<const TensorSource> base = open_tensor_source(path);
    const auto want = logits_of(base, path, ids);
    const auto rotated = rotated_residual_source(base, 1, 0);
    EXPECT_FALSE(rotated->residual_rotation().is_none());
    const auto got = logits_of(rotated, path, ids);
    ASSERT_EQ(got.size(), want.size());
    double num = 0, den = 0, moved = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      num += double(got[i] - want[i]) * (got[i] - want[i]);
      den += double(want[i]) * want[i];
    }
    EXPECT_LE(std::sqrt(num / den), 1e-5);
    // ...with weights that really moved: the table's first row is no longer the model's.
    const auto table = base->read_f32("model.embed_tokens.weight"), turned = rotated->read_f32("model.embed_tokens.weight");
    for (size_t i = 0; i < 64; ++i) moved += std::fabs(table.values[i] - turned.values[i]);
    EXPECT_GT(moved, 0.01);
    // Read back as a standard decoder (what an export writes: no rotation, γ folded): the same logits.
    const auto standard = unrotated_residual_source(rotated);
    EXPECT_TRUE(standard->residual_rotation().is_none());
    const auto back = logits_of(standard, path, ids);
    num = 0;
    for (size_t i = 0; i < back.size(); ++i) num += double(back[i] - want[i]) * (back[i] - want[i]);
    EXPECT_LE(std::sqrt(num / den), 1e-5);
  }
  // What it cannot rotate, refused by name: an encoder, and weights already quantised.
  EXPECT_THROW(rotated_residual_source(open_tensor_source(aqtest::minilm_dir()), 1, 0), ValueError);
}
