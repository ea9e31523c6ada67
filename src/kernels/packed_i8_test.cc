// The int8-activation kernels against their exact reference (the same quantised activations) and
// close to float activations, on every SIMD target; the geometries and inputs they refuse.
#include "kernels/packed_i8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "arrowquant/error.h"
#include "format/pack.h"
#include "kernels/packed_i8_hwy.h"
#include "kernels/packed_test_cases.h"

using namespace arrowquant;
using aqtest::Case;
using aqtest::expect_products_close;
using aqtest::for_each_target;
using aqtest::make_case;

namespace {
// Codes that straddle bytes and lattice vectors go through the widening kernel, the others through the
// direct one.
bool supported(const PackedView& v) {
  return v.format->widened() ? kernels::matvec_i8_widened_supported(v) : kernels::matvec_i8_supported(v);
}
void product(const PackedView& v, const float* x, float* y, int threads) {
  if (v.format->widened()) kernels::matvec_i8_widened(v, x, y, threads);
  else kernels::matvec_i8(v, x, y, threads);
}
}  // namespace

TEST(PackedI8, Int8ActivationsEqualTheirReferenceAndStayCloseToFloat) {
  for_each_target([](const std::string& target) {
  SCOPED_TRACE(target);
  for (const QuantFormat& f : quant_formats())
    for (int64_t cols : {64, 172, 256, 600, 1024})
      for (int64_t group : {32, 64, 96, 128, 256, 0}) {
        if (!aqtest::fits(f, cols, group)) continue;
        const std::string name(f.name);
        const int64_t rows = 37;  // more than two tiles of the widening kernel, and a ragged one
        Case c = make_case(f, rows, cols, group, uint32_t(5 + cols + group));
        for (size_t mis : {0, 3}) {
          PackedView v = c.view(mis);
          if (!supported(v)) {  // refused, never silently approximated
            std::vector<float> x(static_cast<size_t>(cols)), y(rows);
            EXPECT_THROW(product(v, x.data(), y.data(), 1), ValueError);
            continue;
          }
          const std::string what = name + " cols " + std::to_string(cols) + " g " + std::to_string(group);
          std::vector<float> x = aqtest::random_floats(size_t(cols), 7, 1.0f), y(rows), ref(rows), f32(rows);
          product(v, x.data(), y.data(), 2);
          kernels::matvec_i8_reference(v, x.data(), ref.data());
          kernels::matmul_f32_reference(v, x.data(), 1, f32.data());
          double num = 0, den = 0, scale = 0;
          for (int64_t r = 0; r < rows; ++r) scale = std::max(scale, double(std::fabs(ref[size_t(r)])));
          for (int64_t r = 0; r < rows; ++r) {
            // integer sums are exact; only the float epilogue (per-chunk FMA, final reduction) rounds
            EXPECT_NEAR(y[size_t(r)], ref[size_t(r)], 2e-5 * (scale + 1)) << what << " row " << r;
            num += (y[size_t(r)] - f32[size_t(r)]) * (y[size_t(r)] - f32[size_t(r)]);
            den += f32[size_t(r)] * f32[size_t(r)];
          }
          // int8 activations: ~1 % noise against fp32 (up to 1.08 % on these 37 rows of 64 columns in
          // one block); int2's outputs are smaller sums of coarser codes, so the same activation
          // noise reaches 1.2 %
          EXPECT_LE(std::sqrt(num / den), f.bits == 2 ? 0.015 : 0.012) << what;
        }
      }
  });
}

TEST(PackedI8, Int8ActivationsRefuseWhatTheyCannotDo) {
  std::vector<float> x(192, 1.0f), y(4);
  // Each kernel takes its own widths only.
  Case int3 = make_case(quant_format_or_throw("int3_asym"), 4, 64, 32, 1);
  EXPECT_THROW(kernels::matvec_i8(int3.view(0), x.data(), y.data(), 1), ValueError);
  Case int4 = make_case(quant_format_or_throw("int4_asym"), 4, 64, 32, 1);
  EXPECT_THROW(kernels::matvec_i8_widened(int4.view(0), x.data(), y.data(), 1), ValueError);
  Case int6g48 = make_case(quant_format_or_throw("int6_sym"), 4, 192, 48, 1);
  EXPECT_THROW(kernels::matvec_i8_widened(int6g48.view(0), x.data(), y.data(), 1), ValueError);
  Case g48 = make_case(quant_format_or_throw("int4_asym"), 4, 192, 48, 1);  // activation blocks are 32k
  EXPECT_THROW(kernels::matvec_i8(g48.view(0), x.data(), y.data(), 1), ValueError);
  Case ok = make_case(quant_format_or_throw("int4_asym"), 4, 192, 64, 1);
  x[5] = std::nanf("");
  EXPECT_THROW(kernels::matvec_i8(ok.view(0), x.data(), y.data(), 1), ValueError);
}

