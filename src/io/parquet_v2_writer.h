// Writes a Parquet weights table in schema V2 (parquet_v2_schema.h), row group by row group, so
// memory stays near one tensor. Data values are PLAIN and uncompressed: a reader maps them in place.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "arrowquant/packed_tensor.h"
#include "arrowquant/tensor.h"
#include "arrowquant/time_group_clips.h"

namespace arrowquant {

// The weight error measured when a tensor was quantised, stored beside it.
struct RowStats {
  bool has_error = false;
  double rel_rmse = 0, cosine = 1;
};

// What the file says about itself besides its tensors: everything a runtime needs to run it. The
// writer adds the format version, its own version and the scale type.
struct FileMetadata {
  std::string source_kind;                                  // where the weights came from
  nlohmann::json model_config = nlohmann::json::object();   // the model's config.json
  nlohmann::json quant_config = nlohmann::json::object();   // the settings of the run
  nlohmann::json decisions = nlohmann::json::array();       // fallbacks, allocations, folds
  std::string activations;  // "int8" when the model was calibrated for int8 activations
  InputRotation residual_rotation;  // a decoder whose residual stream is stored rotated; none otherwise
  TimeGroupClips time_groups;       // a diffusion model's static activation clips per timestep group
};

class ParquetV2Writer {
 public:
  // Opens `path` for writing (the caller renames it into place). chunk_bytes bounds the data value
  // of one Parquet row; larger tensors are split along their rows.
  ParquetV2Writer(const std::string& path, int64_t chunk_bytes);
  ~ParquetV2Writer();
  void write_quantized(const QuantizedTensor& q, DType source_dtype, const RowStats& stats);
  // An unquantised tensor: raw little-endian bytes of dtype x shape.
  void write_raw(const std::string& name, DType dtype, const Shape& shape, const uint8_t* data);
  // Writes the key-value metadata and the footer.
  void close(const FileMetadata& metadata);
  int64_t rows_written() const;
  // The format version the file says it is (3 once a rotated tensor was written, else 2).
  int format_version() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool residual_ = false;  // close() was given a residual rotation
};

}  // namespace arrowquant
