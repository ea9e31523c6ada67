#include "quant/gptq.h"

#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "arrowquant/error.h"
#include "format/pack.h"
#include "kernels/blas.h"
#include "util/thread_pool.h"
#include "quant/group_params.h"
#include "quant/input_space.h"
#include "quant/scale_refit.h"
#include "quant/weight_error.h"

namespace arrowquant {

namespace {

// Upper Cholesky factor of H⁻¹ (what GPTQ's updates read), after damping. Retries with ten times
// the damping while the factorisation fails. Returns the damping used.
double inverse_hessian_factor(std::vector<double> H, int64_t d, double damp, std::vector<float>& U) {
  double mean_diag = 0;
  for (int64_t i = 0; i < d; ++i) mean_diag += H[size_t(i * d + i)];
  mean_diag = std::max(mean_diag / double(d), 1e-12);  // of the matrix as modified for dead columns
  for (int attempt = 0; attempt < 6; ++attempt, damp *= 10) {
    std::vector<double> A(H);
    for (int64_t i = 0; i < d; ++i) A[size_t(i * d + i)] += damp * mean_diag;
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', lapack_int(d), A.data(), lapack_int(d)) != 0) continue;
    if (LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'U', lapack_int(d), A.data(), lapack_int(d)) != 0) continue;
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < i; ++j) A[size_t(i * d + j)] = 0;
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', lapack_int(d), A.data(), lapack_int(d)) != 0) continue;
    U.assign(size_t(d * d), 0.0f);
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = i; j < d; ++j) U[size_t(i * d + j)] = float(A[size_t(i * d + j)]);
    return damp;
  }
  throw ValueError("GPTQ: the calibration Hessian cannot be factorised even with damping " + std::to_string(damp));
}

// Rows are quantised in slabs of this many, independently (GPTQ never mixes rows). A fixed slab size
// keeps the floating-point order, and so the result, the same whatever the thread count.
constexpr int64_t kSlabRows = 32;

// The columns [i1, i2) of a slab's R rows in a lattice format: 8 columns at a time, each row's 8 weights
// quantised jointly to the nearest codebook point. The error of a vector S moves onto the later
// columns as OBS prescribes for fixing several columns at once: W[:, later] -= (W_S − Q_S)·U_SS⁻¹·U_S,later
// (U the upper Cholesky factor of H⁻¹; with one column this is GPTQ's own update). Err receives
// (W_S − Q_S)·U_SS⁻¹ for the lazy update of the columns after the block. Natural column order only:
// a vector is 8 neighbouring columns.
void lattice_block(float* W, int64_t R, int64_t C, int64_t i1, int64_t i2, int64_t B, const std::vector<float>& U,
                   int64_t gs, int64_t groups, bool static_groups, const GptqOptions& opt, GroupParams* params,
                   uint8_t* codes, float* Err) {
  constexpr int D = lattice::kDim;
  for (int64_t col = i1; col < i2; col += D) {
    const int64_t g = col / gs;
    for (int64_t r = 0; r < R; ++r) {
      float* wr = W + r * C;
      GroupParams& p = params[r * groups + g];
      if (!static_groups && col % gs == 0) p = choose_params(wr + col, nullptr, std::min(gs, C - col), *opt.format, opt.clip);
      uint8_t* q = codes + r * C + col;
      lattice_codes(wr + col, p, q);
      float e[D];
      for (int k = 0; k < D; ++k) {  // e·U_SS = w − q, by forward substitution (U_SS is upper triangular)
        double v = double(wr[col + k]) - double(p.scale) * double(int(q[k]) - 128);
        for (int m = 0; m < k; ++m) v -= double(e[m]) * U[size_t((col + m) * C + col + k)];
        e[k] = float(v / U[size_t((col + k) * C + col + k)]);
        Err[size_t(r * B + col - i1 + k)] = e[k];
      }
      for (int k = 0; k < D; ++k) {
        const float* urow = U.data() + (col + k) * C;
        for (int64_t j = col + D; j < i2; ++j) wr[j] -= e[k] * urow[j];
      }
    }
  }
}

