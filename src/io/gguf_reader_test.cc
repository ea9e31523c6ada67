// The GGUF reader: truncated, corrupted and mis-versioned files are clear errors, never crashes.
#include "io/gguf_reader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "arrowquant/error.h"
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
