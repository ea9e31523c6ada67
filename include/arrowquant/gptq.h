// GPTQ (Frantar et al., 2022) on the CPU: quantises a weight matrix column by column, spreading each
// column's rounding error over the columns not yet quantised through the inverse Hessian of the
// layer's inputs, so that the layer's output on the calibration data moves as little as possible.
// Writes the same stored format as round-to-nearest (quantize.h): the runtime cannot tell them apart.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "arrowquant/quantize.h"

namespace arrowquant {

struct GptqOptions {
  const QuantFormat* format = nullptr;
  int64_t group_size = 128;  // 0 = one group per row
  ClipMethod clip = ClipMethod::Mse;
  double damp = 0.01;        // added to the diagonal, as a fraction of its mean
  int64_t block_size = 128;  // columns per lazy batch update
  // Quantise columns in order of decreasing Hessian diagonal. The stored format keeps groups in
  // natural column order, so activation order always uses static groups (scales from the
  // unmodified weights before any update).
  bool act_order = false;
  bool static_groups = false;
  int threads = 0;
};

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
  // Becomes the Hessian of x / s (after a folded per-channel scale).
  void rescale(const std::vector<float>& s);

 private:
  std::vector<float> pending_;
  int64_t pending_rows_ = 0;
  mutable std::vector<float> f32_;
};

struct GptqResult {
  QuantizedTensor tensor;
  double damp_used = 0;      // > options.damp when the Hessian needed more damping to factorise
  int64_t dead_columns = 0;  // inputs that were always zero on the calibration data
};

// w: [rows, cols]. Throws ValueError on non-finite weights or a Hessian of the wrong size.
GptqResult quantize_gptq(const FloatTensor& w, const Hessian& h, const GptqOptions& opt);

// How far a layer's output on the calibration data moves when its weight w becomes w_hat, from the
// Hessian alone (bias left out: both sides share it): ||X(W-Ŵ)ᵀ||² / ||XWᵀ||² and cos(XWᵀ, XŴᵀ).
struct OutputError {
  double rel_mse = 0, cosine = 1;
};
OutputError output_error(const float* w, const float* w_hat, int64_t rows, int64_t cols, const Hessian& h);

}  // namespace arrowquant
