// Special tokens written in raw text ("[SEP]", "<|endoftext|>") are cut out before normalisation,
// as Hugging Face `tokenizers` does; the longest one wins where several start at the same place.
// Shared by the WordPiece and BPE tokenizers.
#pragma once
#include <bitset>
#include <string>
#include <string_view>
#include <vector>

namespace arrowquant {

class SpecialTokenSplitter {
 public:
  SpecialTokenSplitter() = default;
  explicit SpecialTokenSplitter(std::vector<std::string> specials) : specials_(std::move(specials)) {
    for (const auto& s : specials_)
      if (!s.empty()) first_bytes_.set(static_cast<unsigned char>(s[0]));
  }
  // Calls on_text(piece) for the text between special tokens (possibly empty) and
  // on_special(token) for each special token, in order.
  template <class OnText, class OnSpecial>
  void split(std::string_view text, OnText&& on_text, OnSpecial&& on_special) const {
    size_t pos = 0, plain_from = 0;
    while (pos < text.size()) {
      const std::string* hit = nullptr;
      // Most positions cannot start a special token: one bit test skips them (Llama 3 has 256).
      if (first_bytes_.test(static_cast<unsigned char>(text[pos])))
        for (const auto& s : specials_)
          if (text.compare(pos, s.size(), s) == 0 && (!hit || s.size() > hit->size())) hit = &s;
      if (!hit) {
        ++pos;
        continue;
      }
      on_text(text.substr(plain_from, pos - plain_from));
      on_special(*hit);
      pos += hit->size();
      plain_from = pos;
    }
    on_text(text.substr(plain_from));
  }

 private:
  std::vector<std::string> specials_;
  std::bitset<256> first_bytes_;
};

}  // namespace arrowquant
