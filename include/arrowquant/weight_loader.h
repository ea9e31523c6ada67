// WeightLoader: opens a weights table (a model folder or a .parquet file), tells V1 from V2 by its
// schema, memory-maps the file and hands out tensors without copying: the packed bytes of a V2
// tensor are pointers into the map. Dequantisation to float32 happens one tensor at a time, on request.
// Everything needed to run the model is in the file itself (its key-value metadata); a metadata.json
// beside it is a readable copy and is never read.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/packed_tensor.h"
#include "arrowquant/stored_tensor.h"
#include "arrowquant/tensor.h"
#include "arrowquant/time_group_clips.h"

namespace arrowquant {

class MappedFile;

class WeightLoader {
 public:
  // path: a folder holding model.parquet, or a .parquet file. Throws
  // FormatError (naming the file, the column or the tensor) for anything that does not validate.
  static std::unique_ptr<WeightLoader> open(const std::string& path);
  ~WeightLoader();

  int format_version() const { return version_; }
  const std::string& path() const { return file_path_; }
  const std::vector<StoredTensor>& tensors() const { return tensors_; }
  const StoredTensor* find(const std::string& name) const;
  const StoredTensor& tensor(const std::string& name) const;  // throws ValueError
  // Whether [p, p + n) lies inside the file's memory map (the zero-copy promise, checkable), and the
  // byte offset of such a pointer in the file.
  bool maps(const void* p, size_t n = 1) const;
  size_t offset_in_file(const void* p) const;

  // The float32 values of a tensor; checks the stored checksums first (FormatError on mismatch).
  FloatTensor dequantize(const std::string& name) const;
  // Raw bytes of an unquantised tensor (any dtype).
  std::vector<uint8_t> raw_bytes(const std::string& name) const;
  // A view over one chunk of a quantised tensor, pointing into the file.
  PackedView packed(const StoredTensor& t, size_t chunk) const;
  void verify_checksums(const StoredTensor& t) const;

  // The file's key-value metadata ("arrowquant." keys, prefix removed; JSON values parsed).
  const nlohmann::json& metadata() const { return metadata_; }
  // config.json as the file carries it (a V1 table: the config.json beside it, or {}).
  nlohmann::json model_config() const;
  // The activation type the weights were calibrated for: "int8" for SmoothQuant models, else "".
  std::string calibrated_activations() const;
  // The rotation of a decoder's residual stream the weights are stored in (none for most files).
  const InputRotation& residual_rotation() const { return residual_rotation_; }
  // A diffusion model's static activation clips per timestep group (empty for most files).
  const TimeGroupClips& time_groups() const { return time_groups_; }

 private:
  WeightLoader() = default;
  std::unique_ptr<MappedFile> map_;
  std::shared_ptr<const void> decoded_;  // the decoded columns that scales and V1 data point into
  std::string file_path_;
  int version_ = 0;
  std::vector<StoredTensor> tensors_;
  nlohmann::json metadata_;
  InputRotation residual_rotation_;
  TimeGroupClips time_groups_;
};

// Finds the weights file in a model folder (model.parquet, else the only *.parquet).
std::string find_weights_file(const std::string& path);

}  // namespace arrowquant
