// The fp32-activation kernels against the scalar references: bit-exact dequantisation, fused products
// within float rounding, on every format, odd shapes, ragged groups, unaligned pointers and real
// weights straight from a mapped file, on every SIMD target compiled in.
#include "kernels/packed_f32.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "arrowquant/dtype.h"
#include "arrowquant/weight_loader.h"
#include "kernels/packed_i8.h"
#include "kernels/packed_test_cases.h"

using namespace arrowquant;
using aqtest::Case;
using aqtest::expect_products_close;
using aqtest::for_each_target;
using aqtest::make_case;

TEST(PackedF32, DequantizeIsBitExactOnEveryFormatShapeAndAlignment) {
  for_each_target([](const std::string& target) {
  SCOPED_TRACE(target);
  for (const auto& f : quant_formats())
    for (int64_t cols : {32, 64, 100, 172, 273})
      for (int64_t group : {32, 64, 128, 0}) {
        if (!aqtest::fits(f, cols, group)) continue;
        Case c = make_case(f, 7, cols, group, uint32_t(cols * 31 + group));
        for (size_t mis : {0, 1, 3}) {
          PackedView v = c.view(mis);
          std::vector<float> ref(size_t(7 * cols)), got(ref.size());
          dequantize_rows(v, 0, 7, ref.data());
          kernels::dequantize_f32(v, 0, 7, got.data());
          ASSERT_EQ(0, std::memcmp(ref.data(), got.data(), ref.size() * 4)) << f.name << " cols " << cols << " g " << group;
          std::vector<uint16_t> bf(ref.size());
          kernels::dequantize_bf16(v, 2, 7, bf.data());
          for (size_t i = 0; i < size_t(5 * cols); ++i)
            ASSERT_EQ(bf[i], f32_to_bf16(ref[size_t(2 * cols) + i])) << f.name << " " << i;
        }
      }
  });
}

TEST(PackedF32, FusedProductsMatchTheReference) {
  for_each_target([](const std::string& target) {
  SCOPED_TRACE(target);
  for (const auto& f : quant_formats())
    for (int64_t cols : {32, 96, 172, 300})
      for (int64_t group : {32, 128, 0})
        for (int64_t n : {1, 3, 8, 20}) {
          if (!aqtest::fits(f, cols, group)) continue;
          const int64_t rows = 19;
          Case c = make_case(f, rows, cols, group, uint32_t(cols + group + n));
          PackedView v = c.view(1);
          std::vector<float> x = aqtest::random_floats(size_t(n * cols), 99, 1.0f), y(size_t(n * rows));
          kernels::matmul_f32(v, x.data(), n, y.data(), rows, 2);
          expect_products_close(v, x, n, y, 2e-6, std::string(f.name) + " cols " + std::to_string(cols) + " g " +
                                                        std::to_string(group) + " n " + std::to_string(n));
        }
  });
}

TEST(PackedF32, RealWeightsStraightFromTheMappedFile) {
  aqtest::TempDir d;
  for (const char* flags : {"--bits 4 --group-size 128", "--bits 2 --group-size 64", "--bits 8 --group-size 32 --sym"}) {
    auto r = aqtest::run_cli("quantize " + aqtest::minilm_dir() + " -o " + (d / "m") + " -q --force " + flags);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto w = WeightLoader::open(d / "m");
    const StoredTensor& t = w->tensor("encoder.layer.3.output.dense.weight");
    PackedView v = w->packed(t, 0);
    ASSERT_TRUE(w->maps(v.codes));
    std::vector<float> ref(size_t(v.geom.rows * v.geom.cols)), got(ref.size());
    dequantize_rows(v, 0, v.geom.rows, ref.data());
    kernels::dequantize_f32(v, 0, v.geom.rows, got.data());
    EXPECT_EQ(ref, got) << flags;
    std::vector<float> x = aqtest::random_floats(size_t(2 * v.geom.cols), 3, 1.0f), y(size_t(2 * v.geom.rows));
    kernels::matmul_f32(v, x.data(), 2, y.data(), v.geom.rows, 2);
    expect_products_close(v, x, 2, y, 2e-6, flags);
    // int8 activations on the same mapped bytes: equal to their reference up to float rounding
    std::vector<float> yi(size_t(v.geom.rows)), ri(yi.size());
    kernels::matvec_i8(v, x.data(), yi.data(), 2);
    kernels::matvec_i8_reference(v, x.data(), ri.data());
    double scale = 0;
    for (float r : ri) scale = std::max(scale, double(std::fabs(r)));
    for (size_t i = 0; i < yi.size(); ++i) ASSERT_NEAR(yi[i], ri[i], 2e-5 * (scale + 1)) << flags << " row " << i;
  }
}
