#include "arrowquant/quant_format.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "arrowquant/error.h"
#include "util/fp8.h"

namespace arrowquant {

namespace {
// Codebook levels as bytes (signed level + 128), ascending. NF4: QLoRA's NormalFloat values × 127,
// rounded. gauss: the Lloyd-Max levels of a unit normal (2 bits ±0.4528, ±1.5104; 3 bits ±0.2451 …
// ±2.1519; 4 bits ±0.1284 … ±2.7326), outermost at ±127, rounded (scripts/codebook_levels.py).
// Each table is 16 aligned bytes, zero past its codes: exactly one pshufb table, loaded as it is.
alignas(16) constexpr uint8_t kNf4[16] = {1, 40, 61, 78, 92, 105, 116, 128, 138, 148, 159, 171, 184, 199, 220, 255};
alignas(16) constexpr uint8_t kGauss2[16] = {1, 90, 166, 255};
alignas(16) constexpr uint8_t kGauss3[16] = {1, 49, 83, 114, 142, 173, 207, 255};
alignas(16) constexpr uint8_t kGauss4[16] = {1, 32, 53, 70, 84, 97, 110, 122, 134, 146, 159, 172, 186, 203, 224, 255};
constexpr QuantFormat codebook(FormatId id, std::string_view name, int bits, Codebook family, const uint8_t* levels) {
  return {id, name, bits, true, false, CodeGrid::Codebook, "lsb_rows_v1", family, levels};
}

// The 256 values of an OCP fp8 type with M mantissa bits and exponent bias B (IEEE: the top exponent
// holds infinities and NaNs, E5M2; else only its all-ones code is NaN, E4M3), computed at compile
// time so that the table is ready before any static initialiser asks for a format. util/fp8.h has
// the conversions; the format test checks that both agree on every code.
template <int M, int B, bool IEEE>
constexpr std::array<float, 256> fp8_values() {
  std::array<float, 256> v{};
  for (int c = 0; c < 256; ++c) {
    const int exp = (c & 0x7F) >> M, mant = c & ((1 << M) - 1), top = 0x7F >> M;
    float x;
    if (IEEE && exp == top) x = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
    else if (!IEEE && (c & 0x7F) == 0x7F) x = std::numeric_limits<float>::quiet_NaN();
    else {
      float m = exp == 0 ? float(mant) / float(1 << M) : 1.0f + float(mant) / float(1 << M);
      for (int e = exp == 0 ? 1 - B : exp - B; e > 0; --e) m *= 2;
      for (int e = exp == 0 ? 1 - B : exp - B; e < 0; ++e) m /= 2;
      x = m;
    }
    v[size_t(c)] = (c & 0x80) ? -x : x;
  }
  return v;
}
alignas(64) constexpr std::array<float, 256> kE4m3 = fp8_values<3, 7, false>();
alignas(64) constexpr std::array<float, 256> kE5m2 = fp8_values<2, 15, true>();
constexpr QuantFormat float8(FormatId id, std::string_view name, Codebook family, const float* values, float max) {
  return {id, name, 8, true, false, CodeGrid::Float8, "lsb_rows_v1", family, nullptr, values, max};
}

// Ordered by FormatId (checked below).
constexpr QuantFormat kTable[] = {
    {FormatId::Int8Asym, "int8_asym", 8, false}, {FormatId::Int8Sym, "int8_sym", 8, true},
    {FormatId::Int4Asym, "int4_asym", 4, false}, {FormatId::Int4Sym, "int4_sym", 4, true},
    {FormatId::Int3Asym, "int3_asym", 3, false}, {FormatId::Int3Sym, "int3_sym", 3, true},
    {FormatId::Int2Asym, "int2_asym", 2, false}, {FormatId::Int2Sym, "int2_sym", 2, true},
    {FormatId::Int8Half, "int8_half", 8, true, true},  {FormatId::Int4Half, "int4_half", 4, true, true},
    {FormatId::Int3Half, "int3_half", 3, true, true},  {FormatId::Int2Half, "int2_half", 2, true, true},
    {FormatId::Int6Asym, "int6_asym", 6, false}, {FormatId::Int6Sym, "int6_sym", 6, true},
    {FormatId::Int5Asym, "int5_asym", 5, false}, {FormatId::Int5Sym, "int5_sym", 5, true},
    {FormatId::Int6Half, "int6_half", 6, true, true},  {FormatId::Int5Half, "int5_half", 5, true, true},
    codebook(FormatId::Nf4, "nf4", 4, Codebook::NormalFloat, kNf4),
    codebook(FormatId::Gauss2, "gauss2", 2, Codebook::Gauss, kGauss2),
    codebook(FormatId::Gauss3, "gauss3", 3, Codebook::Gauss, kGauss3),
    codebook(FormatId::Gauss4, "gauss4", 4, Codebook::Gauss, kGauss4),
    {FormatId::Lattice2, "lattice2", 2, true, false, CodeGrid::Lattice, "lattice8_v1", Codebook::Lattice, nullptr},
    float8(FormatId::Fp8E4m3, "fp8_e4m3", Codebook::Fp8E4m3, kE4m3.data(), 448.0f),
    float8(FormatId::Fp8E5m2, "fp8_e5m2", Codebook::Fp8E5m2, kE5m2.data(), 57344.0f),
};
constexpr bool ordered_by_id() {
  for (size_t i = 0; i < std::size(kTable); ++i)
    if (size_t(kTable[i].id) != i) return false;
  return true;
}
static_assert(ordered_by_id(), "the format table must be ordered by FormatId");
constexpr bool codebooks_ascending() {
  for (const auto& f : kTable) {
    if (f.codebook() != (f.levels != nullptr) || f.float8() != (f.values != nullptr) ||
        (f.byte_levels() || f.float8()) != (f.family != Codebook::None))
      return false;
    for (int c = 0; f.codebook() && c + 1 < f.codes(); ++c)
      if (f.levels[c] >= f.levels[c + 1] || f.levels[c] == 0) return false;
  }
  return true;
}
static_assert(codebooks_ascending(), "codebook levels must be ascending bytes in [1, 255]");

// Half-integer cells of t in [-128, 128): cell j = floor(2t) + 256.
constexpr int kCells = 512;
}  // namespace

int nearest_codebook_code(const QuantFormat& f, float t) {
  static const std::vector<std::vector<uint8_t>> tables = [] {
    std::vector<std::vector<uint8_t>> all(std::size(kTable));
    for (const auto& q : kTable) {
      if (!q.codebook()) continue;
      auto& cell = all[size_t(q.id)];
      cell.resize(kCells);
      for (int j = 0; j < kCells; ++j) {
        const float mid = (float(j - 256) + 0.5f) / 2;  // a cell's centre: no midpoint lies inside a cell
        int best = 0;
        for (int c = 1; c < q.codes(); ++c)
          if (std::fabs(q.level_of(c) - mid) <= std::fabs(q.level_of(best) - mid)) best = c;
        cell[size_t(j)] = uint8_t(best);
      }
    }
    return all;
  }();
  if (!(t == t)) return 0;
  const float j = std::floor(2 * std::clamp(t, -128.0f, 127.75f)) + 256;
  return tables[size_t(f.id)][size_t(j)];
}

const QuantFormat* find_codebook_format(Codebook family, int bits) {
  for (const auto& f : quant_formats())
    if (f.family != Codebook::None && f.family == family && f.bits == bits) return &f;
  return nullptr;
}

int nearest_float8_code(const QuantFormat& f, float t) {
  if (!(t == t)) return 0;
  return f.family == Codebook::Fp8E4m3 ? fp8_e4m3_from_float(t) : fp8_e5m2_from_float(t);
}

const std::vector<QuantFormat>& quant_formats() {
  static const std::vector<QuantFormat> table(std::begin(kTable), std::end(kTable));
  return table;
}
const QuantFormat& format_of(FormatId id) { return quant_formats()[size_t(id)]; }

const QuantFormat* find_quant_format(std::string_view name) {
  for (const auto& f : quant_formats())
    if (f.name == name) return &f;
  return nullptr;
}

const QuantFormat* find_quant_format(int bits, bool symmetric, bool half_offset) {
  symmetric |= half_offset;
  for (const auto& f : quant_formats())
    if (f.grid == CodeGrid::Uniform && f.bits == bits && f.symmetric == symmetric && f.half_offset == half_offset)
      return &f;
  return nullptr;
}

std::string geometry_problem(const QuantFormat& f, int64_t cols, int64_t group_size) {
  const int d = f.vector_dim();
  if (d == 1 || (cols % d == 0 && (group_size >= cols || group_size % d == 0))) return {};
  return std::string(f.name) + " stores " + std::to_string(d) + " weights per code: rows of " + std::to_string(cols) +
         " weights in groups of " + std::to_string(group_size) + " are not whole vectors (both must be multiples of " +
         std::to_string(d) + ")";
}

const QuantFormat& quant_format_or_throw(std::string_view name) {
  if (auto* f = find_quant_format(name)) return *f;
  std::string known;
  for (const auto& f : kTable) known += (known.empty() ? "" : ", ") + std::string(f.name);
  throw ValueError("unknown quantisation format \"" + std::string(name) + "\" (known: " + known + ")");
}

const std::vector<int>& format_widths() {
  static const std::vector<int> widths = [] {
    std::vector<int> w;
    for (const auto& f : kTable)
      if (std::find(w.begin(), w.end(), f.bits) == w.end()) w.push_back(f.bits);
    std::sort(w.begin(), w.end());
    return w;
  }();
  return widths;
}

std::string format_widths_text() {
  const auto& w = format_widths();
  std::string s;
  for (size_t i = 0; i < w.size(); ++i) s += (i == 0 ? "" : i + 1 == w.size() ? " or " : ", ") + std::to_string(w[i]);
  return s;
}

bool is_format_width(int bits) {
  const auto& w = format_widths();
  return std::find(w.begin(), w.end(), bits) != w.end();
}

const std::vector<int64_t>& quantiser_group_sizes() {
  static const std::vector<int64_t> sizes = {32, 64, 128, 256};
  return sizes;
}

QuantGeometry quant_geometry(const std::vector<int64_t>& shape, int64_t requested_group_size) {
  QuantGeometry g;
  if (shape.empty()) throw ValueError("cannot quantise a scalar");
  g.cols = shape.back();
  g.rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) g.rows *= shape[i];
  if (requested_group_size < 0) throw ValueError("group size must be >= 0");
  g.group_size = (requested_group_size == 0 || requested_group_size > g.cols) ? g.cols : requested_group_size;
  if (g.group_size == 0) g.group_size = 1;  // empty rows: avoid dividing by zero
  return g;
}

size_t packed_row_bytes(int64_t cols, int bits) { return size_t((cols * bits + 7) / 8); }
size_t scale_bytes(const QuantGeometry& g) { return size_t(g.rows * g.groups_per_row()) * 2; }
size_t zero_point_bytes(const QuantGeometry& g, const QuantFormat& f) {
  return f.symmetric ? 0 : size_t(g.rows * g.groups_per_row());
}

}  // namespace arrowquant
