// Fuzz target: a GGUF vocabulary (tokenizer.ggml.* for gpt2 BPE or llama SPM, with specials and a
// chat template) opened as the model's tokenizer, then text through it both ways and a chat prompt
// rendered with its template.
#include "fuzz/fuzz_util.h"
#include "tokenizers/chat_template.h"
#include "tokenizers/load_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = aqfuzz::as_file(data, size, "tokenizer.gguf");
  aqfuzz::only_our_errors([&] {
    auto t = arrowquant::load_text_tokenizer_file(path);
    for (const char* text : {"Once upon a time, 2024 caf\xc3\xa9", " a  b\n\n", "<|im_start|>user\nhi<|im_end|>", ""})
      t->decode(t->encode(text, true));
    if (const std::string src = t->chat_template(); !src.empty()) {
      auto tpl = arrowquant::ChatTemplate::from_jinja(src, "fuzz");
      t->encode(tpl.render({{"user", "hi"}}, true), false);
    }
  });
  return 0;
}
