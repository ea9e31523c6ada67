// The format table: lookups by name, width and symmetry; geometry of a tensor under a format.
#include "arrowquant/quant_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "arrowquant/error.h"
#include "util/fp8.h"

using namespace arrowquant;

TEST(QuantFormat, TableLookups) {
  EXPECT_EQ(quant_formats().size(), 25u);
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
  EXPECT_EQ(find_codebook_format(Codebook::Fp8E4m3, 8)->name, "fp8_e4m3");
  EXPECT_EQ(find_codebook_format(Codebook::Fp8E5m2, 8)->name, "fp8_e5m2");
  EXPECT_EQ(find_codebook_format(Codebook::Fp8E4m3, 4), nullptr);
  EXPECT_EQ(find_quant_format(8, true)->name, "int8_sym");  // never a float8 format
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

// Float8 formats: symmetric, 8-bit, no byte levels; their value table equals util/fp8.h's conversion
// on every code (NaN where it is NaN), the largest finite value is max_value, and the nearest code is
// the conversion's, NaN going to 0.
TEST(QuantFormat, Float8ValuesAndNearestCode) {
  int n = 0;
  for (const auto& f : quant_formats()) {
    if (!f.float8()) continue;
    ++n;
    const bool e4m3 = f.family == Codebook::Fp8E4m3;
    EXPECT_TRUE(f.symmetric && !f.byte_levels() && f.bits == 8) << f.name;
    float largest = 0;
    for (int c = 0; c < 256; ++c) {
      const float want = e4m3 ? fp8_e4m3_to_float(uint8_t(c)) : fp8_e5m2_to_float(uint8_t(c));
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(f.level_of(c))) << f.name << " " << c;
        continue;
      }
      EXPECT_EQ(f.level_of(c), want) << f.name << " " << c;
      if (std::isfinite(want)) largest = std::max(largest, want);
    }
    EXPECT_EQ(largest, f.max_value) << f.name;
    for (float t : {0.0f, 0.3f, -1.7f, 100.0f, 1e9f, -1e9f})
      EXPECT_EQ(nearest_float8_code(f, t), e4m3 ? fp8_e4m3_from_float(t) : fp8_e5m2_from_float(t)) << f.name << " " << t;
    EXPECT_EQ(nearest_float8_code(f, std::nanf("")), 0) << f.name;
  }
  EXPECT_EQ(n, 2);
}
