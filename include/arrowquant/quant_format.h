// The format table: every weight format ArrowQuant stores, with every fact about it, in one place (in
// the spirit of ggml's type_traits). Everything that needs a format's width, code range, zero-point
// rule, sizes, layout or accepted group sizes looks it up here; the kernels have their own table keyed
// by the same FormatId (src/kernels/kernel_registry.cc, like ggml's type_traits_cpu).
//
// Codes are unsigned integers in [0, 2^bits - 1]. Dequantisation of code c in group g:
//   affine     w = scale[g] * (c - zero_point[g])      zero_point: uint8 in the code range
//   symmetric  w = scale[g] * (c - 2^(bits-1))         no zero points stored
//   half       w = scale[g] * (c - (2^bits - 1) / 2)   symmetric with no zero level: the levels sit
//              at ±0.5, ±1.5, ... scales (AngelSlim's SEQ grid at 2 bits: s·{±0.75, ±0.25} for s = 2·scale)
//   codebook   w = scale[g] * (levels[c] - 128)        non-uniform levels, fixed by the format: byte
//              levels in [1, 255], i.e. signed integers in [-127, 127] (NF4; Lloyd-Max levels for a
//              normal distribution). Integer levels make the int8-activation kernels exact: a byte
//              table look-up (pshufb) turns codes into levels, then the symmetric int8 kernel runs
//              with centre 128.
//   lattice    8 weights share one 16-bit code, a point of an 8-dimensional lattice codebook
//              (src/format/lattice_codebook.h); w = scale[g] * level, the levels odd integers in
//              [-11, 11]. Unpacked, each weight is its level + 128 (like a codebook's byte level).
//   float8     the code is an OCP 8-bit float (E4M3 or E5M2, src/util/fp8.h); w = scale[g] * value(c).
//              The values are not integers: these formats have f32-activation kernels only.
// Scales are IEEE float16. Layout of the packed codes: src/format/pack.h and docs/FORMAT.md.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace arrowquant {

// Index of a format in the table; the kernel table is keyed by it too.
enum class FormatId : uint8_t {
  Int8Asym, Int8Sym, Int4Asym, Int4Sym, Int3Asym, Int3Sym, Int2Asym, Int2Sym,
  Int8Half, Int4Half, Int3Half, Int2Half,
  Int6Asym, Int6Sym, Int5Asym, Int5Sym, Int6Half, Int5Half,
  Nf4, Gauss2, Gauss3, Gauss4,
  Lattice2,
  Fp8E4m3, Fp8E5m2
};

// How a code becomes a value. Uniform: the integer grid above. Codebook: a table of levels per format
// (the same for every tensor and group; the group's scale stretches it). Lattice: one code per 8
// weights (vector quantisation). Float8: the code is an 8-bit float.
enum class CodeGrid : uint8_t { Uniform, Codebook, Lattice, Float8 };

// The codebook families, as --codebook names them: nf (NormalFloat, QLoRA's NF4: normal quantiles,
// with an exact zero and ±1 at the ends), gauss (Lloyd-Max levels for a unit normal: the least
// squared error for Gaussian weights, what rotated weights are; no level at zero, like the half grid),
// lattice (8 weights per code from an E8 lattice codebook: 2 bits only), e4m3 and e5m2 (the OCP fp8
// values: 8 bits only).
enum class Codebook : uint8_t { None, NormalFloat, Gauss, Lattice, Fp8E4m3, Fp8E5m2 };

// Geometry of a quantised 2-D view of a tensor: rows = product of leading dims, cols = last dim.
struct QuantGeometry {
  int64_t rows = 0, cols = 0;
  int64_t group_size = 0;  // effective: cols when the format is per output channel
  int64_t groups_per_row() const { return (cols + group_size - 1) / group_size; }
};
// Throws ValueError for a scalar or a negative group size; group 0 (or one longer than the row)
// means one group per row.
QuantGeometry quant_geometry(const std::vector<int64_t>& shape, int64_t requested_group_size);

struct QuantFormat {
  FormatId id;
  std::string_view name;  // the quant_type column value, e.g. "int4_asym"
  int bits;               // code width
  bool symmetric;         // no zero points; codes centred on centre()
  bool half_offset = false;  // symmetric, centred between two codes: no level at zero
  CodeGrid grid = CodeGrid::Uniform;
  // How a row's codes are laid out (the packing column): "lsb_rows_v1", see src/format/pack.h.
  std::string_view layout = "lsb_rows_v1";
  // Codebook formats: the family, and the byte level of each code, ascending (2^bits entries in a
  // 16-byte aligned table, zero beyond them: what a byte-shuffle table look-up reads directly).
  Codebook family = Codebook::None;
  const uint8_t* levels = nullptr;
  // Float8 formats: the value of each of the 256 codes (NaN and infinities where the type has them),
  // and the largest finite one (what a group's largest weight maps to).
  const float* values = nullptr;
  float max_value = 0;

