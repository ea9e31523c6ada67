#include "tokenizers/text_tokenizer.h"

#include <filesystem>

#include "arrowquant/error.h"

namespace fs = std::filesystem;

namespace arrowquant {

std::string TextTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string s;
  int32_t prev = -1;
  for (int32_t id : ids) {
    s += piece(id, prev);
    prev = id;
  }
  return s;
}

}  // namespace arrowquant
