// Fuzz target: arbitrary text (any bytes, not only UTF-8) through the real tokenizers: GPT-2
// byte-level BPE, MiniLM's WordPiece and the llama2.c tokenizer. Byte-level BPE must give back the
// exact bytes it was given.
#include <memory>
#include <string>

#include "fuzz/fuzz_util.h"
#include "tokenizers/bpe_tokenizer.h"
#include "tokenizers/load_tokenizer.h"
#include "tokenizers/wordpiece_tokenizer.h"

namespace {
struct Tokenizers {
  std::unique_ptr<arrowquant::BpeTokenizer> gpt2;
  std::unique_ptr<arrowquant::WordPieceTokenizer> bert;
  std::unique_ptr<arrowquant::TextTokenizer> llama2c;
  Tokenizers() {
    const std::string root = AQ_SOURCE_DIR;
    gpt2 = arrowquant::BpeTokenizer::from_gguf(root + "/../shared/data/tokenizers/ggml-vocab-gpt-2.gguf");
    bert = std::make_unique<arrowquant::WordPieceTokenizer>(
        arrowquant::WordPieceTokenizer::from_folder(root + "/models/all-MiniLM-L6-v2"));
    llama2c = arrowquant::load_text_tokenizer_file(root + "/models/stories260K/tok512.bin");
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Tokenizers t;
  const std::string text(reinterpret_cast<const char*>(data), size);
  aqfuzz::only_our_errors([&] {
    const auto ids = t.gpt2->encode(text, false);
    if (text.find("<|") == std::string::npos && t.gpt2->decode(ids) != text) __builtin_trap();
  });
  aqfuzz::only_our_errors([&] { t.bert->encode(text, 512); });
  aqfuzz::only_our_errors([&] { t.llama2c->decode(t.llama2c->encode(text, true)); });
  return 0;
}
