// An ArrowQuant model as a quantised Hugging Face checkpoint that transformers, vLLM and the peers'
// loaders read, in one of two packings of the same codes:
//   compressed-tensors `pack-quantized` (what llm-compressor writes): our packed rows are its int32
//     weight_packed words (codes low bits first; a row padded to whole words), our float16 scales its
//     weight_scale, our zero points (minus 2^(bits-1)) its weight_zero_point packed down the rows;
//     one config group per (bits, symmetry, group size); dense Linears in `ignore`.
//   GPTQ (what GPTQModel / AutoGPTQ write): qweight is our rows' words transposed (input packed
//     along dim 0), scales [groups, out], qzeros packed along the outputs — stored as zero − 1 in a
//     v1 checkpoint (all symmetric), as they are in a v2 one (any asymmetric Linear); desc_act false,
//     g_idx i / group; Linears of another width, group or symmetry as `dynamic` overrides, dense ones
//     as negative `dynamic` entries.
// Every other tensor is written dense in float16, with the error of that rounding measured. The
// weights are sharded (model-0000i-of-0000n.safetensors + model.safetensors.index.json) beyond
// max_shard_bytes.
#pragma once
#include <string>
#include <vector>

#include "interop/gguf_export.h"  // ExportProgress

namespace arrowquant {

enum class HfTarget { CompressedTensors, Gptq };

struct HfTensorExport {
  std::string name;
  std::string source;   // "int4_sym g128", "float32", ...
  std::string written;  // "pack-quantized int4 group 128", "GPTQ int4 group 128", "float16"
  bool exact = false;
  double rel_rmse = 0;
};

struct HfExportReport {
  std::vector<HfTensorExport> tensors;
  int schemes = 0;                  // config groups (compressed-tensors), 1 + dynamic overrides (GPTQ)
  std::vector<std::string> ignore;  // Linears written dense
  std::vector<std::string> files;   // the safetensors files written
  size_t file_bytes = 0;            // all of them
};

inline constexpr size_t kDefaultMaxShardBytes = size_t(5) << 30;  // 5 GiB, as transformers shards

// model: an ArrowQuant decoder folder (llama or qwen2). out: a new folder (atomically; refused when it
// exists) with the weights, config.json (+ quantization_config) and the tokenizer files.
HfExportReport export_hf_quantized(const std::string& model, const std::string& out, HfTarget target,
                                   size_t max_shard_bytes = kDefaultMaxShardBytes,
                                   const ExportProgress& progress = {});

// What each target holds exactly and what it re-encodes (for --help).
std::string hf_export_rules(HfTarget target);

}  // namespace arrowquant
