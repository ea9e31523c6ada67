// Where weights come from. Every input format (safetensors, sharded safetensors, llama2.c checkpoint,
// GGUF, Parquet V1/V2) is read through this one interface, one tensor at a time, so that the quantiser
// never holds more than one tensor in float and the runtime never learns how the weights were stored.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/packed_tensor.h"
#include "arrowquant/tensor.h"
#include "arrowquant/time_group_clips.h"

namespace arrowquant {

struct SourceTensorInfo {
  std::string name;
  DType dtype;  // as stored in the source (of the unquantised tensor when it is stored quantised)
  Shape shape;
  const QuantFormat* format = nullptr;  // stored quantised in this format; nullptr: stored as dtype
  // A source's own encoding that read_f32() converts from (GGUF: "Q4_1", "Q8_0", ...); "" otherwise.
  std::string stored_type;
  size_t stored_bytes = 0;  // bytes the tensor takes in the source (0: not known)
  // The input space read_packed() views are in (read_f32() undoes it); none for most sources.
  InputRotation rotation = {};
};

// A file a source makes for a model folder, rather than copies (GGUF: the vocabulary as tokenizer.gguf).
struct CompanionFile {
  std::string name;
  std::vector<uint8_t> bytes;
};

// One stored run of a quantised tensor's rows: [row_start, row_start + view.geom.rows).
struct PackedRows {
  int64_t row_start = 0;
  PackedView view;
};

class TensorSource {
 public:
  virtual ~TensorSource() = default;
  // "safetensors", "safetensors-sharded", "llama2c", "parquet-v1", "parquet-v2", "gguf".
  virtual std::string kind() const = 0;
  virtual const std::vector<SourceTensorInfo>& tensors() const = 0;
  // The tensor converted to float32; a quantised tensor is dequantised (its checksums verified).
  // Integer tensors are refused: use read_raw().
  virtual FloatTensor read_f32(const std::string& name) const = 0;
  // Raw bytes of a tensor that is not float (e.g. BERT's int64 position_ids), stored unchanged.
  virtual std::vector<uint8_t> read_raw(const std::string& name) const = 0;
  // The model's configuration as Hugging Face config.json would spell it ({} when unknown).
  virtual nlohmann::json model_config() const = 0;
  // Files beside the weights that a model folder needs (tokenizer, config), copied to the output.
  virtual std::vector<std::string> companion_files() const { return {}; }
  // Files the source writes into a model folder made from it (beside config.json).
  virtual std::vector<CompanionFile> made_companions() const { return {}; }
  // A quantised tensor's stored runs of rows as views into the source's memory map, for the fused
  // kernels; its checksums are verified here, once. Empty for a tensor stored unquantised.
  virtual std::vector<PackedRows> read_packed(const std::string& name) const { return {}; }
  // The activation type the weights were calibrated for: "int8" after SmoothQuant, "" for any.
  virtual std::string calibrated_activations() const { return ""; }
  // A decoder stored with its residual stream rotated (model/residual_rotation.h): the rotation;
  // none for every other model.
  virtual InputRotation residual_rotation() const { return {}; }
  // A diffusion model quantised with static activation clips per timestep group: those; empty else.
  virtual TimeGroupClips time_groups() const { return {}; }
};

// Detects the format of `path` (a model folder or a single file) and opens it. Throws FormatError
// with the path when nothing recognisable is there.
std::unique_ptr<TensorSource> open_tensor_source(const std::string& path);

}  // namespace arrowquant
