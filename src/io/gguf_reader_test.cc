// The GGUF reader: truncated, corrupted and mis-versioned files are clear errors, never crashes.
#include "io/gguf_reader.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>

#include "arrowquant/error.h"
#include "io/ggml_types.h"
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

// Every supported ggml type dequantises bit for bit as the gguf package (llama.cpp's Python
// reference) does: random blocks and the reference's output, both in one golden GGUF
// (scripts/goldens/make_gguf_dequant_golden.py).
TEST(GgufReader, DequantisationMatchesTheGgufPackageBitForBit) {
  GgufFile g(aqtest::source_dir() + "/tests/goldens/gguf/dequant.gguf");
  int types = 0;
  for (const auto& raw : g.tensors()) {
    const size_t dot = raw.name.rfind(".raw");
    if (dot == std::string::npos || dot + 4 != raw.name.size()) continue;
    const GgufTensor* want = g.find(raw.name.substr(0, dot) + ".expected");
    ASSERT_NE(want, nullptr) << raw.name;
    ASSERT_EQ(want->elements(), raw.elements());
    const ggml::TypeInfo* type = ggml::type_info(raw.type);
    ASSERT_NE(type, nullptr);
    ASSERT_NE(type->to_f32, nullptr) << type->name;
    std::vector<float> got(size_t(raw.elements()));
    type->to_f32(raw.data, got.data(), raw.elements());
    size_t differ = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      float w;
      std::memcpy(&w, want->data + 4 * i, 4);
      if (std::memcmp(&w, &got[i], 4) != 0 && ++differ <= 3)
        ADD_FAILURE() << type->name << " value " << i << ": " << got[i] << " != " << w;
    }
    EXPECT_EQ(differ, 0u) << type->name;
    ++types;
  }
  EXPECT_EQ(types, 14);  // 12 block types, F16, BF16
  EXPECT_NE(ggml::supported_type_names().find("IQ4_XS"), std::string::npos);
}
