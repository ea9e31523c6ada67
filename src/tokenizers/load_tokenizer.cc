#include "tokenizers/load_tokenizer.h"

#include <filesystem>

#include "arrowquant/error.h"
#include "tokenizers/bpe_tokenizer.h"
#include "tokenizers/spm_tokenizer.h"
#include "io/gguf_reader.h"

namespace fs = std::filesystem;

namespace arrowquant {

namespace {

// A GGUF's vocabulary: byte-level BPE ("gpt2") or SentencePiece ("llama").
std::unique_ptr<TextTokenizer> load_gguf_tokenizer(const std::string& path) {
  const GgufFile g(path);
  const auto& model = g.at("tokenizer.ggml.model");
  if (model == "llama") return SpmTokenizer::from_gguf(g);
  if (model == "gpt2") return BpeTokenizer::from_gguf(g);
  throw FormatError(path + ": tokenizer.ggml.model '" + (model.is_string() ? model.get<std::string>() : model.dump()) +
                    "' is not supported (gpt2 byte-level BPE, llama SentencePiece)");
}

}  // namespace

std::unique_ptr<TextTokenizer> load_text_tokenizer_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw IoError(path + ": no such tokenizer file");
  std::string ext = fs::path(path).extension().string();
  if (ext == ".json") return BpeTokenizer::from_tokenizer_json(path);
  if (ext == ".gguf") return load_gguf_tokenizer(path);
  if (ext == ".bin") return SpmTokenizer::from_llama2c(path);
  throw FormatError(path + ": unknown tokenizer file (expected tokenizer.json, a llama2.c .bin or a .gguf)");
}

std::unique_ptr<TextTokenizer> load_text_tokenizer(const std::string& model_path) {
  std::error_code ec;
  if (fs::is_regular_file(model_path, ec) && fs::path(model_path).extension() == ".gguf")
    return load_gguf_tokenizer(model_path);
  std::string folder = fs::is_directory(model_path, ec) ? model_path : fs::path(model_path).parent_path().string();
  if (folder.empty()) folder = ".";
  fs::path d(folder);
  for (const char* name : {"tokenizer.json", "tokenizer.bin", "tok512.bin", "tokenizer.gguf"})
    if (fs::is_regular_file(d / name, ec)) return load_text_tokenizer_file((d / name).string());
  for (const auto& e : fs::directory_iterator(d, ec))
    if (e.path().extension() == ".gguf") return load_text_tokenizer_file(e.path().string());
  throw IoError(folder + ": no tokenizer: expected tokenizer.json, tokenizer.bin / tok512.bin or a .gguf vocabulary");
}

}  // namespace arrowquant
