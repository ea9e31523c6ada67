// SentencePiece-style tokenizers: llama2.c's on the real tok512 vocabulary, and a GGUF "llama"
// vocabulary against llama.cpp's own test vectors (../shared/data/tokenizers/ggml-vocab-llama-spm.*).
#include "tokenizers/spm_tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>

#include "arrowquant/error.h"
#include "tokenizers/load_tokenizer.h"
#include "test_util.h"

using namespace arrowquant;
using aqtest::slurp;

TEST(SpmTokenizer, Llama2cTok512) {
  auto t = SpmTokenizer::from_llama2c(aqtest::stories_dir() + "/tok512.bin");
  EXPECT_EQ(t->kind(), "llama2c");
  EXPECT_EQ(t->vocab_size(), 512u);
  auto ids = t->encode("Once upon a time", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(t->decode(ids), "Once upon a time");
  EXPECT_EQ(t->eos_id(), 1);  // a llama2.c story ends where the next begins
  // Characters outside the vocabulary fall back to byte tokens and decode back to the same bytes.
  auto odd = t->encode("naïve 🦙", false);
  EXPECT_EQ(t->decode(odd), " naïve 🦙");  // the dummy-prefix space stays when there is no BOS
  aqtest::TempDir d;
  std::string good = slurp(aqtest::stories_dir() + "/tok512.bin");
  std::ofstream(d / "t.bin", std::ios::binary) << good.substr(0, good.size() - 3);
  EXPECT_THROW(SpmTokenizer::from_llama2c(d / "t.bin"), FormatError);
}

TEST(SpmTokenizer, LlamaCppSpmVectors) {
  const std::string base = aqtest::source_dir() + "/../shared/data/tokenizers/ggml-vocab-llama-spm.gguf";
  const auto t = load_text_tokenizer_file(base);
  EXPECT_EQ(t->kind(), "spm");
  EXPECT_EQ(t->vocab_size(), 32000u);
  EXPECT_TRUE(t->adds_bos());
  std::vector<std::string> inputs = aqtest::split(slurp(base + ".inp"), "\n__ggml_vocab_test__\n");
  std::vector<std::string> outputs = aqtest::split(slurp(base + ".out"), "\n");
  if (!inputs.empty() && inputs.back().empty()) inputs.pop_back();
  ASSERT_GT(inputs.size(), 20u);
  ASSERT_GE(outputs.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto ids = t->encode(inputs[i], false);
    EXPECT_EQ(ids, aqtest::parse_ids(outputs[i])) << "input " << i << ": [" << inputs[i] << "]";
    EXPECT_EQ(t->decode(ids), inputs[i]) << i;
  }
  EXPECT_EQ(t->encode("a", true), (std::vector<int32_t>{1, 263}));
  EXPECT_EQ(t->special_id("</s>"), 2);
}

// A GGUF vocabulary too small for the default special ids (no unknown/bos/eos keys given): those ids
// are none, never an index past the vocabulary (the fuzzer's input, kept as a regression).
TEST(SpmTokenizer, DefaultIdsOutsideTheVocabularyAreNone) {
  const std::string path =
      aqtest::source_dir() + "/tests/fuzz/regressions/gguf_tokenizer_fuzz/default_ids_outside_vocabulary.gguf";
  const auto t = load_text_tokenizer_file(path);
  const int64_t n = int64_t(t->vocab_size());
  for (int32_t id : {t->bos_id(), t->eos_id()}) EXPECT_TRUE(id == -1 || (id >= 0 && id < n)) << id;
  for (const char* text : {"Once upon a time, 2024 caf\xc3\xa9", " a  b\n\n", "ab"}) {
    try {
      for (int32_t id : t->encode(text, true)) EXPECT_TRUE(id >= 0 && id < n) << id;
    } catch (const FormatError&) {
      // no token for a byte and no <unk>: a clear error is the right answer
    }
  }
}