// The SIMD widening of codes equals the scalar unpacking (doubled on half-offset grids, mapped to
// byte levels for codebooks) at every length (vector steps, the tail a 16-byte load would overrun)
// and alignment, for every format, on every target.
TEST(PackedI8, WidenedCodesEqualTheScalarUnpacking) {
  for_each_target([](const std::string& target) {
    SCOPED_TRACE(target);
    std::mt19937 rng(11);
    for (const QuantFormat& f : quant_formats())
      for (int64_t cols : {1, 15, 16, 17, 31, 32, 33, 47, 64, 100, 172, 576, 1536}) {
        const size_t n = static_cast<size_t>(cols);
        std::vector<uint8_t> codes(n), packed(packed_row_bytes(cols, f.bits) + 1), a(n);
        if (f.lattice()) {  // any 16-bit codes: the widening is the lattice decoder's unpacking
          if (cols % 8) continue;
          for (auto& b : packed) b = uint8_t(rng());
          unpack_row(f, packed.data() + 1, cols, codes.data());
          kernels::simd::widen_codes(packed.data() + 1, cols, f, a.data());
          EXPECT_EQ(a, codes) << f.name << ", " << cols << " cols";
          continue;
        }
        for (auto& c : codes) c = uint8_t(rng() & uint32_t(f.max_code()));
        pack_row(codes.data(), cols, f.bits, packed.data() + 1);  // at an odd address
        kernels::simd::widen_codes(packed.data() + 1, cols, f, a.data());
        for (auto& c : codes) c = uint8_t(f.half_offset ? 2 * c : c);
        f.apply_levels(codes.data(), cols);
        EXPECT_EQ(a, codes) << f.name << ", " << cols << " cols";
      }
  });
}

// lattice2 decoded in registers equals its exact reference on any 16-bit codes (every one is a valid
// code), at every alignment and in every geometry it takes, including rows that end inside a 32-code
// step; the CPUs and geometries it does not take are refused. Where the CPU has the instructions, the
// test insists that the kernel ran.
TEST(PackedI8, LatticeDecodedInRegistersEqualsTheReference) {
  const QuantFormat& f = format_of(FormatId::Lattice2);
  int ran_in_registers = 0;
  for_each_target([&](const std::string& target) {
    SCOPED_TRACE(target);
    std::mt19937 rng(3);
    for (int64_t cols : {64, 72, 256, 576, 600, 1024})
      for (int64_t group : {16, 32, 64, 96, 128, 256, 512, 0}) {
        if (!aqtest::fits(f, cols, group) || (group > cols)) continue;
        const int64_t rows = 37;
        Case c = make_case(f, rows, cols, group, uint32_t(cols + group));
        for (auto& b : c.q.codes) b = uint8_t(rng());
        const std::string what = "cols " + std::to_string(cols) + " g " + std::to_string(group);
        for (size_t mis : {0, 3}) {
          PackedView v = c.view(mis);
          std::vector<float> x = aqtest::random_floats(size_t(cols), uint32_t(cols), 1.0f), y(rows), ref(rows);
          if (!kernels::matvec_i8_lattice_supported(v)) {
            EXPECT_THROW(kernels::matvec_i8_lattice(v, x.data(), y.data(), 1), ValueError) << what;
            continue;
          }
          ++ran_in_registers;
          kernels::matvec_i8_lattice(v, x.data(), y.data(), 2);
          kernels::matvec_i8_reference(v, x.data(), ref.data());
          double scale = 0;
          for (float r : ref) scale = std::max(scale, double(std::fabs(r)));
          for (int64_t r = 0; r < rows; ++r) EXPECT_NEAR(y[size_t(r)], ref[size_t(r)], 2e-5 * (scale + 1)) << what << " row " << r;
        }
      }
  });
  if (hwy::SupportedTargets() & HWY_AVX3_DL) EXPECT_GT(ran_in_registers, 40);
}

// 3-, 5- and 6-bit codes cut out of their bytes in registers equal their exact reference, in every
// grid (affine, symmetric, half-offset, gauss3), at every alignment, on rows that end inside a 64-code
// step and in every geometry the kernel takes; the CPUs and geometries it does not take are refused.
// Where the CPU has the instructions, the test insists that the kernel ran.
TEST(PackedI8, StraddlingCodesCutInRegistersEqualTheReference) {
  int ran_in_registers = 0;
  for_each_target([&](const std::string& target) {
    SCOPED_TRACE(target);
    for (const QuantFormat& f : quant_formats()) {
      if (!f.straddles_bytes()) continue;
      for (int64_t cols : {64, 100, 172, 576, 600})
        for (int64_t group : {32, 64, 96, 128, 0}) {
          if (group > cols) continue;
          const int64_t rows = 37;
          Case c = make_case(f, rows, cols, group, uint32_t(11 + cols + group));
          const std::string what = std::string(f.name) + " cols " + std::to_string(cols) + " g " + std::to_string(group);
          for (size_t mis : {0, 5}) {
            PackedView v = c.view(mis);
            std::vector<float> x = aqtest::random_floats(size_t(cols), uint32_t(cols + 1), 1.0f), y(rows), ref(rows);
            if (!kernels::matvec_i8_straddle_supported(v)) {
              EXPECT_THROW(kernels::matvec_i8_straddle(v, x.data(), y.data(), 1), ValueError) << what;
              continue;
            }
            ++ran_in_registers;
            kernels::matvec_i8_straddle(v, x.data(), y.data(), 2);
            kernels::matvec_i8_reference(v, x.data(), ref.data());
            double scale = 0;
            for (float r : ref) scale = std::max(scale, double(std::fabs(r)));
            for (int64_t r = 0; r < rows; ++r)
              EXPECT_NEAR(y[size_t(r)], ref[size_t(r)], 2e-5 * (scale + 1)) << what << " row " << r;
          }
        }
    }
  });
  if (hwy::SupportedTargets() & HWY_AVX3_DL) EXPECT_GT(ran_in_registers, 100);
}
