// Randomised Hadamard input rotations: orthogonal for every order the table makes, undone exactly,
// products unchanged, blocks chosen as large as the row allows, bad descriptions refused.
#include "arrowquant/input_rotation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "arrowquant/error.h"

using namespace arrowquant;

namespace {

std::vector<float> random_rows(int64_t n, int64_t cols, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d;
  std::vector<float> x(size_t(n * cols));
  for (auto& v : x) v = d(g);
  return x;
}

}  // namespace

TEST(InputRotation, BlocksAreTheLargestHadamardOrderDividingTheRow) {
  EXPECT_EQ(hadamard_block_for(576), 576);    // 12² · 4: SmolLM2's hidden width in one block
  EXPECT_EQ(hadamard_block_for(1536), 1536);  // 12 · 128
  EXPECT_EQ(hadamard_block_for(384), 384);    // 12 · 32: MiniLM
  EXPECT_EQ(hadamard_block_for(896), 128);    // 7 · 128: no factor 12
  EXPECT_EQ(hadamard_block_for(4096), 4096);
  EXPECT_EQ(hadamard_block_for(7), 1);
  EXPECT_EQ(hadamard_rotation(64, 5).block, 64);
  EXPECT_EQ(hadamard_block_for(576, 64), 64);    // capped: powers of two only below 12
  EXPECT_EQ(hadamard_block_for(576, 200), 192);  // 12 · 16
  EXPECT_EQ(hadamard_block_for(1536, 1000), 768);  // 12 · 64
}

// R·Rᵀ = I: the rotated unit vectors are orthonormal, for power-of-two, 12·2^k and 144·2^k blocks,
// and for rows of several blocks.
TEST(InputRotation, IsOrthogonalForEveryKindOfBlock) {
  for (int64_t cols : {1, 8, 12, 24, 48, 144, 288, 96 * 3}) {
    const PreparedRotation r(hadamard_rotation(cols, 42), cols);
    std::vector<double> basis(size_t(cols * cols), 0.0);
    for (int64_t i = 0; i < cols; ++i) basis[size_t(i * cols + i)] = 1.0;
    r.rotate(basis.data(), cols);
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        double dot = 0;
        for (int64_t k = 0; k < cols; ++k) dot += basis[size_t(i * cols + k)] * basis[size_t(j * cols + k)];
        ASSERT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-12) << "cols " << cols << " i " << i << " j " << j;
      }
  }
  // Several blocks per row: 96 channels in blocks of 32.
  const InputRotation small{RotationKind::Hadamard, 32, 3};
  const PreparedRotation r(small, 96);
  auto x = random_rows(1, 96, 1);
  double before = 0, after = 0;
  for (float v : x) before += double(v) * v;
  r.rotate(x.data(), 1);
  for (float v : x) after += double(v) * v;
  EXPECT_NEAR(after, before, 1e-4 * before);
}

TEST(InputRotation, UnrotateUndoesRotateAndProductsAreUnchanged) {
  const int64_t cols = 576, rows = 5;
  const PreparedRotation r(hadamard_rotation(cols, 9), cols);
  const auto w = random_rows(rows, cols, 2), x = random_rows(1, cols, 3);
  auto w_rot = w, x_rot = x;
  r.rotate(w_rot.data(), rows);  // W' = W·Rᵀ, row by row
  r.rotate(x_rot.data(), 1);     // x' = R·x
  for (int64_t i = 0; i < rows; ++i) {
    double y = 0, y_rot = 0;
    for (int64_t k = 0; k < cols; ++k) {
      y += double(w[size_t(i * cols + k)]) * x[size_t(k)];
      y_rot += double(w_rot[size_t(i * cols + k)]) * x_rot[size_t(k)];
    }
    EXPECT_NEAR(y_rot, y, 1e-4);
  }
  auto back = w_rot;
  r.unrotate(back.data(), rows);
  for (size_t i = 0; i < w.size(); ++i) ASSERT_NEAR(back[i], w[i], 1e-5f);
  // The rotation really moves things (not the identity) and depends on the seed.
  auto other = w;
  PreparedRotation(hadamard_rotation(cols, 10), cols).rotate(other.data(), rows);
  EXPECT_GT(std::fabs(other[0] - w_rot[0]) + std::fabs(other[1] - w_rot[1]), 1e-3f);
}

// One outlier channel is spread over the whole block: the point of rotating.
TEST(InputRotation, SpreadsAnOutlierOverTheBlock) {
  const int64_t cols = 192;
  std::vector<float> x(size_t(cols), 0.0f);
  x[17] = 100.0f;
  PreparedRotation(hadamard_rotation(cols, 1), cols).rotate(x.data(), 1);
  for (float v : x) EXPECT_NEAR(std::fabs(v), 100.0f / std::sqrt(192.0f), 1e-3f);
}

TEST(InputRotation, RefusesBlocksThatAreNoHadamardOrderOrDoNotDivideTheRow) {
  EXPECT_NE(rotation_problem({RotationKind::Hadamard, 20, 0}, 40), "");   // 20 = 4·5
  EXPECT_NE(rotation_problem({RotationKind::Hadamard, 64, 0}, 96), "");   // does not divide
  EXPECT_NE(rotation_problem({RotationKind::Hadamard, 0, 0}, 96), "");
  EXPECT_NE(rotation_problem({RotationKind::Hadamard, 1728, 0}, 1728), "");  // 12³ is beyond the table
  EXPECT_EQ(rotation_problem({RotationKind::Hadamard, 32, 0}, 96), "");
  EXPECT_EQ(rotation_problem({}, 96), "");
  EXPECT_THROW(PreparedRotation({RotationKind::Hadamard, 20, 0}, 40), ValueError);
  RotationKind k;
  EXPECT_TRUE(rotation_kind_from_name("hadamard", k));
  EXPECT_EQ(k, RotationKind::Hadamard);
  EXPECT_FALSE(rotation_kind_from_name("givens", k));
}
