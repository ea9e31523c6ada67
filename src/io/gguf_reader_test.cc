// The GGUF reader: truncated, corrupted and mis-versioned files are clear errors, never crashes.
#include "io/gguf_reader.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>

#include "arrowquant/dtype.h"
#include "arrowquant/error.h"
#include "arrowquant/quant_format.h"
#include "io/ggml_types.h"
#include "io/gguf_writer.h"
#include "tokenizers/bpe_tokenizer.h"
#include "test_util.h"

using namespace arrowquant;
using aqtest::slurp;

namespace {
std::string shared_data() { return aqtest::source_dir() + "/../shared/data"; }
}  // namespace

TEST(GgufReader, BadFilesAreClearErrors) {
  aqtest::TempDir d;
  std::string good = slurp(shared_data() + "/tokenizers/ggml-vocab-gpt-2.gguf");
  std::ofstream(d / "trunc.gguf", std::ios::binary) << good.substr(0, good.size() / 2);
  try {
    GgufFile g(d / "trunc.gguf");
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("trunc.gguf"), std::string::npos) << e.what();
  }
  std::ofstream(d / "magic.gguf", std::ios::binary) << "NOPE" << std::string(100, '\0');
  EXPECT_THROW(GgufFile(d / "magic.gguf"), FormatError);
  std::string bad_version = good;
  bad_version[4] = 9;
  std::ofstream(d / "v9.gguf", std::ios::binary) << bad_version;
  EXPECT_THROW(GgufFile(d / "v9.gguf"), FormatError);
  GgufFile g(shared_data() + "/tokenizers/ggml-vocab-gpt-2.gguf");
  EXPECT_EQ(g.at("tokenizer.ggml.model"), "gpt2");
  EXPECT_THROW(g.at("no.such.key"), FormatError);
  // A SentencePiece vocabulary is refused by the byte-level loader, with the reason.
  EXPECT_THROW(BpeTokenizer::from_gguf(shared_data() + "/tokenizers/ggml-vocab-llama-spm.gguf"), FormatError);
}

// Corrupted metadata (random bytes overwritten, random truncation) gives FormatError, never a crash
// or a huge allocation: every count and length is checked against what is left of the file.
TEST(GgufReader, CorruptedFilesNeverCrash) {
  aqtest::TempDir d;
  const std::string good = slurp(shared_data() + "/tokenizers/ggml-vocab-bert-bge.gguf");
  std::mt19937 rng(123);
  int errors = 0;
  for (int i = 0; i < 60; ++i) {
    std::string bad = good.substr(0, std::uniform_int_distribution<size_t>(0, good.size())(rng));
    for (int k = 0; k < 4 && !bad.empty(); ++k)
      bad[std::uniform_int_distribution<size_t>(0, std::min<size_t>(bad.size() - 1, 4096))(rng)] = char(rng());
    const std::string path = d / ("c" + std::to_string(i) + ".gguf");
    std::ofstream(path, std::ios::binary) << bad;
    try {
      GgufFile g(path);
    } catch (const FormatError&) {
      ++errors;
    } catch (const IoError&) {
      ++errors;  // an empty file cannot be mapped
    }
  }
  EXPECT_GT(errors, 50);
}

// The types of a golden GGUF of `<type>.raw` blocks beside their reference `<type>.expected` values,
// each checked bit for bit against our dequantiser; returns how many were checked.
int expect_golden_dequantisation(const std::string& file) {
  GgufFile g(aqtest::source_dir() + "/tests/goldens/gguf/" + file);
  int types = 0;
  for (const auto& raw : g.tensors()) {
    const size_t dot = raw.name.rfind(".raw");
    if (dot == std::string::npos || dot + 4 != raw.name.size()) continue;
    const GgufTensor* want = g.find(raw.name.substr(0, dot) + ".expected");
    EXPECT_NE(want, nullptr) << raw.name;
    if (!want) continue;
    EXPECT_EQ(want->elements(), raw.elements());
    const ggml::TypeInfo* type = ggml::type_info(raw.type);
    EXPECT_NE(type, nullptr);
    EXPECT_NE(type->to_f32, nullptr) << type->name;
    if (!type || !type->to_f32 || want->elements() != raw.elements()) continue;
    std::vector<float> got(size_t(raw.elements()));
    type->to_f32(raw.data, got.data(), raw.elements());
    size_t differ = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      float w;
      std::memcpy(&w, want->data + 4 * i, 4);
      if (std::memcmp(&w, &got[i], 4) != 0 && ++differ <= 3)
        ADD_FAILURE() << file << ": " << type->name << " value " << i << ": " << got[i] << " != " << w;
    }
    EXPECT_EQ(differ, 0u) << type->name;
    ++types;
  }
  return types;
}

