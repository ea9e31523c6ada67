// Fuzz target: a llama2.c tokenizer file (max token length, then score, length and bytes per token).
#include "fuzz/fuzz_util.h"
#include "tokenizers/load_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = aqfuzz::as_file(data, size, "tokenizer.bin");
  aqfuzz::only_our_errors([&] {
    auto t = arrowquant::load_text_tokenizer_file(path);
    for (const char* text : {"Once upon a time", " a  b ", ""}) t->decode(t->encode(text, true));
  });
  return 0;
}
