// Byte-level BPE against llama.cpp's GPT-2 test vectors and Hugging Face `tokenizers` on every line
// of wikitext-2 (goldens by scripts/goldens/make_bpe_goldens.py).
#include "tokenizers/bpe_tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "arrowquant/error.h"
#include "test_util.h"

using namespace arrowquant;

namespace {

std::string shared_data() { return aqtest::source_dir() + "/../shared/data"; }

using aqtest::parse_ids;
using aqtest::slurp;
using aqtest::split;

const BpeTokenizer& gpt2() {
  static auto t = BpeTokenizer::from_gguf(shared_data() + "/tokenizers/ggml-vocab-gpt-2.gguf");
  return *t;
}

uint64_t fnv1a64(const std::vector<int32_t>& ids) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (int32_t id : ids)
    for (int k = 0; k < 4; ++k) {
      h ^= uint8_t(uint32_t(id) >> (8 * k));
      h *= 0x100000001B3ull;
    }
  return h;
}

}  // namespace

TEST(BpeTokenizer, LlamaCppGpt2Vectors) {
  std::string base = shared_data() + "/tokenizers/ggml-vocab-gpt-2.gguf";
  std::vector<std::string> inputs = split(slurp(base + ".inp"), "\n__ggml_vocab_test__\n");
  std::vector<std::string> outputs = split(slurp(base + ".out"), "\n");
  if (!inputs.empty() && inputs.back().empty()) inputs.pop_back();
  ASSERT_GT(inputs.size(), 20u);
  ASSERT_GE(outputs.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto ids = gpt2().encode(inputs[i], false);
    EXPECT_EQ(ids, parse_ids(outputs[i])) << "input " << i << ": [" << inputs[i] << "]";
    EXPECT_EQ(gpt2().decode(ids), inputs[i]) << i;
  }
  EXPECT_EQ(gpt2().vocab_size(), 50257u);
  EXPECT_EQ(gpt2().special_id("<|endoftext|>"), 50256);
  EXPECT_EQ(gpt2().encode("a<|endoftext|>b", false), (std::vector<int32_t>{64, 50256, 65}));
}

TEST(BpeTokenizer, EveryWikitextLineMatchesHuggingFace) {
  // Lines without their terminators (the file has CRLF ones), as the golden script reads them.
  std::vector<std::string> lines = split(slurp(shared_data() + "/wikitext2/wiki.test.raw"), "\n");
  for (auto& l : lines)
    if (!l.empty() && l.back() == '\r') l.pop_back();
  std::vector<std::string> gold = split(slurp(aqtest::source_dir() + "/tests/goldens/tokenizers/gpt2_wikitext.txt"), "\n");
  if (!gold.empty() && gold.back().empty()) gold.pop_back();
  ASSERT_EQ(lines.size(), gold.size());
  size_t mismatches = 0, tokens = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto ids = gpt2().encode(lines[i], false);
    tokens += ids.size();
    char expect[64];
    snprintf(expect, sizeof expect, "%zu %016llx", ids.size(), (unsigned long long)fnv1a64(ids));
    if (gold[i] != expect && ++mismatches <= 5) ADD_FAILURE() << "line " << i << ": got " << expect << ", want " << gold[i] << ": " << lines[i];
    if (gpt2().decode(ids) != lines[i] && ++mismatches <= 5) ADD_FAILURE() << "round trip, line " << i;
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(tokens, 250000u);
}

TEST(BpeTokenizer, PreTokenizerPatternsDecideWhatMerges) {
  EXPECT_THROW(bpe_pre_regexes("no-such-pretokenizer"), FormatError);
  EXPECT_EQ(gpt2_byte_char(' '), "\xC4\xA0");  // "Ġ"
  EXPECT_EQ(gpt2_byte_char('a'), "a");
  auto make = [](const std::string& pre) {
    BpeVocabulary v;
    for (int b = 0; b < 256; ++b) v.tokens.push_back(gpt2_byte_char(uint8_t(b)));
    v.tokens.push_back("12");
    v.merges.push_back({"1", "2"});
    v.pre_regexes = bpe_pre_regexes(pre);
    return BpeTokenizer(v);
  };
  // GPT-2 keeps a run of digits in one piece, so "1","2" merge; Qwen2 splits digits one by one.
  EXPECT_EQ(make("gpt-2").encode("a 123", false), (std::vector<int32_t>{'a', ' ', 256, '3'}));
  EXPECT_EQ(make("qwen2").encode("a 123", false), (std::vector<int32_t>{'a', ' ', '1', '2', '3'}));
  EXPECT_EQ(make("qwen2").decode({'a', ' ', 256, '3'}), "a 123");
  // SmolLM: digits are split off one by one first, then GPT-2's pattern splits what is between.
  EXPECT_EQ(make("smollm").encode("a 123", false), (std::vector<int32_t>{'a', ' ', '1', '2', '3'}));
  EXPECT_EQ(make("smollm").encode("x12", false), (std::vector<int32_t>{'x', '1', '2'}));
}

// A vocabulary without a token for some byte cannot encode text holding it: a clear error (the regex
// match data once leaked on that path).
TEST(BpeTokenizer, VocabularyWithoutAByteTokenIsAClearError) {
  aqtest::TempDir d;
  std::ofstream(d / "tokenizer.json") << R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []},
    "pre_tokenizer": {"type": "ByteLevel", "use_regex": true}})";
  auto t = BpeTokenizer::from_tokenizer_json(d / "tokenizer.json");
  EXPECT_EQ(t->encode("ab", false), (std::vector<int32_t>{0, 1}));
  EXPECT_THROW(t->encode("abc", false), FormatError);
  std::ofstream(d / "huge.json") << R"({"model": {"type": "BPE", "vocab": {"a": 4000000000000}, "merges": []}})";
  EXPECT_THROW(BpeTokenizer::from_tokenizer_json(d / "huge.json"), FormatError);  // no absurd table
}
