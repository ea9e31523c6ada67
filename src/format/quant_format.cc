#include "arrowquant/quant_format.h"

#include <algorithm>

#include "arrowquant/error.h"

namespace arrowquant {

namespace {
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
};
constexpr bool ordered_by_id() {
  for (size_t i = 0; i < std::size(kTable); ++i)
    if (size_t(kTable[i].id) != i) return false;
  return true;
}
static_assert(ordered_by_id(), "the format table must be ordered by FormatId");
}  // namespace

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
    if (f.bits == bits && f.symmetric == symmetric && f.half_offset == half_offset) return &f;
  return nullptr;
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
