#include <fstream>

#include "arrowquant/error.h"
#include "pipeline/precision_rules.h"
#include "arrowquant/quant_config.h"
#include "test_util.h"

using namespace arrowquant;

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
