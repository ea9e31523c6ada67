#include "kernels/blas.h"

#include <cblas.h>

#include <algorithm>

#include "util/thread_pool.h"

namespace arrowquant::kernels {

namespace {

// Tiles of C, in rows or columns; small enough that two cores get several each, large enough that
// OpenBLAS's packing of the other operand per tile stays a few per cent of the product.
constexpr int64_t kTile = 64;
// Below this many multiply-adds a product is one call: the pool's hand-off would cost more.
constexpr int64_t kSmallProduct = int64_t(1) << 18;

// OpenBLAS on the calling thread, set once before the first product. Nothing else in the project
// changes the setting (OPENBLAS_NUM_THREADS is overridden on purpose: see blas.h).
void one_blas_thread() {
  static const bool once = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)once;
}

CBLAS_TRANSPOSE cblas(Transpose t) { return t == Transpose::kYes ? CblasTrans : CblasNoTrans; }

void call_sgemm(Transpose ta, Transpose tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, cblas(ta), cblas(tb), blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b,
              blasint(ldb), beta, c, blasint(ldc));
}

int64_t tiles_of(int64_t extent) { return (extent + kTile - 1) / kTile; }

}  // namespace

void gemm(Transpose ta, Transpose tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int threads) {
  one_blas_thread();
  if (m <= 0 || n <= 0) return;
  if (m * n * k < kSmallProduct || (m < 2 * kTile && n < 2 * kTile)) {
    call_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  if (n >= 2 * kTile) {  // tiles of C's columns: op(B)'s columns j0.. and C's
    parallel_for(tiles_of(n), threads, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t j0 = t * kTile, w = std::min(kTile, n - j0);
        const float* bj = tb == Transpose::kYes ? b + j0 * ldb : b + j0;
        call_sgemm(ta, tb, m, w, k, alpha, a, lda, bj, ldb, beta, c + j0, ldc);
      }
    });
    return;
  }
  parallel_for(tiles_of(m), threads, [&](int64_t t0, int64_t t1) {  // tiles of C's rows
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t i0 = t * kTile, h = std::min(kTile, m - i0);
      const float* ai = ta == Transpose::kYes ? a + i0 : a + i0 * lda;
      call_sgemm(ta, tb, h, n, k, alpha, ai, lda, b, ldb, beta, c + i0 * ldc, ldc);
    }
  });
}

void gemv(int64_t m, int64_t k, const float* a, int64_t lda, const float* x, float beta, float* y, int threads) {
  one_blas_thread();
  if (m <= 0) return;
  auto rows = [&](int64_t i0, int64_t h) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(h), blasint(k), 1.0f, a + i0 * lda, blasint(lda), x, 1, beta,
                y + i0, 1);
  };
  if (m * k < kSmallProduct || m < 2 * kTile) {
    rows(0, m);
    return;
  }
  parallel_for(tiles_of(m), threads, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) rows(t * kTile, std::min(kTile, m - t * kTile));
  });
}

void gram_upper(int64_t n, int64_t k, const float* a, int64_t lda, float* c, int64_t ldc, int threads) {
  one_blas_thread();
  if (n <= 0) return;
  // Band i0.. of C's rows from column i0 on: C[i0:i1, i0:n] = A[:, i0:i1]ᵀ · A[:, i0:n]. Bands
  // shrink down the matrix, so each unit of work pairs band u with band (last − u): equal shares.
  const int64_t bands = tiles_of(n);
  auto band = [&](int64_t u) {
    const int64_t i0 = u * kTile, h = std::min(kTile, n - i0);
    call_sgemm(Transpose::kYes, Transpose::kNo, h, n - i0, k, 1.0f, a + i0, lda, a + i0, lda, 0.0f, c + i0 * ldc + i0,
               ldc);
  };
  parallel_for((bands + 1) / 2, threads, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      band(u);
      if (bands - 1 - u != u) band(bands - 1 - u);
    }
  });
}

}  // namespace arrowquant::kernels
