// BERT's WordPiece tokenizer, matching Hugging Face `tokenizers` (BertNormalizer + BertPreTokenizer +
// WordPiece + the [CLS] ... [SEP] template) so that a quantised encoder sees exactly the ids the
// original model was trained and evaluated with.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace arrowquant {

struct WordPieceOptions {
  bool lowercase = true;
  bool strip_accents = true;       // Hugging Face's default follows `lowercase`
  bool handle_chinese_chars = true;
  bool clean_text = true;
  int max_input_chars_per_word = 100;
  std::string continuing_prefix = "##";
};

class WordPieceTokenizer {
 public:
  // Loads tokenizer.json (preferred) or vocab.txt (+ tokenizer_config.json) from a model folder.
  // Throws IoError naming the folder when neither is there, FormatError for a malformed file.
  static WordPieceTokenizer from_folder(const std::string& dir);
  static WordPieceTokenizer from_vocab(std::vector<std::string> vocab, WordPieceOptions opts = {});

  // Word pieces of `text` without special tokens.
  std::vector<int32_t> tokenize(const std::string& text) const;
  // [CLS] pieces [SEP], pieces truncated so that the whole fits in max_length (>= 2).
  std::vector<int32_t> encode(const std::string& text, size_t max_length) const;

  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }
  int32_t pad_id() const { return pad_id_; }
  int32_t unk_id() const { return unk_id_; }
  size_t vocab_size() const { return vocab_.size(); }
  const std::string& token(int32_t id) const { return vocab_.at(size_t(id)); }
  const WordPieceOptions& options() const { return opts_; }

 private:
  void index_vocab();
  void word_pieces(const std::u32string& word, std::vector<int32_t>& out) const;
  void tokenize_plain(const std::string& text, std::vector<int32_t>& out) const;

  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int32_t> ids_;
  std::vector<std::string> special_tokens_;  // matched verbatim in raw text before normalisation
  std::shared_ptr<const class SpecialTokenSplitter> splitter_;
  WordPieceOptions opts_;
  std::string unk_name_ = "[UNK]";
  int32_t cls_id_ = -1, sep_id_ = -1, pad_id_ = 0, unk_id_ = -1;
};

}  // namespace arrowquant
