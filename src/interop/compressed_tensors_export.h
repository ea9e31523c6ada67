// An ArrowQuant model as a compressed-tensors `pack-quantized` folder (what llm-compressor writes and
// transformers and vLLM load). Linears in an integer grid (2-8 bits, symmetric or affine, grouped or
// per channel, not rotated) keep their codes: our packed rows are compressed-tensors' int32 words
// (codes low bits first; a row padded to whole words), our float16 scales its weight_scale, our zero
// points (minus 2^(bits-1)) its packed weight_zero_point. Every other tensor is written dense in
// float16, with the error of that rounding measured; Linears written dense go in the `ignore` list.
#pragma once
#include <string>
#include <vector>

#include "interop/gguf_export.h"  // ExportProgress

namespace arrowquant {

struct CompressedTensorExport {
  std::string name;
  std::string source;  // "int4_sym g128", "float32", ...
  std::string written; // "pack-quantized int4 group 128", "float16"
  bool exact = false;
  double rel_rmse = 0;
};

struct CompressedTensorsReport {
  std::vector<CompressedTensorExport> tensors;
  int config_groups = 0;
  std::vector<std::string> ignore;
  size_t file_bytes = 0;
};

// model: an ArrowQuant decoder folder (llama or qwen2). out: a new folder (atomically; refused when it
// exists) with model.safetensors, config.json (+ quantization_config) and the tokenizer files.
CompressedTensorsReport export_compressed_tensors(const std::string& model, const std::string& out,
                                                  const ExportProgress& progress = {});

std::string compressed_tensors_export_rules();

}  // namespace arrowquant
