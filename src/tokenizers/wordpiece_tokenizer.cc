#include "tokenizers/wordpiece_tokenizer.h"

#include <filesystem>
#include <algorithm>
#include <fstream>

#include "arrowquant/error.h"
#include "tokenizers/special_token_splitter.h"
#include "tokenizers/unicode_text.h"
#include "io/json_file.h"

namespace fs = std::filesystem;

namespace arrowquant {

namespace {

const char* kDefaultSpecials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

// BertNormalizer: drop controls, map whitespace to ' ', space out CJK ideographs, strip accents
// (NFD, then drop non-spacing marks), lower-case. The order is the one `tokenizers` uses.
std::u32string normalize(const std::u32string& in, const WordPieceOptions& o) {
  std::u32string s;
  s.reserve(in.size());
  for (char32_t c : in) {
    if (o.clean_text) {
      if (c == 0 || c == 0xFFFD || text::is_control(c)) continue;
      if (text::is_whitespace(c)) c = ' ';
    }
    if (o.handle_chinese_chars && text::is_cjk_ideograph(c)) {
      s.push_back(' ');
      s.push_back(c);
      s.push_back(' ');
    } else {
      s.push_back(c);
    }
  }
  if (o.strip_accents) {
    std::u32string d = text::nfd(s);
    s.clear();
    for (char32_t c : d)
      if (!text::is_nonspacing_mark(c)) s.push_back(c);
  }
  if (o.lowercase)
    for (char32_t& c : s) c = text::to_lower(c);
  return s;
}

// BertPreTokenizer: split on whitespace (dropped) and on every punctuation character (kept alone).
std::vector<std::u32string> pre_tokenize(const std::u32string& s) {
  std::vector<std::u32string> words;
  std::u32string cur;
  auto flush = [&] {
    if (!cur.empty()) words.push_back(std::move(cur));
    cur.clear();
  };
  for (char32_t c : s) {
    if (text::is_whitespace(c)) {
      flush();
    } else if (text::is_punctuation(c)) {
      flush();
      words.push_back(std::u32string(1, c));
    } else {
      cur.push_back(c);
    }
  }
  flush();
  return words;
}

std::string json_string_or(const nlohmann::json& j, const char* key, const std::string& dflt) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : dflt;
}

}  // namespace

WordPieceTokenizer WordPieceTokenizer::from_vocab(std::vector<std::string> vocab, WordPieceOptions opts) {
  WordPieceTokenizer t;
  t.vocab_ = std::move(vocab);
  t.opts_ = std::move(opts);
  for (const char* s : kDefaultSpecials) t.special_tokens_.push_back(s);
  t.index_vocab();
  return t;
}

WordPieceTokenizer WordPieceTokenizer::from_folder(const std::string& dir) {
  fs::path d(dir);
  std::error_code ec;
  if (fs::is_regular_file(d / "tokenizer.json", ec)) {
    std::string path = (d / "tokenizer.json").string();
    nlohmann::json j = read_json_file(path);
    try {
      const auto& model = j.at("model");
      std::string type = json_string_or(model, "type", "");
      if (type != "WordPiece")
        throw FormatError(path + ": tokenizer model is '" + type + "', not WordPiece (is this a BERT-family model?)");
      WordPieceOptions o;
      const auto& norm = j.value("normalizer", nlohmann::json());
      if (norm.is_object() && json_string_or(norm, "type", "") == "BertNormalizer") {
        o.lowercase = json_bool(norm, "lowercase", true, path);
        o.clean_text = json_bool(norm, "clean_text", true, path);
        o.handle_chinese_chars = json_bool(norm, "handle_chinese_chars", true, path);
        // (const operator[] on a missing key was undefined behaviour: found by the fuzzer)
        o.strip_accents = json_bool(norm, "strip_accents", o.lowercase, path);
      } else if (!norm.is_null()) {
        throw FormatError(path + ": unsupported normalizer '" + json_string_or(norm, "type", "?") +
                          "' (only BertNormalizer is implemented)");
      }
      o.continuing_prefix = json_string_or(model, "continuing_subword_prefix", "##");
      o.max_input_chars_per_word = int(std::clamp<int64_t>(json_int(model, "max_input_chars_per_word", 100, path), 1, 1 << 20));
      const auto& vmap = model.at("vocab");
      std::vector<std::string> vocab(vmap.size());
      for (auto it = vmap.begin(); it != vmap.end(); ++it) {
        const int64_t id = json_as_int(it.value(), path + ": the id of token '" + it.key() + "'");
        if (id < 0 || size_t(id) >= vocab.size())
          throw FormatError(path + ": token '" + it.key() + "' has id " + std::to_string(id) +
                            " outside the vocabulary of " + std::to_string(vocab.size()));
        vocab[size_t(id)] = it.key();
      }
      WordPieceTokenizer t;
      t.vocab_ = std::move(vocab);
      t.opts_ = o;
      t.unk_name_ = json_string_or(model, "unk_token", "[UNK]");
      if (j.contains("added_tokens"))
        for (const auto& a : j["added_tokens"])
          if (json_bool(a, "special", false, path)) t.special_tokens_.push_back(a.at("content").get<std::string>());
      t.index_vocab();
      return t;
    } catch (const nlohmann::json::exception& e) {
      throw FormatError(path + ": not a tokenizer.json this reader understands: " + e.what());
    }
  }
  if (fs::is_regular_file(d / "vocab.txt", ec)) {
    std::ifstream in(d / "vocab.txt");
    std::vector<std::string> vocab;
    for (std::string line; std::getline(in, line);) {
      while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
      vocab.push_back(line);
    }
    if (vocab.empty()) throw FormatError((d / "vocab.txt").string() + ": empty vocabulary");
    WordPieceOptions o;
    if (fs::is_regular_file(d / "tokenizer_config.json", ec)) {
      nlohmann::json c = read_json_file((d / "tokenizer_config.json").string());
      o.lowercase = c.value("do_lower_case", true);
      o.handle_chinese_chars = c.value("tokenize_chinese_chars", true);
      o.strip_accents = c.contains("strip_accents") && c["strip_accents"].is_boolean()
                            ? c["strip_accents"].get<bool>() : o.lowercase;
    }
    return from_vocab(std::move(vocab), o);
  }
  throw IoError(dir + ": no tokenizer: expected tokenizer.json or vocab.txt in the model folder");
}

