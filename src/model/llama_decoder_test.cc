// Reading a decoder's config.json: every field with the type it must have, sizes a real model has,
// and the choices the decoder does not implement refused by name.
#include "model/llama_decoder.h"

#include <gtest/gtest.h>

#include "arrowquant/error.h"

using namespace arrowquant;

namespace {
nlohmann::json qwen2() {
  return {{"model_type", "qwen2"}, {"vocab_size", 1000}, {"hidden_size", 64}, {"num_hidden_layers", 2},
          {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"intermediate_size", 128},
          {"max_position_embeddings", 256}, {"rms_norm_eps", 1e-6}, {"rope_theta", 1e6}, {"eos_token_id", {5, 6}}};
}
std::string error_of(const nlohmann::json& cfg) {
  try {
    DecoderConfig::from_json(cfg, "config.json");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(DecoderConfig, ReadsRealFieldsAndRefusesWrongOnes) {
  const DecoderConfig c = DecoderConfig::from_json(qwen2(), "config.json");
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.kv_heads, 2);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_EQ(c.eos_token_id, 5);  // the first of a list
  EXPECT_FLOAT_EQ(c.rope_theta, 1e6f);
  EXPECT_FALSE(DecoderConfig::is_decoder(nlohmann::json::array()));
  EXPECT_FALSE(DecoderConfig::is_decoder({{"model_type", 3}}));
  auto with = [](const char* key, nlohmann::json v) {
    nlohmann::json c = qwen2();
    c[key] = std::move(v);
    return c;
  };
  // Wrong types: a FormatError naming the key (nlohmann's exceptions escaped before the fuzzer).
  EXPECT_NE(error_of(with("rms_norm_eps", "small")).find("'rms_norm_eps' must be a number"), std::string::npos);
  EXPECT_NE(error_of(with("tie_word_embeddings", 1)).find("tie_word_embeddings"), std::string::npos);
  EXPECT_NE(error_of(with("hidden_act", "gelu")).find("hidden_act"), std::string::npos);
  EXPECT_NE(error_of(with("rope_scaling", {{"rope_type", "yarn"}})).find("yarn"), std::string::npos);
  EXPECT_NE(error_of(with("rope_scaling", 7)).find("'rope_scaling' must be an object"), std::string::npos);
  // Sizes no real model has.
  EXPECT_NE(error_of(with("max_position_embeddings", int64_t(1) << 40)).find("implausible"), std::string::npos);
  EXPECT_NE(error_of(with("num_key_value_heads", 8)).find("multiple"), std::string::npos);
  EXPECT_NE(error_of(with("head_dim", 0)).find("head size"), std::string::npos);
  EXPECT_NE(error_of(with("vocab_size", -3)).find("positive integer 'vocab_size'"), std::string::npos);
}
