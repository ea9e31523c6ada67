#include <fstream>

#include "arrowquant/error.h"
#include "io/llama2c_reader.h"
#include "arrowquant/tensor_source.h"
#include "test_util.h"

using namespace arrowquant;

TEST(Llama2cReader, RealStories260K) {
  Llama2cCheckpoint c(aqtest::stories_dir() + "/stories260K.bin");
  EXPECT_EQ(c.config().dim, 64);
  EXPECT_EQ(c.config().hidden_dim, 172);
  EXPECT_EQ(c.config().n_layers, 5);
  EXPECT_EQ(c.config().n_kv_heads, 4);
  EXPECT_EQ(c.config().vocab_size, 512);
  EXPECT_TRUE(c.config().shared_classifier);
  EXPECT_EQ(c.tensors().size(), 1u + 5 * 9 + 1);
  EXPECT_EQ(c.tensors()[0].name, "model.embed_tokens.weight");
  auto src = open_tensor_source(aqtest::stories_dir());
  EXPECT_EQ(src->kind(), "llama2c");
  EXPECT_EQ(src->model_config()["num_key_value_heads"], 4);
  FloatTensor k = src->read_f32("model.layers.2.self_attn.k_proj.weight");
  EXPECT_EQ(k.shape, (Shape{32, 64}));
}

TEST(Llama2cReader, HeaderDisagreeingWithSizeIsRejected) {
  aqtest::TempDir dir;
  std::ifstream in(aqtest::stories_dir() + "/stories260K.bin", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir / "cut.bin", std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() - 100));
  try {
    Llama2cCheckpoint c(dir / "cut.bin");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("implies"), std::string::npos) << e.what();
  }
}

// Sizes whose byte count overflows 64 bits (found by the fuzzer): refused as implausible.
TEST(Llama2cReader, HeaderSizesThatWouldOverflowAreRejected) {
  aqtest::TempDir dir;
  const int32_t h[7] = {1 << 30, 1 << 30, 8, 8, 8, 1000, 256};
  std::ofstream(dir / "huge.bin", std::ios::binary).write(reinterpret_cast<const char*>(h), sizeof h);
  try {
    Llama2cCheckpoint c(dir / "huge.bin");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("implausible"), std::string::npos) << e.what();
  }
}
