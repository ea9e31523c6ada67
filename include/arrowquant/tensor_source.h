// Where unquantised weights come from. Every input format (safetensors, sharded safetensors, llama2.c
// checkpoint, Parquet V1/V2) is read through this one interface, one tensor at a time, so that the
// quantizer never holds more than one tensor in float.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/tensor.h"

namespace arrowquant {

struct SourceTensorInfo {
  std::string name;
  DType dtype;  // as stored in the source
  Shape shape;
};

class TensorSource {
 public:
  virtual ~TensorSource() = default;
  // "safetensors", "safetensors-sharded", "llama2c", "parquet-v1", "parquet-v2".
  virtual std::string kind() const = 0;
  virtual const std::vector<SourceTensorInfo>& tensors() const = 0;
  // The tensor converted to float32 (integer tensors are refused: use raw()). A quantised tensor is
  // dequantised when the source was opened with QuantizedTensors::Dequantize, refused otherwise.
  virtual FloatTensor read_f32(const std::string& name) const = 0;
  // Raw bytes of a tensor that is not float (e.g. BERT's int64 position_ids), stored unchanged.
  virtual std::vector<uint8_t> read_raw(const std::string& name) const = 0;
  // The model's configuration as Hugging Face config.json would spell it ({} when unknown).
  virtual nlohmann::json model_config() const = 0;
  // Files beside the weights that a model folder needs (tokenizer, config), copied to the output.
  virtual std::vector<std::string> companion_files() const { return {}; }
  // The Parquet loader behind a parquet-v1/v2 source (packed tensors for the fused kernels).
  virtual const class WeightLoader* weight_loader() const { return nullptr; }
};

// What read_f32 does with an already quantised tensor: the quantiser refuses it (quantising twice
// compounds the error silently); the model runtime dequantises it.
enum class QuantizedTensors { Refuse, Dequantize };

// Detects the format of `path` (a model folder or a single file) and opens it. Throws FormatError
// with the path when nothing recognisable is there.
std::unique_ptr<TensorSource> open_tensor_source(const std::string& path,
                                                 QuantizedTensors quantized = QuantizedTensors::Refuse);

// Reads a Hugging Face config.json (throws FormatError naming the file on bad JSON).
nlohmann::json read_json_file(const std::string& path);

}  // namespace arrowquant
