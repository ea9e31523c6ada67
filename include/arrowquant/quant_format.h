// One table describes every weight format ArrowQuant stores (in the spirit of ggml's type traits).
// Everything that needs to know a format's width, code range or zero-point rule looks it up here.
//
// Codes are unsigned integers in [0, 2^bits - 1]. Dequantisation of code c in group g:
//   affine     w = scale[g] * (c - zero_point[g])      zero_point: uint8 in the code range
//   symmetric  w = scale[g] * (c - 2^(bits-1))         no zero points stored
// Scales are IEEE float16. Layout of the packed codes: see pack.h and docs/FORMAT.md.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace arrowquant {

struct QuantFormat {
  std::string_view name;  // the quant_type column value, e.g. "int4_asym"
  int bits;               // code width
  bool symmetric;         // no zero points; codes centred on 2^(bits-1)
  // How a row's codes are laid out (the packing column): "lsb_rows_v1", see src/format/pack.h.
  std::string_view layout = "lsb_rows_v1";
  int max_code() const { return (1 << bits) - 1; }
  int mid_code() const { return 1 << (bits - 1); }
};

// Every integer format: int2/int3/int4/int8, each affine and symmetric.
const std::vector<QuantFormat>& quant_formats();
// nullptr when no such format.
const QuantFormat* find_quant_format(std::string_view name);
const QuantFormat* find_quant_format(int bits, bool symmetric);
// Throws ValueError listing the known names.
const QuantFormat& quant_format_or_throw(std::string_view name);


// Geometry of a quantised 2-D view of a tensor: rows = product of leading dims, cols = last dim.
struct QuantGeometry {
  int64_t rows = 0, cols = 0;
  int64_t group_size = 0;  // effective: cols when the format is per output channel
  int64_t groups_per_row() const { return (cols + group_size - 1) / group_size; }
};
QuantGeometry quant_geometry(const std::vector<int64_t>& shape, int64_t requested_group_size);

// Bytes per stored tensor row and in total, for codes, scales and zero points.
size_t packed_row_bytes(int64_t cols, int bits);
size_t scale_bytes(const QuantGeometry& g);
size_t zero_point_bytes(const QuantGeometry& g, const QuantFormat& f);

}  // namespace arrowquant