// One GPTQ sweep over every row: out's codes and group parameters, in natural column order. With
// preset parameters (one per row and group) every group keeps them; else they are chosen as the
// options say (static groups from the weights as given, or each group from its weights as updated
// by everything quantised before it).
void gptq_pass(const std::vector<float>& target, const std::vector<float>& U, const std::vector<int64_t>& perm,
               const GptqOptions& opt, GroupCodes& out, const std::vector<GroupParams>* preset) {
  const QuantFormat& f = *opt.format;
  const int64_t rows = out.rows, C = out.cols, gs = out.group_size, groups = out.groups();
  out.codes.assign(size_t(rows * C), 0);
  out.params.assign(size_t(rows * groups), GroupParams{});
  const bool static_groups = preset || opt.static_groups || opt.act_order;
  int64_t B = std::max<int64_t>(1, opt.block_size);
  // Lazily updated columns are stale within a block; a group that starts mid-block must not read
  // columns past the block, so blocks and groups are kept aligned.
  if (!static_groups && gs < C && gs % B != 0 && B % gs != 0) B = gs;
  if (f.lattice()) B = (B + lattice::kDim - 1) / lattice::kDim * lattice::kDim;  // whole vectors per block
  const int64_t slabs = (rows + kSlabRows - 1) / kSlabRows;
  parallel_for(slabs, opt.threads, [&](int64_t s0, int64_t s1) {
    std::vector<float> W(size_t(kSlabRows * C)), Err(size_t(kSlabRows * B));
    for (int64_t slab = s0; slab < s1; ++slab) {
      const int64_t r0 = slab * kSlabRows, R = std::min(kSlabRows, rows - r0);
      GroupParams* params = out.params.data() + r0 * groups;
      uint8_t* codes = out.codes.data() + r0 * C;
      for (int64_t r = 0; r < R; ++r) {
        const float* row = target.data() + (r0 + r) * C;
        if (preset)
          std::copy_n(preset->begin() + (r0 + r) * groups, groups, params + r * groups);
        else if (static_groups)
          for (int64_t g = 0; g < groups; ++g) {
            const int64_t c0 = g * gs, n = std::min(gs, C - c0);
            params[r * groups + g] = choose_params(row + c0, nullptr, n, f, opt.clip);
          }
        for (int64_t c = 0; c < C; ++c) W[size_t(r * C + c)] = row[perm[size_t(c)]];
      }
      for (int64_t i1 = 0; i1 < C; i1 += B) {
        const int64_t i2 = std::min(i1 + B, C), cnt = i2 - i1;
        if (f.lattice()) {
          lattice_block(W.data(), R, C, i1, i2, B, U, gs, groups, static_groups, opt, params, codes, Err.data());
        } else
        for (int64_t i = 0; i < cnt; ++i) {
          const int64_t col = i1 + i, nat = perm[size_t(col)], g = nat / gs;
          const float* urow = U.data() + col * C;
          const float d = urow[col];
          for (int64_t r = 0; r < R; ++r) {
            float* wr = W.data() + r * C;
            GroupParams& p = params[r * groups + g];
            // Without activation order, columns are natural: a group's parameters come from its
            // weights as updated by everything quantised before it.
            if (!static_groups && nat % gs == 0) p = choose_params(wr + col, nullptr, std::min(gs, C - col), f, opt.clip);
            const float x = wr[col];
            const int code = code_of(x, p, f.max_code());
            codes[r * C + nat] = uint8_t(code);
            const float e = (x - dequant_value(code, p)) / d;
            Err[size_t(r * B + i)] = e;
            for (int64_t j = col + 1; j < i2; ++j) wr[j] -= e * urow[j];
          }
        }
        if (i2 < C)  // the lazy update of all later columns: W[:, i2:] -= Err · U[i1:i2, i2:]
          kernels::gemm(kernels::Transpose::kNo, kernels::Transpose::kNo, R, C - i2, cnt, -1.0f, Err.data(), B,
                        U.data() + i1 * C + i2, C, 1.0f, W.data() + i2, C);
      }
    }
  });
}

}  // namespace

