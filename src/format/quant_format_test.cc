// The format table: lookups by name, width and symmetry; geometry of a tensor under a format.
#include "arrowquant/quant_format.h"

#include <gtest/gtest.h>

#include "arrowquant/error.h"

using namespace arrowquant;

TEST(QuantFormat, TableLookups) {
  EXPECT_EQ(quant_formats().size(), 18u);
  EXPECT_EQ(format_widths(), (std::vector<int>{2, 3, 4, 5, 6, 8}));
  EXPECT_EQ(find_quant_format(2, true, true)->name, "int2_half");
  EXPECT_EQ(find_quant_format(2, false, true)->name, "int2_half");  // half-offset is symmetric
  EXPECT_EQ(find_quant_format(2, true)->name, "int2_sym");
  EXPECT_EQ(find_quant_format("int4_half")->centre(), 7.5f);
  EXPECT_EQ(find_quant_format("int4_sym")->centre(), 8.0f);
  EXPECT_EQ(find_quant_format("int3_sym")->bits, 3);
  EXPECT_EQ(find_quant_format(2, false)->name, "int2_asym");
  EXPECT_EQ(find_quant_format(5, false)->name, "int5_asym");
  EXPECT_EQ(find_quant_format(6, true, true)->centre(), 31.5f);
  EXPECT_EQ(find_quant_format(7, false), nullptr);
  for (const auto& f : quant_formats()) EXPECT_EQ(f.straddles_bytes(), f.bits == 3 || f.bits == 5 || f.bits == 6) << f.name;
  EXPECT_THROW(quant_format_or_throw("nf5"), ValueError);
  QuantGeometry g = quant_geometry({3, 4, 200}, 64);
  EXPECT_EQ(g.rows, 12);
  EXPECT_EQ(g.groups_per_row(), 4);
  EXPECT_EQ(quant_geometry({10, 50}, 128).group_size, 50);  // a group never exceeds the row
}
