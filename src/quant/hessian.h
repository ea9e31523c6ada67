// The Hessian of a Linear layer's reconstruction error, Σ xᵀx over its calibration inputs, and the
// output error it predicts for a changed weight: what GPTQ minimises and what calibration,
// sensitivity analysis and AWQ's scale search measure.
#pragma once
#include <cstdint>
#include <vector>

namespace arrowquant {

// The symmetric matrix Σ xᵀx over the calibration tokens, [cols, cols] row-major, in double.
struct Hessian {
  int64_t dim = 0;
  int64_t tokens = 0;
  std::vector<double> h;  // upper triangle filled; read after flush()
  // Adds the outer products of n input rows x[n, dim]. Rows are buffered and folded in by large
  // rank-k updates (calibration feeds short sequences; one update per sequence was 10x slower).
  void add(const float* x, int64_t n);
  void flush();
  bool ready() const { return pending_rows_ == 0 && int64_t(h.size()) == dim * dim; }
  // The full symmetric matrix (double, and a float copy made once for the output-error products,
  // which AWQ's search evaluates many times), and the mean of its diagonal (the damping unit).
  std::vector<double> symmetric() const;
  const std::vector<float>& symmetric_f32() const;
  double mean_diagonal() const;
  // E[x_c²] per input: the diagonal over the tokens (0 with no tokens).
  std::vector<float> mean_square() const;
  // Becomes the Hessian of x / s (after a folded per-channel scale).
  void rescale(const std::vector<float>& s);

 private:
  std::vector<float> pending_;
  int64_t pending_rows_ = 0;
  mutable std::vector<float> f32_;
};

// How far a layer's output on the calibration data moves when its weight w becomes w_hat, from the
// Hessian alone (bias left out: both sides share it): ||X(W-Ŵ)ᵀ||² / ||XWᵀ||² and cos(XWᵀ, XŴᵀ).
struct OutputError {
  double rel_mse = 0, cosine = 1;
};
OutputError output_error(const float* w, const float* w_hat, int64_t rows, int64_t cols, const Hessian& h);

}  // namespace arrowquant
