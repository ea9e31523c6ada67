// The llama2.c tokenizer on the real tok512 vocabulary.
#include "tokenizers/llama2c_tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>

#include "arrowquant/error.h"
#include "test_util.h"

using namespace arrowquant;
using aqtest::slurp;

TEST(Llama2cTokenizer, Tok512) {
  Llama2cTokenizer t(aqtest::stories_dir() + "/tok512.bin");
  EXPECT_EQ(t.vocab_size(), 512u);
  auto ids = t.encode("Once upon a time", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(t.decode(ids), "Once upon a time");
  // Characters outside the vocabulary fall back to byte tokens and decode back to the same bytes.
  auto odd = t.encode("naïve 🦙", false);
  EXPECT_EQ(t.decode(odd), " naïve 🦙");  // the dummy-prefix space stays when there is no BOS
  aqtest::TempDir d;
  std::string good = slurp(aqtest::stories_dir() + "/tok512.bin");
  std::ofstream(d / "t.bin", std::ios::binary) << good.substr(0, good.size() - 3);
  EXPECT_THROW(Llama2cTokenizer(d / "t.bin"), FormatError);
}
