#include "tokenizers/spm_tokenizer.h"

#include <cstdio>
#include <cstring>

#include "arrowquant/error.h"
#include "io/gguf_reader.h"
#include "io/json_file.h"
#include "util/mmap_file.h"

namespace arrowquant {

SpmTokenizer::SpmTokenizer(SpmVocabulary v, std::string kind) : v_(std::move(v)), kind_(std::move(kind)) {
  if (v_.scores.size() != v_.tokens.size()) throw FormatError("SentencePiece vocabulary: scores and tokens differ in number");
  for (int32_t* id : {&v_.bos, &v_.eos, &v_.unk})  // an id outside the vocabulary is none
    if (*id < 0 || size_t(*id) >= v_.tokens.size()) *id = -1;
  for (size_t i = 0; i < v_.tokens.size(); ++i) ids_.emplace(v_.tokens[i], int32_t(i));
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    auto it = ids_.find(name);
    byte_ids_[b] = it == ids_.end() ? -1 : it->second;
  }
  std::vector<std::string> specials;
  for (const auto& s : v_.specials)
    if (auto it = ids_.find(s); it != ids_.end() && special_ids_.emplace(s, it->second).second) specials.push_back(s);
  splitter_ = SpecialTokenSplitter(std::move(specials));
}

std::unique_ptr<SpmTokenizer> SpmTokenizer::from_llama2c(const std::string& path) {
  MappedFile map(path);
  const uint8_t* p = map.data();
  size_t n = map.size(), off = 0;
  auto read = [&](void* dst, size_t k) {
    if (k > n - off) throw FormatError(path + ": llama2.c tokenizer is truncated at byte " + std::to_string(off));
    std::memcpy(dst, p + off, k);
    off += k;
  };
  int32_t max_len = 0;
  read(&max_len, 4);
  if (max_len <= 0 || max_len > 1 << 16) throw FormatError(path + ": implausible max token length " + std::to_string(max_len));
  SpmVocabulary v;
  while (off < n) {
    float score;
    int32_t len;
    read(&score, 4);
    read(&len, 4);
    if (len < 0 || len > max_len) throw FormatError(path + ": token " + std::to_string(v.tokens.size()) +
                                                    " has length " + std::to_string(len));
    std::string t(size_t(len), '\0');
    read(t.data(), size_t(len));
    v.tokens.push_back(std::move(t));
    v.scores.push_back(score);
  }
  if (v.tokens.size() < 3 + 256) throw FormatError(path + ": only " + std::to_string(v.tokens.size()) + " tokens");
  // llama2.c's export writes the space as ' '. Its models end a story by starting the next with BOS
  // (run.c stops there), so BOS is also the end of generation; </s> is never text.
  v.space = " ";
  v.strip_prefix_at_start = false;
  v.eos = 1;
  v.specials = {"</s>"};
  return std::make_unique<SpmTokenizer>(std::move(v), "llama2c");
}

std::unique_ptr<SpmTokenizer> SpmTokenizer::from_gguf(const std::string& path) { return from_gguf(GgufFile(path)); }

std::unique_ptr<SpmTokenizer> SpmTokenizer::from_gguf(const GgufFile& g) {
  const std::string& path = g.path();
  try {
    const std::string model = g.at("tokenizer.ggml.model").get<std::string>();
    if (model != "llama")
      throw FormatError(path + ": tokenizer.ggml.model is '" + model + "', not a SentencePiece ('llama') vocabulary");
    SpmVocabulary v;
    v.tokens = g.at("tokenizer.ggml.tokens").get<std::vector<std::string>>();
    if (g.has("tokenizer.ggml.scores")) {
      for (const auto& s : g.at("tokenizer.ggml.scores")) {
        if (!s.is_number()) throw FormatError(path + ": tokenizer.ggml.scores holds a value that is not a number");
        v.scores.push_back(s.get<float>());
      }
    } else {
      v.scores.assign(v.tokens.size(), 0.0f);
    }
    if (v.scores.size() != v.tokens.size())
      throw FormatError(path + ": " + std::to_string(v.scores.size()) + " scores for " + std::to_string(v.tokens.size()) + " tokens");
    if (g.has("tokenizer.ggml.token_type")) {
      const auto& types = g.at("tokenizer.ggml.token_type");
      for (size_t i = 0; i < types.size() && i < v.tokens.size(); ++i) {
        const int64_t t = json_as_int(types[i], path + ": tokenizer.ggml.token_type");
        if (t == 3 || t == 4) v.specials.push_back(v.tokens[i]);  // control and user-defined
      }
    }
    // An id outside the vocabulary (given, or the default in a vocabulary too small for it) is none.
    auto token_id = [&](const char* key, int32_t def) -> int32_t {
      const int64_t id = g.has(key) ? json_as_int(g.at(key), path + ": " + key) : def;
      return id >= 0 && size_t(id) < v.tokens.size() ? int32_t(id) : -1;
    };
    v.bos = token_id("tokenizer.ggml.bos_token_id", 1);
    v.eos = token_id("tokenizer.ggml.eos_token_id", 2);
    v.unk = token_id("tokenizer.ggml.unknown_token_id", 0);
    if (g.has("tokenizer.ggml.add_bos_token")) v.add_bos = g.at("tokenizer.ggml.add_bos_token").get<bool>();
    if (g.has("tokenizer.ggml.add_space_prefix")) v.add_space_prefix = g.at("tokenizer.ggml.add_space_prefix").get<bool>();
    if (g.has("tokenizer.chat_template")) v.chat_template = g.at("tokenizer.chat_template").get<std::string>();
    return std::make_unique<SpmTokenizer>(std::move(v));
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path + ": GGUF tokenizer metadata of the wrong type: " + e.what());
  }
}

