// Byte-level BPE as GPT-2 defined it and Hugging Face `tokenizers` / llama.cpp implement it: split
// special tokens out, pre-tokenise with the model's regex (PCRE2, Unicode classes), map bytes to the
// GPT-2 printable alphabet, then apply merges lowest rank first.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizers/text_tokenizer.h"
#include "tokenizers/special_token_splitter.h"

namespace arrowquant {

class GgufFile;

struct BpeVocabulary {
  std::vector<std::string> tokens;                           // in the byte-level alphabet
  std::vector<std::pair<std::string, std::string>> merges;   // by rank
  std::vector<std::string> specials;                         // matched verbatim in raw text
  // Pre-tokenisation patterns applied in turn, each splitting the pieces of the one before
  // (tokenizer.json's Sequence of Split / Digits / ByteLevel; llama.cpp's regex lists).
  std::vector<std::string> pre_regexes;
  int32_t bos = -1, eos = -1;
  bool add_bos = false;
  bool nfc = false;  // tokenizer.json declares an NFC normalizer (Qwen2)
  std::string chat_template;  // Jinja source, from the GGUF or tokenizer_config.json ("" when none)
};

// The pre-tokenisation patterns by llama.cpp's `tokenizer.ggml.pre` name ("gpt-2", "qwen2",
// "llama-bpe", "smollm", ...). FormatError for a name not known here.
std::vector<std::string> bpe_pre_regexes(const std::string& name);

// GPT-2's reversible map from a byte to a printable character (UTF-8), e.g. ' ' → "Ġ".
std::string gpt2_byte_char(uint8_t b);

class BpeTokenizer : public TextTokenizer {
 public:
  explicit BpeTokenizer(BpeVocabulary v);
  ~BpeTokenizer() override;
  static std::unique_ptr<BpeTokenizer> from_gguf(const std::string& path);
  const BpeVocabulary& vocabulary() const { return v_; }
  static std::unique_ptr<BpeTokenizer> from_gguf(const GgufFile& g);
  static std::unique_ptr<BpeTokenizer> from_tokenizer_json(const std::string& path);

  std::string kind() const override { return "bpe"; }
  size_t vocab_size() const override { return v_.tokens.size(); }
  std::vector<int32_t> encode(const std::string& text, bool add_bos) const override;
  std::string piece(int32_t id, int32_t prev) const override;
  bool adds_bos() const override { return v_.add_bos; }
  int32_t bos_id() const override { return v_.bos; }
  int32_t eos_id() const override { return v_.eos; }
  int32_t special_id(const std::string& text) const override;
  std::string chat_template() const override { return v_.chat_template; }

 private:
  void encode_plain(const std::string& text, std::vector<int32_t>& out) const;
  void split(const std::string& text, size_t level, std::vector<int32_t>& out) const;
  void bpe_word(const std::string& word, std::vector<int32_t>& out) const;

  BpeVocabulary v_;
  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<std::string, int32_t> merge_rank_;  // "left right" → rank
  std::unordered_map<std::string, int32_t> special_ids_;
  SpecialTokenSplitter splitter_;
  std::string byte_to_char_[256];
  std::unordered_map<uint32_t, uint8_t> char_to_byte_;
  struct Regexes;
  std::unique_ptr<Regexes> re_;
};

}  // namespace arrowquant