// Every supported ggml type dequantises bit for bit as the gguf package (llama.cpp's Python
// reference) does: random blocks and the reference's output, both in one golden GGUF
// (scripts/goldens/make_gguf_dequant_golden.py).
TEST(GgufReader, DequantisationMatchesTheGgufPackageBitForBit) {
  EXPECT_EQ(expect_golden_dequantisation("dequant.gguf"), 14);  // 12 block types, F16, BF16
  EXPECT_NE(ggml::supported_type_names().find("IQ4_XS"), std::string::npos);
}

// The types no gguf package dequantises, against ggml's own to_float
// (scripts/goldens/make_ggml_dequant_goldens.sh): upstream's Q1_0 and Q2_0, and Q2_0C from the
// branch of llama.cpp pull request 19357, which writes it as type 40 (upstream's NVFP4).
TEST(GgufReader, NewerTypesMatchGgmlBitForBit) {
  EXPECT_EQ(expect_golden_dequantisation("dequant_upstream.gguf"), 2);
  EXPECT_EQ(expect_golden_dequantisation("dequant_pr19357.gguf"), 1);
  GgufFile g(aqtest::source_dir() + "/tests/goldens/gguf/dequant_pr19357.gguf");
  const GgufTensor* raw = g.find("q2_0c.raw");
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(raw->type, uint32_t(ggml::kQ2_0C));  // stored as 40; too small to be NVFP4
}

// Q2_0C is our int2_half grid in groups of 512 (scale 2d): its codes and doubled scales give the
// very values ggml's dequantiser gives.
TEST(GgufReader, Q2_0cBlocksAreOurHalfOffsetTwoBitCodes) {
  GgufFile g(aqtest::source_dir() + "/tests/goldens/gguf/dequant_pr19357.gguf");
  const GgufTensor* raw = g.find("q2_0c.raw");
  const GgufTensor* want = g.find("q2_0c.expected");
  ASSERT_TRUE(raw && want);
  const ggml::TypeInfo* type = ggml::type_info(ggml::kQ2_0C);
  ASSERT_NE(type->to_codes, nullptr);
  const QuantFormat* f = find_quant_format(type->code_bits, true, type->half_grid);
  ASSERT_EQ(f->id, FormatId::Int2Half);
  std::vector<uint8_t> codes(size_t(type->block));
  for (int64_t b = 0; b < raw->elements() / type->block; ++b) {
    uint16_t scale;
    type->to_codes(raw->data + size_t(b) * type->block_bytes, codes.data(), &scale);
    for (int64_t j = 0; j < type->block; ++j) {
      float w;
      std::memcpy(&w, want->data + 4 * size_t(b * type->block + j), 4);
      ASSERT_EQ(f16_to_f32(scale) * (float(codes[size_t(j)]) - f->centre()), w) << "block " << b << " weight " << j;
    }
  }
}

// Type 40 with room for NVFP4 blocks is NVFP4 (refused by name by the model reader), not Q2_0C.
TEST(GgufReader, TypeFortyWithRoomForNvfp4IsNvfp4) {
  GgufLayout layout;
  std::vector<uint8_t> data(size_t(1536 / 64 * 36), 0);
  layout.add_tensor("w", {1536}, ggml::kNVFP4, data.size());
  aqtest::TempDir d;
  const std::string path = d / "nvfp4.gguf";
  {
    std::ofstream out(path, std::ios::binary);
    const auto head = layout.head();
    out.write(reinterpret_cast<const char*>(head.data()), std::streamsize(head.size()));
    out.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
  }
  GgufFile g(path);
  EXPECT_EQ(g.find("w")->type, uint32_t(ggml::kNVFP4));
  EXPECT_EQ(ggml::type_label(ggml::kQ2_0C), "type 40 (Q2_0C of llama.cpp pull request 19357)");
}
