#include "interop/gguf_vocab.h"

#include <map>

#include "arrowquant/error.h"
#include "io/json_file.h"
#include "tokenizers/bpe_tokenizer.h"

namespace arrowquant {

namespace {

enum TokenType : int32_t { kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5 };

// llama.cpp's name for the patterns (tokenizer.ggml.pre); "" when it has none.
std::string pre_name(const std::vector<std::string>& regexes) {
  for (const char* name : {"gpt-2", "qwen2", "llama-bpe", "smollm"})
    if (bpe_pre_regexes(name) == regexes) return name;
  return "";
}

}  // namespace

void add_hf_bpe_vocabulary(GgufLayout& layout, const std::string& tokenizer_json, int64_t vocab_size) {
  const auto tok = BpeTokenizer::from_tokenizer_json(tokenizer_json);  // validates the file
  const BpeVocabulary& v = tok->vocabulary();
  const std::string pre = pre_name(v.pre_regexes);
  if (pre.empty())
    throw FormatError(tokenizer_json + ": its pre-tokenizer is none that llama.cpp names (gpt-2, qwen2, llama-bpe, smollm)");
  // An NFC normalizer (Qwen2's) has no GGUF key: llama.cpp tokenises the text as given, the same for
  // text already in NFC (almost all text).
  if (int64_t(v.tokens.size()) > vocab_size)
    throw FormatError(tokenizer_json + ": " + std::to_string(v.tokens.size()) + " tokens, more than the model's " +
                      std::to_string(vocab_size) + " embedding rows");
  std::map<std::string, bool> added;  // content -> special
  const nlohmann::json j = read_json_file(tokenizer_json);
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (const auto& a : j["added_tokens"])
      if (a.is_object() && a.contains("content") && a["content"].is_string())
        added[a["content"].get<std::string>()] = json_bool(a, "special", true, tokenizer_json + ": added_tokens");
  std::vector<std::string> tokens(static_cast<size_t>(vocab_size));
  std::vector<int32_t> types(size_t(vocab_size), kNormal);
  for (int64_t i = 0; i < vocab_size; ++i) {
    if (size_t(i) >= v.tokens.size() || v.tokens[size_t(i)].empty()) {
      tokens[size_t(i)] = "[PAD" + std::to_string(i) + "]";
      types[size_t(i)] = kUnused;
      continue;
    }
    tokens[size_t(i)] = v.tokens[size_t(i)];
    if (auto it = added.find(tokens[size_t(i)]); it != added.end()) types[size_t(i)] = it->second ? kControl : kUserDefined;
  }
  std::vector<std::string> merges;
  merges.reserve(v.merges.size());
  for (const auto& [a, b] : v.merges) merges.push_back(a + " " + b);
  layout.add_string("tokenizer.ggml.model", "gpt2");
  layout.add_string("tokenizer.ggml.pre", pre);
  layout.add_string_array("tokenizer.ggml.tokens", tokens);
  layout.add_i32_array("tokenizer.ggml.token_type", types);
  layout.add_string_array("tokenizer.ggml.merges", merges);
  if (v.bos >= 0) layout.add_u32("tokenizer.ggml.bos_token_id", uint32_t(v.bos));
  if (v.eos >= 0) layout.add_u32("tokenizer.ggml.eos_token_id", uint32_t(v.eos));
  layout.add_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  if (!v.chat_template.empty()) layout.add_string("tokenizer.chat_template", v.chat_template);
}

}  // namespace arrowquant
