// A llama.cpp GGUF model as a TensorSource: tensors under their Hugging Face names and shapes,
// dequantised from their ggml types, the Q/K rows llama.cpp's converter permutes for Llama put back
// in Hugging Face order, and the architecture metadata as the config.json transformers would write.
// The vocabulary and chat template stay in GGUF form (tokenizer.gguf in a folder made from it).
#pragma once
#include <memory>
#include <string>

#include "arrowquant/tensor_source.h"

namespace arrowquant {

// FormatError naming the file for an architecture other than llama or qwen2, or metadata that
// contradicts the tensors.
std::unique_ptr<TensorSource> open_gguf_source(const std::string& path);

}  // namespace arrowquant