GptqResult quantize_gptq(const FloatTensor& w, const Hessian& hess, const GptqOptions& opt) {
  if (!opt.format) throw ValueError("no quantisation format given for " + w.name);
  const QuantFormat& f = *opt.format;
  if (w.shape.size() != 2) throw ValueError("GPTQ needs a 2-D weight; " + w.name + " has shape " + shape_str(w.shape));
  const int64_t rows = w.shape[0], C = w.shape[1];
  if (hess.dim != C)
    throw ValueError("GPTQ: " + w.name + " has " + std::to_string(C) + " inputs but the Hessian is " +
                     std::to_string(hess.dim) + " wide");
  if (int64_t bad = first_nonfinite(w.values.data(), w.values.size()); bad >= 0)
    throw ValueError("tensor " + w.name + " has a non-finite value at flat index " + std::to_string(bad) +
                     "; refusing to quantise it");
  if (!opt.rotation.is_none()) {
    GptqOptions plain = opt;
    plain.rotation = {};
    GptqResult r = quantize_gptq(rotated_weight(w, opt.rotation), rotated_hessian(hess, opt.rotation), plain);
    r.tensor.rotation = opt.rotation;
    return r;
  }
  if (const std::string why = geometry_problem(f, C, quant_geometry(w.shape, opt.group_size).group_size); !why.empty())
    throw ValueError("tensor " + w.name + ": " + why);
  GptqResult res;
  QuantizedTensor& q = res.tensor;
  q.name = w.name;
  q.shape = w.shape;
  q.format = &f;
  q.geom = quant_geometry(w.shape, opt.group_size);
  const int64_t gs = q.geom.group_size, groups = q.geom.groups_per_row();

  std::vector<double> H = hess.symmetric();
  // The objective the refits judge rows by: the calibration inputs' own Hessian.
  const std::vector<float> H32 = opt.scale_refits > 0 ? std::vector<float>(H.begin(), H.end()) : std::vector<float>{};
  // Inputs never seen on the calibration data: their weights cannot matter there; quantise them as
  // zero and keep the Hessian invertible.
  std::vector<bool> dead(static_cast<size_t>(C), false);
  for (int64_t i = 0; i < C; ++i)
    if (H[size_t(i * C + i)] == 0) { dead[size_t(i)] = true; H[size_t(i * C + i)] = 1; ++res.dead_columns; }
  std::vector<float> target(w.values);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c)
      if (dead[size_t(c)]) target[size_t(r * C + c)] = 0;

  std::vector<int64_t> perm(static_cast<size_t>(C));
  std::iota(perm.begin(), perm.end(), 0);
  if (opt.act_order && !f.lattice())  // a lattice vector is 8 neighbouring columns: natural order only
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return H[size_t(a * C + a)] > H[size_t(b * C + b)]; });
  std::vector<double> Hp(size_t(C * C));
  for (int64_t i = 0; i < C; ++i)
    for (int64_t j = 0; j < C; ++j) Hp[size_t(i * C + j)] = H[size_t(perm[size_t(i)] * C + perm[size_t(j)])];
  std::vector<float> U;
  res.damp_used = inverse_hessian_factor(std::move(Hp), C, opt.damp, U);

  GroupCodes best{rows, C, gs, {}, {}};
  gptq_pass(target, U, perm, opt, best, nullptr);
  if (opt.scale_refits > 0) {
    // Alternate: scales refitted for the codes, then codes re-chosen by GPTQ for those scales; each
    // row keeps whichever was best under the (undamped) Hessian.
    const double ridge = opt.damp * hess.mean_diagonal();
    std::vector<double> err = row_output_errors(target.data(), best, H32, opt.threads);
    refit_group_scales(target.data(), H32, ridge, best, err, opt.threads);
    for (int round = 1; round < opt.scale_refits; ++round) {
      GroupCodes trial{rows, C, gs, {}, {}};
      gptq_pass(target, U, perm, opt, trial, &best.params);
      std::vector<double> trial_err = row_output_errors(target.data(), trial, H32, opt.threads);
      refit_group_scales(target.data(), H32, ridge, trial, trial_err, opt.threads);
      for (int64_t r = 0; r < rows; ++r)
        if (trial_err[size_t(r)] < err[size_t(r)]) {
          err[size_t(r)] = trial_err[size_t(r)];
          std::copy_n(trial.codes.begin() + r * C, C, best.codes.begin() + r * C);
          std::copy_n(trial.params.begin() + r * groups, groups, best.params.begin() + r * groups);
        }
    }
  }

  const size_t row_bytes = packed_row_bytes(C, f.bits);
  q.codes.assign(size_t(rows) * row_bytes, 0);
  q.scales.assign(scale_bytes(q.geom), 0);
  q.zero_points.assign(zero_point_bytes(q.geom, f), 0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const GroupParams& p = best.params[size_t(r * groups + g)];
      const size_t k = size_t(r * groups + g);
      std::memcpy(&q.scales[2 * k], &p.scale_f16, 2);
      if (!f.symmetric) q.zero_points[k] = uint8_t(p.zero);
    }
    pack_row(f, best.codes.data() + r * C, C, q.codes.data() + size_t(r) * row_bytes);
  }
  for (size_t k = 0; k < q.scales.size() / 2; ++k) {
    uint16_t s;
    std::memcpy(&s, &q.scales[2 * k], 2);
    if (std::isinf(f16_to_f32(s)))
      throw ValueError("tensor " + w.name + ": a group's scale overflows float16 (|w| too large)");
  }
  return res;
}

}  // namespace arrowquant
