// The float products: right (against a double-precision loop), and the same bits whatever the
// thread count, including from two threads at once (what made concurrent Python jobs differ).
#include "kernels/blas.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

using namespace arrowquant;
using kernels::Transpose;

namespace {

std::vector<float> random_matrix(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> m(static_cast<size_t>(n));
  for (auto& v : m) v = d(rng);
  return m;
}

// op(A)[i, p] of a row-major matrix stored with leading dimension ld.
float at(const std::vector<float>& a, Transpose t, int64_t ld, int64_t i, int64_t p) {
  return t == Transpose::kYes ? a[size_t(p * ld + i)] : a[size_t(i * ld + p)];
}

struct Shape {
  int64_t m, n, k;
};

// Shapes on each path: one call, tiles of columns, tiles of rows (few columns), ragged last tiles.
const Shape kShapes[] = {{5, 7, 9}, {37, 700, 96}, {300, 40, 256}, {129, 193, 64}};

}  // namespace

TEST(Blas, GemmMatchesADoubleLoopForEveryTransposeAndPath) {
  for (const Shape& s : kShapes)
    for (Transpose ta : {Transpose::kNo, Transpose::kYes})
      for (Transpose tb : {Transpose::kNo, Transpose::kYes}) {
        const int64_t lda = ta == Transpose::kYes ? s.m : s.k, ldb = tb == Transpose::kYes ? s.k : s.n;
        const auto a = random_matrix(s.m * s.k, 1), b = random_matrix(s.k * s.n, 2);
        auto c = random_matrix(s.m * s.n, 3);
        const auto c0 = c;
        kernels::gemm(ta, tb, s.m, s.n, s.k, 0.5f, a.data(), lda, b.data(), ldb, 2.0f, c.data(), s.n, 2);
        for (int64_t i = 0; i < s.m; ++i)
          for (int64_t j = 0; j < s.n; ++j) {
            double want = 2.0 * c0[size_t(i * s.n + j)];
            for (int64_t p = 0; p < s.k; ++p) want += 0.5 * at(a, ta, lda, i, p) * at(b, tb, ldb, p, j);
            ASSERT_NEAR(c[size_t(i * s.n + j)], want, 1e-3 * std::sqrt(double(s.k)))
                << s.m << "x" << s.n << "x" << s.k << " at " << i << "," << j;
          }
      }
}

TEST(Blas, SameBitsAtAnyThreadCountAndFromTwoThreadsAtOnce) {
  for (const Shape& s : kShapes) {
    const auto a = random_matrix(s.m * s.k, 4), b = random_matrix(s.n * s.k, 5);
    auto product = [&](int threads) {
      std::vector<float> c(size_t(s.m * s.n));
      kernels::gemm(Transpose::kNo, Transpose::kYes, s.m, s.n, s.k, 1.0f, a.data(), s.k, b.data(), s.k, 0.0f, c.data(),
                    s.n, threads);
      return c;
    };
    const auto one = product(1);
    EXPECT_EQ(0, std::memcmp(one.data(), product(2).data(), one.size() * sizeof(float)));
    std::vector<float> left, right;  // the pool busy with one of them: the other runs on its caller
    std::thread t([&] { left = product(2); });
    right = product(2);
    t.join();
    EXPECT_EQ(0, std::memcmp(one.data(), left.data(), one.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(one.data(), right.data(), one.size() * sizeof(float)));
  }
}

TEST(Blas, GemvMatchesADoubleLoopWithBetaAndAnyThreadCount) {
  const int64_t m = 1000, k = 70;
  const auto a = random_matrix(m * k, 6), x = random_matrix(k, 7), y0 = random_matrix(m, 8);
  auto y1 = y0, y2 = y0;
  kernels::gemv(m, k, a.data(), k, x.data(), 1.0f, y1.data(), 1);
  kernels::gemv(m, k, a.data(), k, x.data(), 1.0f, y2.data(), 2);
  EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)));
  for (int64_t i = 0; i < m; ++i) {
    double want = y0[size_t(i)];
    for (int64_t p = 0; p < k; ++p) want += double(a[size_t(i * k + p)]) * x[size_t(p)];
    ASSERT_NEAR(y1[size_t(i)], want, 1e-3) << i;
  }
}

TEST(Blas, GramUpperTriangleIsAtA) {
  for (int64_t n : {5, 64, 200, 333}) {
    const int64_t k = 50;
    const auto a = random_matrix(k * n, 9);
    std::vector<float> c(size_t(n * n), 0.0f);
    kernels::gram_upper(n, k, a.data(), n, c.data(), n, 2);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i; j < n; ++j) {
        double want = 0;
        for (int64_t p = 0; p < k; ++p) want += double(a[size_t(p * n + i)]) * a[size_t(p * n + j)];
        ASSERT_NEAR(c[size_t(i * n + j)], want, 1e-3 * std::sqrt(double(k))) << n << ": " << i << "," << j;
      }
  }
}