int32_t SpmTokenizer::special_id(const std::string& text) const {
  if (auto it = special_ids_.find(text); it != special_ids_.end()) return it->second;
  if (text == "<s>") return v_.bos;
  if (text == "</s>") return v_.eos;
  return -1;
}

void SpmTokenizer::encode_plain(const std::string& raw, bool prefix, std::vector<int32_t>& t) const {
  if (raw.empty()) return;
  std::string text = prefix && v_.add_space_prefix ? v_.space : std::string();
  for (char c : raw) {
    if (c == ' ') text += v_.space;
    else text += c;
  }
  const size_t first = t.size();
  // One symbol per UTF-8 code point (run.c groups a byte with the continuation bytes after it, at
  // most 4); one outside the vocabulary becomes its byte tokens.
  for (size_t i = 0; i < text.size();) {
    size_t j = i + 1;
    while (j < text.size() && j - i < 4 && (static_cast<unsigned char>(text[j]) & 0xC0) == 0x80) ++j;
    const std::string cp = text.substr(i, j - i);
    if (auto it = ids_.find(cp); it != ids_.end()) {
      t.push_back(it->second);
    } else {
      for (unsigned char b : cp) {
        const int32_t id = byte_ids_[b] >= 0 ? byte_ids_[b] : v_.unk;
        if (id < 0) throw FormatError("SentencePiece vocabulary has no token for byte " + std::to_string(b) + " and no <unk>");
        t.push_back(id);
      }
    }
    i = j;
  }
  for (;;) {  // merge the best-scoring adjacent pair (the leftmost of equals) until none merges
    float best = -1e30f;
    int32_t best_id = -1;
    size_t best_at = 0;
    for (size_t i = first; i + 1 < t.size(); ++i) {
      auto it = ids_.find(v_.tokens[size_t(t[i])] + v_.tokens[size_t(t[i + 1])]);
      if (it != ids_.end() && v_.scores[size_t(it->second)] > best) {
        best = v_.scores[size_t(it->second)];
        best_id = it->second;
        best_at = i;
      }
    }
    if (best_id < 0) break;
    t[best_at] = best_id;
    t.erase(t.begin() + int64_t(best_at) + 1);
  }
}

std::vector<int32_t> SpmTokenizer::encode(const std::string& text, bool add_bos) const {
  std::vector<int32_t> out;
  if (add_bos && v_.bos >= 0) out.push_back(v_.bos);
  bool first = true;  // the dummy prefix goes on the text at the start only (llama.cpp)
  splitter_.split(
      text,
      [&](std::string_view plain) {
        encode_plain(std::string(plain), first, out);
        if (!plain.empty()) first = false;
      },
      [&](const std::string& special) {
        out.push_back(special_ids_.at(special));
        first = false;
      });
  return out;
}

std::string SpmTokenizer::piece(int32_t id, int32_t prev) const {
  if (id < 0 || size_t(id) >= v_.tokens.size()) throw ValueError("token id " + std::to_string(id) + " out of range");
  // BOS, EOS and control tokens mark the sequence; they are not text.
  if (id == v_.bos || id == v_.eos || special_ids_.count(v_.tokens[size_t(id)])) return "";
  std::string s;
  const std::string& t = v_.tokens[size_t(id)];
  for (size_t i = 0; i < t.size();) {
    if (t.compare(i, v_.space.size(), v_.space) == 0) s += ' ', i += v_.space.size();
    else s += t[i++];
  }
  const bool at_start = prev == v_.bos || (prev < 0 && v_.strip_prefix_at_start);
  if (at_start && v_.add_space_prefix && !s.empty() && s[0] == ' ') s.erase(0, 1);  // the dummy prefix
  unsigned v;
  if (s.size() == 6 && std::sscanf(s.c_str(), "<0x%02X>", &v) == 1) return std::string(1, char(v));
  return s;
}

}  // namespace arrowquant
