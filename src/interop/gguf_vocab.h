// A Hugging Face byte-level BPE tokenizer (tokenizer.json, with tokenizer_config.json beside it) as
// llama.cpp's GGUF vocabulary: tokenizer.ggml.model "gpt2", the pre-tokenizer by llama.cpp's name
// (gpt-2, qwen2, llama-bpe, smollm: told from tokenizer.json's patterns), tokens with their types
// (added tokens CONTROL when special, USER_DEFINED otherwise; padded to the model's vocabulary with
// UNUSED "[PAD<i>]" tokens, as convert_hf_to_gguf.py does), merges, bos/eos, add_bos_token and the
// chat template.
#pragma once
#include <cstdint>
#include <string>

#include "io/gguf_writer.h"

namespace arrowquant {

// FormatError naming the file for a tokenizer that is not byte-level BPE or whose pre-tokenizer
// llama.cpp has no name for, or that holds more tokens than vocab_size.
void add_hf_bpe_vocabulary(GgufLayout& layout, const std::string& tokenizer_json, int64_t vocab_size);

}  // namespace arrowquant
