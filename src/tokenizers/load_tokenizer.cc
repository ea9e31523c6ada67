#include "tokenizers/load_tokenizer.h"

#include <filesystem>

#include "arrowquant/error.h"
#include "tokenizers/bpe_tokenizer.h"
#include "tokenizers/llama2c_tokenizer.h"

namespace fs = std::filesystem;

namespace arrowquant {

std::unique_ptr<TextTokenizer> load_text_tokenizer_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw IoError(path + ": no such tokenizer file");
  std::string ext = fs::path(path).extension().string();
  if (ext == ".json") return BpeTokenizer::from_tokenizer_json(path);
  if (ext == ".gguf") return BpeTokenizer::from_gguf(path);
  if (ext == ".bin") return std::make_unique<Llama2cTokenizer>(path);
  throw FormatError(path + ": unknown tokenizer file (expected tokenizer.json, a llama2.c .bin or a .gguf)");
}

std::unique_ptr<TextTokenizer> load_text_tokenizer(const std::string& folder) {
  fs::path d(folder);
  std::error_code ec;
  for (const char* name : {"tokenizer.json", "tokenizer.bin", "tok512.bin"})
    if (fs::is_regular_file(d / name, ec)) return load_text_tokenizer_file((d / name).string());
  for (const auto& e : fs::directory_iterator(d, ec))
    if (e.path().extension() == ".gguf") return load_text_tokenizer_file(e.path().string());
  throw IoError(folder + ": no tokenizer: expected tokenizer.json, tokenizer.bin / tok512.bin or a .gguf vocabulary");
}

}  // namespace arrowquant
