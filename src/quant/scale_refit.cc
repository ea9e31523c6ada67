#include "quant/scale_refit.h"

#include <lapacke.h>

#include <algorithm>
#include <cmath>

#include "kernels/blas.h"
#include "util/thread_pool.h"

namespace arrowquant {

namespace {

// Rows are handled in slabs of this many: one matrix product per slab instead of one per row.
constexpr int64_t kSlabRows = 32;

// The unit-scale level of every code of rows [r0, r0 + R), [R, cols].
void unit_levels(const GroupCodes& q, int64_t r0, int64_t R, float* out) {
  const int64_t C = q.cols, G = q.groups();
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c)
      out[r * C + c] = q.params[size_t((r0 + r) * G + c / q.group_size)].level(q.codes[size_t((r0 + r) * C + c)]);
}

// (w − ŵ)ᵀ·H·(w − ŵ) of R rows given their dequantised values wq [R, cols]; scratch d and dh [R, cols].
void slab_errors(const float* w, const float* wq, int64_t R, int64_t C, const std::vector<float>& H, float* d,
                 float* dh, double* err) {
  for (int64_t i = 0; i < R * C; ++i) d[i] = w[i] - wq[i];
  kernels::gemm(kernels::Transpose::kNo, kernels::Transpose::kNo, R, C, C, 1.0f, d, C, H.data(), C, 0.0f, dh, C);
  for (int64_t r = 0; r < R; ++r) {
    double e = 0;
    for (int64_t c = 0; c < C; ++c) e += double(d[r * C + c]) * dh[r * C + c];
    err[r] = std::max(0.0, e);
  }
}

void dequantise_slab(const GroupCodes& q, int64_t r0, int64_t R, const float* levels, float* out) {
  const int64_t C = q.cols, G = q.groups();
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c)
      out[r * C + c] = q.params[size_t((r0 + r) * G + c / q.group_size)].scale * levels[r * C + c];
}

}  // namespace

std::vector<double> row_output_errors(const float* w, const GroupCodes& q, const std::vector<float>& H, int threads) {
  const int64_t C = q.cols;
  std::vector<double> err(size_t(q.rows));
  parallel_for((q.rows + kSlabRows - 1) / kSlabRows, threads, [&](int64_t s0, int64_t s1) {
    std::vector<float> lv(size_t(kSlabRows * C)), wq(lv.size()), d(lv.size()), dh(lv.size());
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t r0 = s * kSlabRows, R = std::min(kSlabRows, q.rows - r0);
      unit_levels(q, r0, R, lv.data());
      dequantise_slab(q, r0, R, lv.data(), wq.data());
      slab_errors(w + r0 * C, wq.data(), R, C, H, d.data(), dh.data(), err.data() + r0);
    }
  });
  return err;
}

int64_t refit_group_scales(const float* w, const std::vector<float>& H, double ridge, GroupCodes& q,
                           std::vector<double>& err, int threads) {
  const int64_t C = q.cols, G = q.groups(), gs = q.group_size;
  std::vector<int64_t> improved_per_slab(size_t((q.rows + kSlabRows - 1) / kSlabRows), 0);
  parallel_for(int64_t(improved_per_slab.size()), threads, [&](int64_t s0, int64_t s1) {
    std::vector<float> L(size_t(kSlabRows * C)), WH(L.size()), Z(L.size()), wq(L.size()), d(L.size()), dh(L.size());
    std::vector<double> M(size_t(kSlabRows * G * G)), b(size_t(kSlabRows * G)), trial_err(static_cast<size_t>(kSlabRows));
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t r0 = s * kSlabRows, R = std::min(kSlabRows, q.rows - r0);
      const float* ws = w + r0 * C;
      unit_levels(q, r0, R, L.data());
      kernels::gemm(kernels::Transpose::kNo, kernels::Transpose::kNo, R, C, C, 1.0f, ws, C, H.data(), C, 0.0f,
                    WH.data(), C);
      // Column h of every row's LᵀHL: Z = L[:, group h]·H[group h, :], then summed over each group g.
      for (int64_t h = 0; h < G; ++h) {
        const int64_t c0 = h * gs, n = std::min(gs, C - c0);
        kernels::gemm(kernels::Transpose::kNo, kernels::Transpose::kNo, R, C, n, 1.0f, L.data() + c0, C,
                      H.data() + c0 * C, C, 0.0f, Z.data(), C);
        for (int64_t r = 0; r < R; ++r)
          for (int64_t g = 0; g < G; ++g) {
            double m = 0;
            for (int64_t c = g * gs, e = std::min(C, c + gs); c < e; ++c) m += double(L[size_t(r * C + c)]) * Z[size_t(r * C + c)];
            M[size_t((r * G + g) * G + h)] = m;
          }
      }
      for (int64_t r = 0; r < R; ++r) {
        double* Mr = M.data() + r * G * G;
        double* br = b.data() + r * G;
        for (int64_t g = 0; g < G; ++g) {
          double rhs = 0, ll = 0;
          for (int64_t c = g * gs, e = std::min(C, c + gs); c < e; ++c) {
            const double l = L[size_t(r * C + c)];
            rhs += l * (double(WH[size_t(r * C + c)]) + ridge * ws[r * C + c]);
            ll += l * l;
          }
          br[g] = rhs;
          Mr[g * G + g] += ridge * ll;
          // A group whose codes all sit at level 0 has no say in the row's output: keep its scale.
          if (ll == 0) {
            for (int64_t h = 0; h < G; ++h) Mr[g * G + h] = Mr[h * G + g] = 0;
            Mr[g * G + g] = 1;
            br[g] = q.params[size_t((r0 + r) * G + g)].scale;
          }
        }
      }
      // The refitted scales, rounded as stored; a row keeps them only where its error falls.
      std::vector<GroupParams> before(q.params.begin() + r0 * G, q.params.begin() + (r0 + R) * G);
      for (int64_t r = 0; r < R; ++r) {
        double* Mr = M.data() + r * G * G;
        double* br = b.data() + r * G;
        if (LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', lapack_int(G), 1, Mr, lapack_int(G), br, 1) != 0) continue;
        for (int64_t g = 0; g < G; ++g) {
          GroupParams& p = q.params[size_t((r0 + r) * G + g)];
          const double sc = br[g];
          if (!(sc > 0) || !std::isfinite(sc)) continue;
          const uint16_t h16 = f32_to_f16(float(sc));
          const float back = f16_to_f32(h16);
          if (!std::isfinite(back) || back <= 0) continue;
          p.scale_f16 = h16;
          p.scale = back;
        }
      }
      dequantise_slab(q, r0, R, L.data(), wq.data());
      slab_errors(ws, wq.data(), R, C, H, d.data(), dh.data(), trial_err.data());
      for (int64_t r = 0; r < R; ++r) {
        if (trial_err[size_t(r)] < err[size_t(r0 + r)]) {
          err[size_t(r0 + r)] = trial_err[size_t(r)];
          ++improved_per_slab[size_t(s)];
        } else {
          std::copy(before.begin() + r * G, before.begin() + (r + 1) * G, q.params.begin() + (r0 + r) * G);
        }
      }
    }
  });
  int64_t improved = 0;
  for (int64_t n : improved_per_slab) improved += n;
  return improved;
}

}  // namespace arrowquant
