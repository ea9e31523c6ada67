// Fuzz target: a BERT vocabulary, as tokenizer.json or as vocab.txt (the first byte chooses), loaded
// from a model folder as the encoder loads it, then used on a few sentences.
#include <filesystem>

#include "fuzz/fuzz_util.h"
#include "tokenizers/wordpiece_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string dir = aqfuzz::scratch() + "/wordpiece";
  std::filesystem::create_directories(dir);
  std::filesystem::remove(dir + "/tokenizer.json");
  std::filesystem::remove(dir + "/vocab.txt");
  aqfuzz::as_file(data + 1, size - 1, (data[0] & 1) ? "wordpiece/tokenizer.json" : "wordpiece/vocab.txt");
  aqfuzz::only_our_errors([&] {
    const auto t = arrowquant::WordPieceTokenizer::from_folder(dir);
    for (const char* text : {"A man is playing a guitar.", "unaffable r\xc3\xa9sum\xc3\xa9 [MASK] \xe4\xb8\xad\xe6\x96\x87", ""})
      t.encode(text, 16);
  });
  return 0;
}
