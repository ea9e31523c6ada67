// Fuzz target: a byte-level BPE tokenizer.json (vocabulary, merges, added tokens, pre-tokenizer),
// loaded as a decoder folder's tokenizer is, then used on a few texts.
#include "fuzz/fuzz_util.h"
#include "tokenizers/bpe_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = aqfuzz::as_file(data, size, "tokenizer.json");
  aqfuzz::only_our_errors([&] {
    auto t = arrowquant::BpeTokenizer::from_tokenizer_json(path);
    for (const char* text : {"Hello world", " the  cat's 123 ", "\xe4\xbd\xa0\xe5\xa5\xbd <|endoftext|>", ""}) {
      const auto ids = t->encode(text, true);
      t->decode(ids);
    }
  });
  return 0;
}
