#include <fstream>

#include "arrowquant/error.h"
#include "pipeline/precision_rules.h"
#include "arrowquant/quant_config.h"
#include "test_util.h"

using namespace arrowquant;

TEST(QuantConfig, PrecedenceProfileYamlEnvFlags) {
  aqtest::TempDir dir;
  std::ofstream(dir / "c.yaml") << "profile: edge\ngroup_size: 32\nembedding_bits: 8\nclip: minmax\npins:\n  - '*.query.*=8'\n";
  // YAML chooses the edge profile and overrides its group size.
  QuantConfig c = resolve_quant_config(dir / "c.yaml", {}, {});
  EXPECT_EQ(c.profile, "edge");
  EXPECT_EQ(c.bits, 2);
  EXPECT_EQ(c.group_size, 32);
  EXPECT_EQ(c.embedding_bits, 8);
  ASSERT_EQ(c.pins.size(), 1u);
  // Environment beats YAML; flags beat the environment.
  c = resolve_quant_config(dir / "c.yaml", {{"group_size", "64"}, {"bits", "3"}}, {{"bits", "4"}});
  EXPECT_EQ(c.group_size, 64);
  EXPECT_EQ(c.bits, 4);
  EXPECT_EQ(c.clip, ClipMethod::MinMax);
  // A profile given as a flag replaces the YAML's, and the YAML's other keys still apply on top.
  c = resolve_quant_config(dir / "c.yaml", {}, {{"profile", "cloud"}});
  EXPECT_EQ(c.bits, 8);
  EXPECT_EQ(c.group_size, 32);
}

TEST(QuantConfig, BadValuesAreClearErrors) {
  EXPECT_THROW(resolve_quant_config("", {}, {{"bits", "5"}}), ValueError);
  EXPECT_THROW(resolve_quant_config("", {}, {{"group_size", "48"}}), ValueError);
  EXPECT_THROW(resolve_quant_config("", {}, {{"profile", "phone"}}), ValueError);
  EXPECT_THROW(resolve_quant_config("", {{"bits", "four"}}, {}), ValueError);
  EXPECT_THROW(resolve_quant_config("", {}, {{"method", "gptq"}}), ValueError);
  EXPECT_THROW(resolve_quant_config("", {}, {{"pin", "nothing"}}), ValueError);
  EXPECT_THROW(resolve_quant_config("", {}, {{"pin", "*.x=5"}}), ValueError);
  aqtest::TempDir dir;
  std::ofstream(dir / "bad.yaml") << "bits: [\n";
  EXPECT_THROW(resolve_quant_config(dir / "bad.yaml", {}, {}), ValueError);
  std::ofstream(dir / "unknown.yaml") << "bitz: 4\n";
  EXPECT_THROW(resolve_quant_config(dir / "unknown.yaml", {}, {}), ValueError);
}

TEST(PrecisionRules, NormsEmbeddingsPins) {
  QuantConfig c;
  c.bits = 2;
  c.embedding_bits = 4;
  c.pins = {{"*.value.weight", "8"}, {"pooler.*", "float"}};
  auto plan = [&](std::string name, Shape s, DType d = DType::F32) { return plan_tensor({name, d, s}, c); };
  EXPECT_FALSE(plan("encoder.layer.0.output.LayerNorm.weight", {384}).quantize);
  EXPECT_FALSE(plan("embeddings.position_ids", {1, 512}, DType::I64).quantize);
  EXPECT_EQ(plan("embeddings.word_embeddings.weight", {30522, 384}).format->bits, 4);
  EXPECT_EQ(plan("lm_head.weight", {512, 64}).format->bits, 4);
  EXPECT_EQ(plan("encoder.layer.0.attention.self.value.weight", {384, 384}).format->bits, 8);
  EXPECT_EQ(plan("encoder.layer.0.attention.self.query.weight", {384, 384}).format->bits, 2);
  EXPECT_FALSE(plan("pooler.dense.weight", {384, 384}).quantize);
  c.embedding_bits = 16;
  EXPECT_FALSE(plan("model.embed_tokens.weight", {512, 64}).quantize);
}
