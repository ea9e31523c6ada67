// The GGUF writer and the block encoders: what GgufLayout writes, GgufFile reads back value for
// value; values already on a block type's grid come back from its encoder unchanged, and real
// weights re-encoded stay within the error their width allows.
#include "io/gguf_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "arrowquant/dtype.h"
#include "arrowquant/tensor_source.h"
#include "io/ggml_types.h"
#include "io/gguf_reader.h"
#include "test_util.h"

using namespace arrowquant;

TEST(GgufWriter, WhatItWritesReadsBack) {
  GgufLayout layout;
  layout.add_string("general.architecture", "llama");
  layout.add_u32("llama.block_count", 7);
  layout.add_f32("llama.rope.freq_base", 10000.5f);
  GgufFile vocab(aqtest::source_dir() + "/../shared/data/tokenizers/ggml-vocab-gpt-2.gguf");
  layout.add_entry(vocab.raw_entry("tokenizer.ggml.model"));
  const std::vector<uint8_t> a(3 * 4, 7), b(34 * 2, 9);  // 3 floats; 2 Q8_0 blocks
  layout.add_tensor("a.weight", {3}, ggml::kF32, a.size());
  layout.add_tensor("b.weight", {32, 2}, ggml::kQ8_0, b.size());
  aqtest::TempDir d;
  {
    std::ofstream os(d / "t.gguf", std::ios::binary);
    const auto head = layout.head();
    EXPECT_EQ(head.size() % 32, 0u);
    os.write(reinterpret_cast<const char*>(head.data()), std::streamsize(head.size()));
    write_tensor_data(os, a.data(), a.size(), "t.gguf");
    write_tensor_data(os, b.data(), b.size(), "t.gguf");
  }
  GgufFile g(d / "t.gguf");
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.at("general.architecture"), "llama");
  EXPECT_EQ(g.at("llama.block_count"), 7);
  EXPECT_FLOAT_EQ(g.at("llama.rope.freq_base").get<float>(), 10000.5f);
  EXPECT_EQ(g.at("tokenizer.ggml.model"), "gpt2");
  ASSERT_EQ(g.tensors().size(), 2u);
  EXPECT_EQ(g.find("b.weight")->dims, (std::vector<int64_t>{32, 2}));
  EXPECT_EQ(g.find("b.weight")->type, ggml::kQ8_0);
  EXPECT_EQ(std::vector<uint8_t>(g.find("a.weight")->data, g.find("a.weight")->data + 12), a);
  EXPECT_EQ(std::vector<uint8_t>(g.find("b.weight")->data, g.find("b.weight")->data + b.size()), b);
  // The vocabulary-only file is made by the same writer.
  GgufFile v(vocab.vocabulary_file().data(), vocab.vocabulary_file().size(), "vocab");
  EXPECT_EQ(v.at("tokenizer.ggml.model"), "gpt2");
}

namespace {

// Blocks of 32 values on the grid of `type`: random codes with both ends of the grid present (the
// encoders map the extreme weights there), a float16 scale (and minimum), decoded by ggml's rules.
std::vector<float> on_grid(uint32_t type, int blocks, uint32_t seed) {
  std::mt19937 rng(seed);
  const auto* t = ggml::type_info(type);
  const bool affine = type == ggml::kQ4_1 || type == ggml::kQ5_1;
  std::vector<uint8_t> bytes(size_t(blocks) * t->block_bytes);
  for (auto& b : bytes) b = uint8_t(rng());
  for (int k = 0; k < blocks; ++k) {
    uint8_t* b = bytes.data() + size_t(k) * t->block_bytes;
    for (int s = 0; s < (affine ? 2 : 1); ++s) {
      const uint16_t h = f32_to_f16(0.001f * float(1 + rng() % 100) * (s ? -1.0f : 1.0f));
      std::memcpy(b + 2 * s, &h, 2);
    }
    // Weight 0 at the lowest code; weight 1 at the highest (affine types).
    switch (type) {
      case ggml::kQ8_0: b[2] = 0x80; break;
      case ggml::kQ4_0: b[2] &= 0xF0; break;
      case ggml::kQ5_0: b[2] &= 0xFE, b[6] &= 0xF0; break;
      case ggml::kQ4_1: b[4] &= 0xF0, b[5] |= 0x0F; break;
      case ggml::kQ5_1: b[4] = uint8_t((b[4] & 0xFC) | 0x02), b[8] &= 0xF0, b[9] |= 0x0F; break;
    }
  }
  std::vector<float> x(size_t(blocks) * 32);
  t->to_f32(bytes.data(), x.data(), int64_t(x.size()));
  return x;
}

double rel_rmse_after_round_trip(uint32_t type, const std::vector<float>& x) {
  const auto* t = ggml::type_info(type);
  std::vector<uint8_t> bytes(x.size() / 32 * t->block_bytes);
  t->from_f32(x.data(), bytes.data(), int64_t(x.size()));
  std::vector<float> y(x.size());
  t->to_f32(bytes.data(), y.data(), int64_t(y.size()));
  double e = 0, n = 0;
  for (size_t i = 0; i < x.size(); ++i) e += double(y[i] - x[i]) * (y[i] - x[i]), n += double(x[i]) * x[i];
  return std::sqrt(e / n);
}

}  // namespace

TEST(GgmlEncoders, GridValuesComeBackUnchanged) {
  for (uint32_t type : {ggml::kQ4_0, ggml::kQ5_0, ggml::kQ8_0, ggml::kQ4_1, ggml::kQ5_1}) {
    const std::vector<float> x = on_grid(type, 200, type);
    const auto* t = ggml::type_info(type);
    std::vector<uint8_t> bytes(x.size() / 32 * t->block_bytes);
    t->from_f32(x.data(), bytes.data(), int64_t(x.size()));
    std::vector<float> y(x.size());
    t->to_f32(bytes.data(), y.data(), int64_t(y.size()));
    EXPECT_EQ(x, y) << t->name;
  }
}

TEST(GgmlEncoders, RealWeightsStayWithinTheirWidthsError) {
  auto src = open_tensor_source(aqtest::stories_dir());
  const FloatTensor w = src->read_f32("model.layers.0.mlp.up_proj.weight");
  ASSERT_EQ(w.values.size() % 32, 0u);
  const double q8 = rel_rmse_after_round_trip(ggml::kQ8_0, w.values);
  const double q5 = rel_rmse_after_round_trip(ggml::kQ5_0, w.values);
  const double q4 = rel_rmse_after_round_trip(ggml::kQ4_0, w.values);
  const double q4_1 = rel_rmse_after_round_trip(ggml::kQ4_1, w.values);
  const double iq4 = rel_rmse_after_round_trip(ggml::kIQ4_NL, w.values);
  printf("stories260K up_proj re-encoded: Q8_0 %.4f Q5_0 %.4f Q4_0 %.4f Q4_1 %.4f IQ4_NL %.4f\n", q8, q5, q4, q4_1, iq4);
  EXPECT_LT(q8, 0.01);
  EXPECT_LT(q5, q4);
  EXPECT_LT(q8, q5);
  EXPECT_LT(q4, 0.15);
  EXPECT_LT(iq4, q4);  // the non-uniform grid fits bell-shaped weights better
}
