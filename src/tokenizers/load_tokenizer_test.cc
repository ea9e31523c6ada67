// Finding a decoder's tokenizer: a folder without one is a clear error.
#include "tokenizers/load_tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>

#include "arrowquant/error.h"
#include "test_util.h"

using namespace arrowquant;

TEST(LoadTokenizer, MissingTokenizerIsAClearError) {
  aqtest::TempDir d;
  try {
    load_text_tokenizer(d.path().string());
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("no tokenizer"), std::string::npos);
  }
  std::ofstream(d / "tokenizer.json") << R"({"model": {"type": "WordPiece", "vocab": {}}})";
  EXPECT_THROW(load_text_tokenizer(d.path().string()), FormatError);
}
