// Opens the tokenizer a decoder model needs, from its folder or from one file.
#pragma once
#include <memory>
#include <string>

#include "tokenizers/text_tokenizer.h"

namespace arrowquant {

// Finds the tokenizer of a decoder model: in a GGUF model file, its own vocabulary; in a model folder
// (or beside another model file), tokenizer.json, else tokenizer.bin / tok512.bin (llama2.c), else
// tokenizer.gguf or another *.gguf vocabulary. IoError naming the folder when there is none.
std::unique_ptr<TextTokenizer> load_text_tokenizer(const std::string& model_path);
// A specific file: tokenizer.json, a llama2.c tokenizer .bin, or a .gguf vocabulary.
std::unique_ptr<TextTokenizer> load_text_tokenizer_file(const std::string& path);

}  // namespace arrowquant
