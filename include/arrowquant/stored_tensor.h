// A tensor as a weights table stores it: its shape, format and the runs of rows (Parquet rows) that
// hold it, each pointing into the file. What readers hand out and WeightLoader serves.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "arrowquant/input_rotation.h"
#include "arrowquant/quant_format.h"
#include "arrowquant/tensor.h"

namespace arrowquant {

// One Parquet row of a tensor: a run of its rows.
struct StoredChunk {
  int64_t row_start = 0, rows = 0;
  const uint8_t* data = nullptr;  // into the memory map (V2) or into decoded Arrow buffers (V1)
  size_t nbytes = 0;
  const uint8_t* scales = nullptr;
  size_t scales_nbytes = 0;
  const uint8_t* zero_points = nullptr;
  size_t zero_points_nbytes = 0;
  uint64_t checksum = 0;
  bool has_checksum = false;
};

struct StoredTensor {
  std::string name;
  Shape shape;
  DType dtype = DType::F32;               // unquantised element type (of raw data when format is null)
  const QuantFormat* format = nullptr;    // nullptr: stored unquantised
  int64_t group_size = 0;
  InputRotation rotation;                 // of the stored codes (quantised tensors only)
  int64_t num_params = 0;
  std::vector<StoredChunk> chunks;
  double rel_rmse = -1, cosine = -1;      // < 0 when unknown
  size_t stored_bytes() const;            // data + scales + zero points
  double bits_per_weight() const;
  std::string format_name() const;        // quant_type, or the dtype when unquantised
};

}  // namespace arrowquant
