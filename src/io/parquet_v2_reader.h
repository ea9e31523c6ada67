// Reads a Parquet weights table (V1 or V2, parquet_v2_schema.h) that lies in memory — normally a
// memory map of the file — and finds every tensor's bytes in it without copying: the data value of
// each V2 row is located inside its single PLAIN page. Everything is validated against the schema
// and the file's size before a pointer is handed out.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/stored_tensor.h"
#include "arrowquant/time_group_clips.h"

namespace arrowquant::parquet_v2 {

struct TableContents {
  int version = 0;                 // 1 or 2
  std::vector<StoredTensor> tensors;
  // The key-value metadata, "arrowquant." prefix removed, JSON-valued keys parsed.
  nlohmann::json metadata = nlohmann::json::object();
  // The rotation of a decoder's residual stream (model/residual_rotation.h); none when absent.
  InputRotation residual_rotation;
  // A diffusion model's static activation clips per timestep group; empty when absent.
  TimeGroupClips time_groups;
  // Decoded columns that V1 data pointers point into (V2 points into `bytes` itself).
  std::shared_ptr<const void> decoded;
};

// `bytes` must outlive the result. `file` names the table in error messages. FormatError (naming
// the file, the column or the tensor) for anything that does not validate.
TableContents read_table(const uint8_t* bytes, size_t size, const std::string& file);

}  // namespace arrowquant::parquet_v2
