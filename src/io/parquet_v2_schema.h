// The Parquet weights table, schema V2: the one place that spells its columns, key-value keys,
// packing names and version, shared by parquet_v2_reader.cc and parquet_v2_writer.cc (docs/FORMAT.md).
//
// One row per tensor, or per run of rows of a tensor too large for one Parquet value:
//   layer_name  string        tensor name
//   shape       list<int32>   full tensor shape
//   dtype       string        element type of the unquantised tensor ("float32", ...)
//   data        binary        packed codes (quantised) or raw little-endian values; PLAIN, uncompressed
//   num_params  int64         elements in this row's part of the tensor
//   quant_type  string        "none" or a format name from the format table ("int4_asym", ...)
//   group_size  int32         elements per scale along the last dimension (0 when not quantised)
//   scales      binary        float16 little-endian, rows x groups
//   zero_points binary        uint8, rows x groups (empty for symmetric formats)
//   packing     string        the format's code layout ("lsb_rows_v1") for quantised rows, "raw" otherwise
//   chunk_index, num_chunks   int32   position of this row among the tensor's rows
//   row_start   int64         first tensor row (product of leading dims) held by this row
//   checksum    uint64        XXH3-64 of data, scales, zero_points
//   rel_rmse, cosine  float64 weight error measured at quantisation time (null if not quantised)
//   rotation    string        input space of the codes: "none" or "hadamard" (input_rotation.h)
//   rotation_block int32      channels per Hadamard block (0 when none)
//   rotation_seed  uint64     seed of the rotation's random signs
// Every Parquet row is its own row group with a single-page data column, so a reader can locate
// each data value in the file and point into a memory map of it.
//
// Files written before rotations existed have no rotation columns: their codes are unrotated.
// V1 (as written by earlier tools): layer_name, shape, dtype, data, num_params; FP16/FP32. A table
// is V2 when it has a quant_type column.
#pragma once
#include <memory>
#include <string_view>

namespace arrow {
class Schema;
}

namespace arrowquant::parquet_v2 {

// The newest version this build reads and writes. 3: rotated tensors (the rotation columns); 4: a
// rotated residual stream (key residual_rotation). A file is written with the lowest version that
// holds it, so that older builds still read what they can run and refuse what they would run wrong.
inline constexpr int kFormatVersion = 4;
inline constexpr int kFormatVersionRotated = 3;
inline constexpr int kFormatVersionUnrotated = 2;
inline constexpr const char* kWeightsFile = "model.parquet";   // in a model folder
inline constexpr const char* kMetadataFile = "metadata.json";  // a readable copy, never read back

namespace col {
inline constexpr const char *kLayerName = "layer_name", *kShape = "shape", *kDtype = "dtype", *kData = "data",
                            *kNumParams = "num_params", *kQuantType = "quant_type", *kGroupSize = "group_size",
                            *kScales = "scales", *kZeroPoints = "zero_points", *kPacking = "packing",
                            *kChunkIndex = "chunk_index", *kNumChunks = "num_chunks", *kRowStart = "row_start",
                            *kChecksum = "checksum", *kRelRmse = "rel_rmse", *kCosine = "cosine",
                            *kRotation = "rotation", *kRotationBlock = "rotation_block",
                            *kRotationSeed = "rotation_seed";
}  // namespace col

// The quant_type of a tensor stored unquantised, and the packing of its rows.
inline constexpr const char* kQuantTypeNone = "none";
inline constexpr const char* kPackingRaw = "raw";

// Key-value metadata: every key carries this prefix in the file; readers hand it out without.
inline constexpr std::string_view kKeyPrefix = "arrowquant.";
namespace key {
inline constexpr const char *kFormatVersion = "format_version", *kToolVersion = "tool_version",
                            *kScaleDtype = "scale_dtype", *kSourceKind = "source_kind";
// JSON values: the model's config.json, the quantisation settings, the decisions taken.
inline constexpr const char *kModelConfig = "model_config", *kQuantConfig = "quant_config",
                            *kDecisions = "decisions";
// What the runtime needs beyond the weights: the activation type the model was calibrated for
// ("int8" after SmoothQuant; absent otherwise), and the rotation of a decoder's residual stream
// (JSON {"kind", "block", "seed"}, model/residual_rotation.h; absent when not rotated).
inline constexpr const char* kActivations = "activations";
inline constexpr const char* kResidualRotation = "residual_rotation";
// A diffusion model's static activation clips per group of timesteps (JSON,
// arrowquant/time_group_clips.h; absent unless quantised with --time-groups).
inline constexpr const char* kTimeGroups = "time_groups";
}  // namespace key
bool key_holds_json(std::string_view key);

// The V2 Arrow schema, column order as above.
std::shared_ptr<arrow::Schema> v2_schema();

}  // namespace arrowquant::parquet_v2
