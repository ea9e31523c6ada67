// The llama2.c tokenizer (tokenizer.bin, tok512.bin): a SentencePiece-style vocabulary with scores,
// encoded the way llama2.c's run.c does it — a dummy-prefix space, one token per code point (bytes
// <0xXX> when missing), then merges of the highest-scoring adjacent pair until none is left.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizers/text_tokenizer.h"

namespace arrowquant {

class Llama2cTokenizer : public TextTokenizer {
 public:
  // FormatError naming the file when it is truncated or a length is implausible.
  explicit Llama2cTokenizer(const std::string& path);
  std::string kind() const override { return "llama2c"; }
  size_t vocab_size() const override { return tokens_.size(); }
  std::vector<int32_t> encode(const std::string& text, bool add_bos) const override;
  std::string piece(int32_t id, int32_t prev) const override;
  bool adds_bos() const override { return true; }
  int32_t bos_id() const override { return 1; }
  // llama2.c models end a story by starting the next with BOS; run.c stops there too.
  int32_t eos_id() const override { return 1; }
  int32_t special_id(const std::string& text) const override;

 private:
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int32_t> ids_;
};

}  // namespace arrowquant
