// The format table: lookups by name, width and symmetry; geometry of a tensor under a format.
#include "arrowquant/quant_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "arrowquant/error.h"

using namespace arrowquant;

TEST(QuantFormat, TableLookups) {
  EXPECT_EQ(quant_formats().size(), 23u);
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
  EXPECT_EQ(find_quant_format(4, true)->name, "int4_sym");  // never a codebook
  EXPECT_EQ(find_codebook_format(Codebook::NormalFloat, 4)->name, "nf4");
  EXPECT_EQ(find_codebook_format(Codebook::NormalFloat, 2), nullptr);
  EXPECT_EQ(find_codebook_format(Codebook::Gauss, 3)->name, "gauss3");
  EXPECT_EQ(find_codebook_format(Codebook::None, 4), nullptr);
  EXPECT_EQ(find_codebook_format(Codebook::Lattice, 2)->name, "lattice2");
  EXPECT_EQ(find_codebook_format(Codebook::Lattice, 3), nullptr);
  EXPECT_EQ(find_quant_format("lattice2")->centre(), 128.0f);
  EXPECT_EQ(find_quant_format("lattice2")->vector_dim(), 8);
  for (const auto& f : quant_formats()) EXPECT_EQ(f.straddles_bytes(), f.bits == 3 || f.bits == 5 || f.bits == 6) << f.name;
  EXPECT_THROW(quant_format_or_throw("nf5"), ValueError);
  QuantGeometry g = quant_geometry({3, 4, 200}, 64);
  EXPECT_EQ(g.rows, 12);
  EXPECT_EQ(g.groups_per_row(), 4);
  EXPECT_EQ(quant_geometry({10, 50}, 128).group_size, 50);  // a group never exceeds the row
}

// Codebooks: symmetric (no zero points), centre 128, levels ascending in [-127, 127] with ±127 at the
// ends (what the clip search assumes), and the O(1) nearest-level table equal to a brute-force
// search everywhere (ties, which fall on midpoints, to the upper level).
TEST(QuantFormat, CodebookLevelsAndNearestCode) {
  int codebooks = 0;
  for (const auto& f : quant_formats()) {
    if (!f.codebook()) {
      EXPECT_EQ(f.levels, nullptr) << f.name;
      continue;
    }
    ++codebooks;
    EXPECT_TRUE(f.symmetric) << f.name;
    EXPECT_EQ(f.centre(), 128.0f) << f.name;
    EXPECT_EQ(f.level_of(0), -127.0f) << f.name;
    EXPECT_EQ(f.level_of(f.max_code()), 127.0f) << f.name;
    // One 16-byte aligned table, zero past the codes: the kernels load it as a pshufb table directly.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(f.levels) % 16, 0u) << f.name;
    for (int c = f.codes(); c < 16; ++c) EXPECT_EQ(f.levels[c], 0) << f.name << " byte " << c;
    for (float t = -140.0f; t <= 140.0f; t += 0.03125f) {
      int best = 0;
      for (int c = 1; c < f.codes(); ++c)
        if (std::fabs(f.level_of(c) - t) <= std::fabs(f.level_of(best) - t)) best = c;
      ASSERT_EQ(nearest_codebook_code(f, t), best) << f.name << " at " << t;
    }
    EXPECT_EQ(nearest_codebook_code(f, std::nanf("")), 0) << f.name;
  }
  EXPECT_EQ(codebooks, 4);
  // NF4 keeps an exact zero; the Lloyd-Max levels have none (like the half-offset grid).
  EXPECT_EQ(find_quant_format("nf4")->level_of(7), 0.0f);
  EXPECT_EQ(find_quant_format("gauss2")->level_of(1), -38.0f);
}
