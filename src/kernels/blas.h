// Every float matrix product of the project goes through here, to OpenBLAS on one thread, cut into
// tiles that our own thread pool shares.
//
// Why not OpenBLAS's threads: its thread count is one process-wide setting, and sgemm rounds
// differently with each count (and with each shape: a product cut at another column differs in the
// last bits). Two jobs in one process (an encoder and a decoder under asyncio) used to change each
// other's count and so each other's results; two pools competing for two cores made work that our
// pool spreads several times slower. Here BLAS always runs on the calling thread, and the tiles
// depend on the shape alone: a product gives the same bits whatever the thread count, and whether
// the pool was free or the work ran on the caller.
#pragma once
#include <cstdint>

namespace arrowquant::kernels {

enum class Transpose { kNo, kYes };

// C[m, n] = alpha · op(A) · op(B) + beta · C, row-major: op(A) is [m, k] (A stored [m, k] with kNo,
// [k, m] with kYes), op(B) is [k, n] (B stored [k, n] with kNo, [n, k] with kYes). threads: 0 = all
// cores; a call inside a pool worker runs on that worker.
void gemm(Transpose ta, Transpose tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int threads = 0);

// y[m] = A[m, k] · x[k] + beta · y.
void gemv(int64_t m, int64_t k, const float* a, int64_t lda, const float* x, float beta, float* y, int threads = 0);

// C[n, n] = Aᵀ · A for A [k, n] (a Gram matrix: Hessians), about half the work of gemm: only the
// upper triangle (j ≥ i) is meant to be read; below it, C holds partial values.
void gram_upper(int64_t n, int64_t k, const float* a, int64_t lda, float* c, int64_t ldc, int threads = 0);

}  // namespace arrowquant::kernels
