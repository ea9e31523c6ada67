// Parquet weight tables.
//
// V2 schema (one row per tensor, or per run of rows of a tensor too large for one value):
//   layer_name  string        tensor name
//   shape       list<int32>   full tensor shape
//   dtype       string        element type of the unquantised tensor ("float32", ...)
//   data        binary        packed codes (quantised) or raw little-endian values; PLAIN, uncompressed
//   num_params  int64         elements in this row's part of the tensor
//   quant_type  string        "none" or a name from quant_format.h ("int4_asym", ...)
//   group_size  int32         elements per scale along the last dimension (0 when not quantised)
//   scales      binary        float16 little-endian, rows x groups
//   zero_points binary        uint8, rows x groups (empty for symmetric formats)
//   packing     string        "lsb_rows_v1" for quantised rows, "raw" otherwise
//   chunk_index, num_chunks   int32   position of this row among the tensor's rows
//   row_start   int64         first tensor row (product of leading dims) held by this row
//   checksum    uint64        XXH3-64 of data, scales, zero_points
//   rel_rmse, cosine  float64 weight error measured at quantisation time (null if not quantised)
// Every Parquet row is its own row group with a single-page data column, so a reader can locate
// each data value in the file and point into a memory map of it (see weight_loader.cc).
// Key-value metadata: arrowquant.format_version = "2", arrowquant.packing, arrowquant.tool_version,
// arrowquant.model_config (JSON), arrowquant.quant_config (JSON).
//
// V1 schema (as written by earlier tools): layer_name, shape, dtype, data, num_params; FP16/FP32.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "quant/weight_error.h"
#include "arrowquant/packed_tensor.h"
#include "arrowquant/tensor.h"

namespace arrowquant {

inline constexpr int kFormatVersion = 2;
inline constexpr const char* kWeightsFileName = "model.parquet";
inline constexpr const char* kMetadataFileName = "metadata.json";

struct RowStats {
  bool has_error = false;
  WeightError error;
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
  // Adds key-value metadata and writes the footer.
  void close(const std::map<std::string, std::string>& kv_metadata);
  int64_t rows_written() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arrowquant
