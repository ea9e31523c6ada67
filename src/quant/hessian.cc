#include "quant/hessian.h"

#include <algorithm>
#include <cmath>

#include "arrowquant/error.h"
#include "kernels/blas.h"

namespace arrowquant {

void Hessian::add(const float* x, int64_t n) {
  constexpr int64_t kBatchRows = 4096;
  if (pending_.empty()) pending_.resize(size_t(kBatchRows * dim));
  while (n > 0) {
    const int64_t take = std::min(n, kBatchRows - pending_rows_);
    std::copy(x, x + take * dim, pending_.begin() + pending_rows_ * dim);
    pending_rows_ += take;
    x += take * dim;
    n -= take;
    tokens += take;
    if (pending_rows_ == kBatchRows) flush();
  }
}

void Hessian::flush() {
  if (h.empty()) h.assign(size_t(dim * dim), 0.0);
  f32_.clear();
  if (pending_rows_ == 0) return;
  // Single-precision rank-k update (fast), accumulated into double so that many batches do not
  // lose the small ones.
  std::vector<float> part(size_t(dim * dim), 0.0f);
  kernels::gram_upper(dim, pending_rows_, pending_.data(), dim, part.data(), dim);
  for (int64_t i = 0; i < dim; ++i)
    for (int64_t j = i; j < dim; ++j) h[size_t(i * dim + j)] += double(part[size_t(i * dim + j)]);
  pending_rows_ = 0;
}


std::vector<double> Hessian::symmetric() const {
  if (!ready()) throw Error("internal: the Hessian was used before flush()");
  std::vector<double> m(h);
  for (int64_t i = 0; i < dim; ++i)
    for (int64_t j = 0; j < i; ++j) m[size_t(i * dim + j)] = m[size_t(j * dim + i)];
  return m;
}

std::vector<float> Hessian::mean_square() const {
  std::vector<float> m(static_cast<size_t>(dim));
  for (int64_t c = 0; c < dim; ++c) m[size_t(c)] = tokens ? float(h[size_t(c * dim + c)] / double(tokens)) : 0.0f;
  return m;
}

const std::vector<float>& Hessian::symmetric_f32() const {
  if (f32_.empty()) {
    const std::vector<double> m = symmetric();
    f32_.assign(m.begin(), m.end());
  }
  return f32_;
}

double Hessian::mean_diagonal() const {
  double sum = 0;
  for (int64_t i = 0; i < dim; ++i) sum += h[size_t(i * dim + i)];
  return std::max(sum / double(std::max<int64_t>(dim, 1)), 1e-12);
}

void Hessian::rescale(const std::vector<float>& s) {
  for (int64_t i = 0; i < dim; ++i)
    for (int64_t j = 0; j < dim; ++j) h[size_t(i * dim + j)] /= double(s[size_t(i)]) * s[size_t(j)];
  f32_.clear();
}

OutputError output_error(const float* w, const float* w_hat, int64_t rows, int64_t cols, const Hessian& hess) {
  const std::vector<float>& H = hess.symmetric_f32();
  std::vector<float> WH(size_t(rows * cols)), QH(size_t(rows * cols));
  kernels::gemm(kernels::Transpose::kNo, kernels::Transpose::kNo, rows, cols, cols, 1.0f, w, cols, H.data(), cols,
                0.0f, WH.data(), cols);
  kernels::gemm(kernels::Transpose::kNo, kernels::Transpose::kNo, rows, cols, cols, 1.0f, w_hat, cols, H.data(), cols,
                0.0f, QH.data(), cols);
  double ww = 0, qq = 0, wq = 0;
  for (int64_t i = 0; i < rows * cols; ++i) {
    ww += double(WH[size_t(i)]) * w[i];
    qq += double(QH[size_t(i)]) * w_hat[i];
    wq += double(WH[size_t(i)]) * w_hat[i];
  }
  OutputError e;
  const double dd = std::max(0.0, ww - 2 * wq + qq);
  e.rel_mse = ww > 0 ? dd / ww : 0;
  e.cosine = (ww > 0 && qq > 0) ? wq / std::sqrt(ww * qq) : 1.0;
  return e;
}

}  // namespace arrowquant
