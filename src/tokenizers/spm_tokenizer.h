// SentencePiece-style tokenizers with scores, as llama.cpp's "llama" vocabulary (a GGUF's
// tokenizer.ggml.model = "llama") and llama2.c's tokenizer.bin / tok512.bin encode: a dummy-prefix
// space, spaces written as the vocabulary's space symbol ("▁", or ' ' in llama2.c files), one symbol
// per UTF-8 code point (run.c's grouping), then merges of the highest-scoring adjacent pair (the
// leftmost on ties) until none is left; a symbol outside the vocabulary becomes its byte tokens
// <0xXX>.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizers/special_token_splitter.h"
#include "tokenizers/text_tokenizer.h"

namespace arrowquant {

class GgufFile;

struct SpmVocabulary {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<std::string> specials;     // control tokens matched verbatim in raw text
  std::string space = "\xE2\x96\x81";    // "▁"
  bool add_space_prefix = true;
  int32_t bos = 1, eos = 2, unk = -1;
  bool add_bos = true;
  // Decoding drops the dummy-prefix space of the first piece (llama.cpp); llama2.c drops it only
  // after BOS.
  bool strip_prefix_at_start = true;
  std::string chat_template;
};

class SpmTokenizer : public TextTokenizer {
 public:
  explicit SpmTokenizer(SpmVocabulary v, std::string kind = "spm");
  // llama2.c's tokenizer file. FormatError naming the file when it is truncated or a length is implausible.
  static std::unique_ptr<SpmTokenizer> from_llama2c(const std::string& path);
  // The tokenizer.* metadata of a GGUF whose tokenizer.ggml.model is "llama".
  static std::unique_ptr<SpmTokenizer> from_gguf(const std::string& path);
  static std::unique_ptr<SpmTokenizer> from_gguf(const GgufFile& g);

  std::string kind() const override { return kind_; }
  size_t vocab_size() const override { return v_.tokens.size(); }
  std::vector<int32_t> encode(const std::string& text, bool add_bos) const override;
  std::string piece(int32_t id, int32_t prev) const override;
  bool adds_bos() const override { return v_.add_bos; }
  int32_t bos_id() const override { return v_.bos; }
  int32_t eos_id() const override { return v_.eos; }
  int32_t special_id(const std::string& text) const override;
  std::string chat_template() const override { return v_.chat_template; }

 private:
  void encode_plain(const std::string& text, bool prefix, std::vector<int32_t>& out) const;

  SpmVocabulary v_;
  std::string kind_;
  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<std::string, int32_t> special_ids_;
  SpecialTokenSplitter splitter_;
  int32_t byte_ids_[256];
};

}  // namespace arrowquant