void WordPieceTokenizer::index_vocab() {
  ids_.clear();
  ids_.reserve(vocab_.size());
  for (size_t i = 0; i < vocab_.size(); ++i) ids_.emplace(vocab_[i], int32_t(i));
  auto id_of = [&](const std::string& s, bool required) {
    auto it = ids_.find(s);
    if (it == ids_.end()) {
      if (required) throw FormatError("tokenizer vocabulary has no '" + s + "' token");
      return int32_t(-1);
    }
    return it->second;
  };
  unk_id_ = id_of(unk_name_, true);
  cls_id_ = id_of("[CLS]", true);
  sep_id_ = id_of("[SEP]", true);
  int32_t pad = id_of("[PAD]", false);
  pad_id_ = pad >= 0 ? pad : 0;
  std::vector<std::string> kept;
  for (auto& s : special_tokens_)
    if (!s.empty() && ids_.count(s)) kept.push_back(s);
  special_tokens_ = std::move(kept);
  splitter_ = std::make_shared<const SpecialTokenSplitter>(special_tokens_);
}

void WordPieceTokenizer::word_pieces(const std::u32string& word, std::vector<int32_t>& out) const {
  if (int64_t(word.size()) > opts_.max_input_chars_per_word) {
    out.push_back(unk_id_);
    return;
  }
  std::vector<int32_t> pieces;
  size_t start = 0;
  std::string candidate;
  while (start < word.size()) {
    size_t end = word.size();
    int32_t found = -1;
    while (start < end) {  // longest match first
      candidate = start > 0 ? opts_.continuing_prefix : std::string();
      for (size_t i = start; i < end; ++i) text::append_utf8(candidate, word[i]);
      auto it = ids_.find(candidate);
      if (it != ids_.end()) {
        found = it->second;
        break;
      }
      --end;
    }
    if (found < 0) {  // a word with any unmatchable part is one [UNK]
      out.push_back(unk_id_);
      return;
    }
    pieces.push_back(found);
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

void WordPieceTokenizer::tokenize_plain(const std::string& text_in, std::vector<int32_t>& out) const {
  for (const auto& w : pre_tokenize(normalize(text::decode_utf8(text_in), opts_))) word_pieces(w, out);
}

std::vector<int32_t> WordPieceTokenizer::tokenize(const std::string& text) const {
  std::vector<int32_t> out;
  splitter_->split(
      text, [&](std::string_view plain) { tokenize_plain(std::string(plain), out); },
      [&](const std::string& special) { out.push_back(ids_.at(special)); });
  return out;
}

std::vector<int32_t> WordPieceTokenizer::encode(const std::string& text, size_t max_length) const {
  if (max_length < 2) throw ValueError("max_length must leave room for [CLS] and [SEP]");
  std::vector<int32_t> pieces = tokenize(text);
  if (pieces.size() > max_length - 2) pieces.resize(max_length - 2);
  std::vector<int32_t> ids;
  ids.reserve(pieces.size() + 2);
  ids.push_back(cls_id_);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  ids.push_back(sep_id_);
  return ids;
}

}  // namespace arrowquant
