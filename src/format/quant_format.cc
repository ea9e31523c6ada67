#include "arrowquant/quant_format.h"

#include "arrowquant/error.h"

namespace arrowquant {

const std::vector<QuantFormat>& quant_formats() {
  static const std::vector<QuantFormat> kTable = {
      {"int8_asym", 8, false}, {"int8_sym", 8, true}, {"int4_asym", 4, false}, {"int4_sym", 4, true},
      {"int3_asym", 3, false}, {"int3_sym", 3, true}, {"int2_asym", 2, false}, {"int2_sym", 2, true},
  };
  return kTable;
}

const QuantFormat* find_quant_format(std::string_view name) {
  for (const auto& f : quant_formats())
    if (f.name == name) return &f;
  return nullptr;
}

const QuantFormat* find_quant_format(int bits, bool symmetric) {
  for (const auto& f : quant_formats())
    if (f.bits == bits && f.symmetric == symmetric) return &f;
  return nullptr;
}

const QuantFormat& quant_format_or_throw(std::string_view name) {
  if (auto* f = find_quant_format(name)) return *f;
  std::string known;
  for (const auto& f : quant_formats()) known += (known.empty() ? "" : ", ") + std::string(f.name);
  throw ValueError("unknown quantisation format \"" + std::string(name) + "\" (known: " + known + ")");
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
