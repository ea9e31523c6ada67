// WordPiece tokenizer against Hugging Face `tokenizers` (goldens made by
// scripts/goldens/make_minilm_goldens.py) and against llama.cpp's BERT test vectors.
#include "tokenizers/wordpiece_tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "arrowquant/error.h"
#include "arrowquant/tensor_source.h"
#include "test_util.h"
#include "io/json_file.h"

using namespace arrowquant;

namespace {

const WordPieceTokenizer& minilm_tokenizer() {
  static WordPieceTokenizer t = WordPieceTokenizer::from_folder(aqtest::minilm_dir());
  return t;
}

std::string golden_dir() { return aqtest::source_dir() + "/tests/goldens/minilm"; }

std::vector<std::string> split_file(const std::string& path, const std::string& sep) {
  return aqtest::split(aqtest::slurp(path), sep);
}
using aqtest::parse_ids;

}  // namespace

TEST(WordPieceTokenizer, GoldenSentencesMatchHuggingFaceExactly) {
  nlohmann::json g = read_json_file(golden_dir() + "/encoder_goldens.json");
  size_t max_len = g["max_seq_length"].get<size_t>();
  ASSERT_EQ(g["sentences"].size(), 50u);
  for (const auto& s : g["sentences"]) {
    std::string text = s["text"].get<std::string>();
    EXPECT_EQ(minilm_tokenizer().encode(text, max_len), s["ids"].get<std::vector<int32_t>>()) << text;
  }
}

TEST(WordPieceTokenizer, EveryStsbSentenceMatchesHuggingFace) {
  std::vector<std::string> gold = split_file(golden_dir() + "/stsb_token_ids.txt", "\n");
  std::ifstream in(aqtest::source_dir() + "/../shared/data/stsb/sts-test.csv");
  ASSERT_TRUE(in) << "STS-B data missing";
  size_t k = 0, mismatches = 0;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cols;
    std::istringstream ls(line);
    for (std::string c; std::getline(ls, c, '\t');) cols.push_back(c);
    ASSERT_GE(cols.size(), 7u);
    for (int c = 5; c <= 6; ++c, ++k) {
      ASSERT_LT(k, gold.size());
      if (minilm_tokenizer().encode(cols[size_t(c)], 256) != parse_ids(gold[k])) {
        ++mismatches;
        ADD_FAILURE() << "STS-B sentence " << k << ": " << cols[size_t(c)];
      }
    }
  }
  EXPECT_EQ(k, 2758u);
  EXPECT_EQ(mismatches, 0u);
}

// llama.cpp's tokenizer test vectors for the BERT/BGE vocabulary, which is MiniLM's uncased vocab.
TEST(WordPieceTokenizer, LlamaCppBertVectors) {
  std::string base = aqtest::source_dir() + "/../shared/data/tokenizers/ggml-vocab-bert-bge.gguf";
  std::vector<std::string> inputs = split_file(base + ".inp", "\n__ggml_vocab_test__\n");
  std::vector<std::string> outputs = split_file(base + ".out", "\n");
  // The .inp file ends with a separator; the .out file has one line per input.
  if (!inputs.empty() && inputs.back().empty()) inputs.pop_back();
  if (!inputs.empty() && inputs.back().ends_with("\n__ggml_vocab_test__")) {
    inputs.back().resize(inputs.back().size() - std::string("\n__ggml_vocab_test__").size());
  }
  ASSERT_GE(outputs.size(), inputs.size());
  ASSERT_GT(inputs.size(), 20u);
  for (size_t i = 0; i < inputs.size(); ++i)
    EXPECT_EQ(minilm_tokenizer().tokenize(inputs[i]), parse_ids(outputs[i])) << "input " << i << ": " << inputs[i];
}

TEST(WordPieceTokenizer, RulesOnASmallVocabulary) {
  WordPieceTokenizer t = WordPieceTokenizer::from_vocab(
      {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "cafe", ",", "!", "中", "a"});
  EXPECT_EQ(t.tokenize("Unaffable, CAFÉ!"), (std::vector<int32_t>{5, 6, 7, 9, 8, 10}));
  EXPECT_EQ(t.tokenize("xyz"), (std::vector<int32_t>{1}));            // no piece matches: one [UNK]
  EXPECT_EQ(t.tokenize("unxyz"), (std::vector<int32_t>{1}));          // a partly matched word is [UNK] too
  EXPECT_EQ(t.tokenize(std::string(101, 'a')), (std::vector<int32_t>{1}));  // longer than 100 chars
  EXPECT_EQ(t.tokenize("a中a"), (std::vector<int32_t>{12, 11, 12}));  // CJK is split out
  EXPECT_EQ(t.tokenize("[SEP]un[MASK]"), (std::vector<int32_t>{3, 5, 4}));
  EXPECT_EQ(t.tokenize(std::string("\xff" "a")), (std::vector<int32_t>{12}));  // bad UTF-8 → U+FFFD, dropped
  EXPECT_EQ(t.encode("a a a a a", 4), (std::vector<int32_t>{2, 12, 12, 3}));
  EXPECT_EQ(t.encode("", 8), (std::vector<int32_t>{2, 3}));
  EXPECT_THROW(t.encode("a", 1), ValueError);
}

TEST(WordPieceTokenizer, MissingVocabularyIsAClearError) {
  aqtest::TempDir dir;
  try {
    WordPieceTokenizer::from_folder(dir.path().string());
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("no tokenizer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(dir.path().string()), std::string::npos) << e.what();
  }
  std::ofstream(dir / "tokenizer.json") << R"({"model": {"type": "BPE", "vocab": {}}})";
  EXPECT_THROW(WordPieceTokenizer::from_folder(dir.path().string()), FormatError);
  std::ofstream(dir / "tokenizer.json") << "{not json";
  EXPECT_THROW(WordPieceTokenizer::from_folder(dir.path().string()), FormatError);
}

// A BertNormalizer that leaves out strip_accents follows lowercase, as Hugging Face does (reading the
// missing key was undefined behaviour until the fuzzer found it).
TEST(WordPieceTokenizer, NormalizerWithoutStripAccents) {
  aqtest::TempDir d;
  std::ofstream(d / "tokenizer.json") << R"({"normalizer": {"type": "BertNormalizer", "lowercase": true},
    "model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "cafe": 3}}})";
  const auto t = WordPieceTokenizer::from_folder(d.path().string());
  EXPECT_TRUE(t.options().strip_accents);
  EXPECT_EQ(t.tokenize("Caf\xc3\xa9"), (std::vector<int32_t>{3}));
  std::ofstream(d / "tokenizer.json", std::ios::trunc) << R"({"normalizer": {"type": "BertNormalizer", "lowercase": "yes"},
    "model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}})";
  EXPECT_THROW(WordPieceTokenizer::from_folder(d.path().string()), FormatError);
}
