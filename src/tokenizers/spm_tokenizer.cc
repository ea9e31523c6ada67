#include "tokenizers/llama2c_tokenizer.h"

#include <cstdio>
#include <cstring>

#include "arrowquant/error.h"
#include "util/mmap_file.h"

namespace arrowquant {

Llama2cTokenizer::Llama2cTokenizer(const std::string& path) {
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
  while (off < n) {
    float score;
    int32_t len;
    read(&score, 4);
    read(&len, 4);
    if (len < 0 || len > max_len) throw FormatError(path + ": token " + std::to_string(tokens_.size()) +
                                                    " has length " + std::to_string(len));
    std::string t(size_t(len), '\0');
    read(t.data(), size_t(len));
    ids_.emplace(t, int32_t(tokens_.size()));
    tokens_.push_back(std::move(t));
    scores_.push_back(score);
  }
  if (tokens_.size() < 3 + 256) throw FormatError(path + ": only " + std::to_string(tokens_.size()) + " tokens");
}

int32_t Llama2cTokenizer::special_id(const std::string& text) const {
  if (text == "<s>") return 1;
  if (text == "</s>") return 2;
  return -1;
}

std::vector<int32_t> Llama2cTokenizer::encode(const std::string& text, bool add_bos) const {
  std::vector<int32_t> t;
  if (add_bos) t.push_back(1);
  if (!text.empty()) {
    auto sp = ids_.find(" ");
    if (sp != ids_.end()) t.push_back(sp->second);
  }
  // One token per UTF-8 code point; a code point missing from the vocabulary becomes byte tokens,
  // which llama2.c numbers from 3.
  for (size_t i = 0; i < text.size();) {
    // run.c groups the continuation bytes that follow a byte, at most 4 bytes in all
    size_t j = i + 1;
    while (j < text.size() && j - i < 4 && (static_cast<unsigned char>(text[j]) & 0xC0) == 0x80) ++j;
    std::string cp = text.substr(i, j - i);
    auto it = ids_.find(cp);
    if (it != ids_.end()) {
      t.push_back(it->second);
    } else {
      for (unsigned char b : cp) t.push_back(int32_t(b) + 3);
    }
    i = j;
  }
  for (;;) {  // merge the best-scoring adjacent pair until none merges
    float best = -1e10f;
    int32_t best_id = -1;
    size_t best_at = 0;
    for (size_t i = 0; i + 1 < t.size(); ++i) {
      auto it = ids_.find(tokens_[size_t(t[i])] + tokens_[size_t(t[i + 1])]);
      if (it != ids_.end() && scores_[size_t(it->second)] > best) {
        best = scores_[size_t(it->second)];
        best_id = it->second;
        best_at = i;
      }
    }
    if (best_id < 0) break;
    t[best_at] = best_id;
    t.erase(t.begin() + int64_t(best_at) + 1);
  }
  return t;
}

std::string Llama2cTokenizer::piece(int32_t id, int32_t prev) const {
  if (id < 0 || size_t(id) >= tokens_.size()) throw ValueError("token id " + std::to_string(id) + " out of range");
  if (id == 1 || id == 2) return "";  // BOS/EOS mark the sequence; they are not text
  std::string s = tokens_[size_t(id)];
  if (prev == 1 && !s.empty() && s[0] == ' ') s.erase(0, 1);  // the space after BOS is the dummy prefix
  unsigned v;
  if (s.size() == 6 && std::sscanf(s.c_str(), "<0x%02X>", &v) == 1) return std::string(1, char(v));
  return s;
}

}  // namespace arrowquant