  constexpr bool codebook() const { return grid == CodeGrid::Codebook; }
  constexpr bool lattice() const { return grid == CodeGrid::Lattice; }
  constexpr bool float8() const { return grid == CodeGrid::Float8; }
  // Whether unpacked rows hold byte levels centred on 128 (codebooks, lattices) rather than codes.
  constexpr bool byte_levels() const { return grid == CodeGrid::Codebook || grid == CodeGrid::Lattice; }
  // Weights that share one code: 8 for a lattice, else 1.
  constexpr int vector_dim() const { return lattice() ? 8 : 1; }
  // What a code of a codebook or float8 format stands for, before the group's scale: a codebook's
  // signed integer level, a float8 code's value.
  float level_of(int code) const { return values ? values[code] : float(int(levels[code]) - 128); }
  // Codes replaced by their byte levels in place (codebook formats; nothing for uniform ones).
  void apply_levels(uint8_t* codes, int64_t n) const {
    if (codebook())
      for (int64_t i = 0; i < n; ++i) codes[i] = levels[codes[i]];
  }

  constexpr int codes() const { return 1 << bits; }
  // Codes that cross byte boundaries (3, 5, 6 bits): no in-register SIMD unpacking; the kernels
  // widen such rows to bytes first.
  bool straddles_bytes() const { return 8 % bits != 0; }
  // Rows whose unpacking needs more than shifts and masks (3, 5, 6 bits; lattice vectors): the int8
  // kernels widen them to bytes first.
  bool widened() const { return straddles_bytes() || lattice(); }
  int max_code() const { return (1 << bits) - 1; }
  int mid_code() const { return 1 << (bits - 1); }
  // The code value that stands for 0 in a symmetric format: 2^(bits-1), or 2^(bits-1) - 1/2 for
  // half-offset grids (what the kernels subtract); 128 for a codebook (subtracted from the byte level).
  float centre() const { return byte_levels() ? 128.0f : float(mid_code()) - (half_offset ? 0.5f : 0.0f); }
};

// The table, ordered by FormatId: int8/int4/int3/int2, each affine then symmetric, then their
// half-offset grids; then int6/int5 (added later, so appended: FormatId values never change), the
// same way.
const std::vector<QuantFormat>& quant_formats();
const QuantFormat& format_of(FormatId id);
// nullptr when no such format.
const QuantFormat* find_quant_format(std::string_view name);
// The uniform format of a width and grid (never a codebook).
const QuantFormat* find_quant_format(int bits, bool symmetric, bool half_offset = false);
// The codebook (or float8) format of a family and width; nullptr when the family has none at that width.
const QuantFormat* find_codebook_format(Codebook family, int bits);
// The code of a codebook format whose signed level is nearest to t (t = weight / scale), ties to
// the upper level; O(1): a table over half-integer cells (midpoints of integer levels are multiples of ½).
int nearest_codebook_code(const QuantFormat& f, float t);
// The float8 code nearest to t (t = weight / scale): round to nearest even, saturating at ±max_value;
// 0 for NaN.
int nearest_float8_code(const QuantFormat& f, float t);
// Empty when the format can store rows of `cols` weights in groups of `group_size` (a lattice needs
// both to be multiples of its 8-weight vectors); else why not.
std::string geometry_problem(const QuantFormat& f, int64_t cols, int64_t group_size);
// Throws ValueError listing the known names.
const QuantFormat& quant_format_or_throw(std::string_view name);

// The code widths the table holds, ascending ({2, 3, 4, 5, 6, 8}), and the same for messages
// ("2, 3, 4, 5, 6 or 8").
const std::vector<int>& format_widths();
std::string format_widths_text();
bool is_format_width(int bits);
// Group sizes the quantiser offers besides 0 (one group per output channel): 32, 64, 128, 256.
// Readers accept any positive group size; the kernels say which geometries they take.
const std::vector<int64_t>& quantiser_group_sizes();

// Bytes of one packed row (lsb_rows_v1: whole bytes per row), of a tensor's fp16 scales and of its
// uint8 zero points (none when symmetric).
size_t packed_row_bytes(int64_t cols, int bits);
size_t scale_bytes(const QuantGeometry& g);
size_t zero_point_bytes(const QuantGeometry& g, const QuantFormat& f);

}  // namespace arrowquant
