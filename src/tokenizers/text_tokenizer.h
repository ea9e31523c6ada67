// The tokenizer interface of the decoder runtime: text ↔ ids, the special ids generation needs, and
// byte pieces for streaming. Implementations: byte-level BPE (GPT-2, Qwen2, Llama 3 — from
// tokenizer.json or a GGUF vocabulary) and the llama2.c tokenizer (tokenizer.bin / tok512.bin).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace arrowquant {

class TextTokenizer {
 public:
  virtual ~TextTokenizer() = default;
  virtual std::string kind() const = 0;
  virtual size_t vocab_size() const = 0;
  // Special tokens written in the text (e.g. "<|endoftext|>") are recognised as such.
  virtual std::vector<int32_t> encode(const std::string& text, bool add_bos) const = 0;
  // The bytes token `id` stands for, when it follows `prev` (-1 at the start). Concatenating the
  // pieces of a sequence gives decode(ids).
  virtual std::string piece(int32_t id, int32_t prev) const = 0;
  std::string decode(const std::vector<int32_t>& ids) const;
  // Whether the model expects a BOS token in front of a prompt.
  virtual bool adds_bos() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 when the vocabulary has none
  virtual int32_t eos_id() const = 0;
  // Id of a special token by its text; -1 when there is no such special token.
  virtual int32_t special_id(const std::string& text) const = 0;
  // The model's chat template (Jinja source) when its tokenizer files carry one, else "".
  virtual std::string chat_template() const { return ""; }
};

}  // namespace arrowquant
