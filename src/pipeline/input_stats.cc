#include "pipeline/input_stats.h"

#include <algorithm>
#include <cmath>

#include "arrowquant/error.h"
#include "kernels/blas.h"
#include "model/calibration_model.h"
#include "util/interrupt.h"

namespace arrowquant {

void InputStats::add(const float* x, int64_t n, int64_t dim) {
  if (abs_sum.empty()) {
    hessian.dim = dim;
    abs_sum.assign(size_t(dim), 0.0);
    sum.assign(size_t(dim), 0.0);
    abs_max.assign(size_t(dim), 0.0f);
  }
  hessian.add(x, n);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t c = 0; c < dim; ++c) {
      const float a = std::fabs(x[t * dim + c]);
      sum[size_t(c)] += x[t * dim + c];
      abs_sum[size_t(c)] += a;
      abs_max[size_t(c)] = std::max(abs_max[size_t(c)], a);
    }
  tokens += n;
}

void InputStats::add_cross(const float* x, const float* x_fp, int64_t n, int64_t dim) {
  constexpr int64_t kBatchRows = 2048;
  if (pending_x_.empty()) {
    pending_x_.resize(size_t(kBatchRows * dim));
    pending_fp_.resize(pending_x_.size());
    cross.assign(size_t(dim * dim), 0.0);
  }
  while (n > 0) {
    const int64_t take = std::min(n, kBatchRows - pending_rows_);
    std::copy(x, x + take * dim, pending_x_.begin() + pending_rows_ * dim);
    std::copy(x_fp, x_fp + take * dim, pending_fp_.begin() + pending_rows_ * dim);
    pending_rows_ += take;
    x += take * dim;
    x_fp += take * dim;
    n -= take;
    if (pending_rows_ == kBatchRows) flush();
  }
}

void InputStats::flush() {
  hessian.flush();
  if (pending_rows_ == 0) return;
  const int64_t d = hessian.dim;
  std::vector<float> part(size_t(d * d));
  kernels::gemm(kernels::Transpose::kYes, kernels::Transpose::kNo, d, d, pending_rows_, 1.0f, pending_x_.data(), d,
                pending_fp_.data(), d, 0.0f, part.data(), d);
  for (size_t i = 0; i < part.size(); ++i) cross[i] += double(part[i]);
  pending_rows_ = 0;
}

std::vector<float> InputStats::abs_mean() const {
  std::vector<float> m(abs_sum.size());
  for (size_t c = 0; c < m.size(); ++c) m[c] = tokens ? float(abs_sum[c] / double(tokens)) : 0.0f;
  return m;
}

// Runs block b on a copy of every sequence with observers attached; the copies are discarded. With
// xs_fp (the float model's states), each sequence first runs through the float block from there,
// recording every Linear's float input and advancing xs_fp to the block's float output.
std::unique_ptr<StatsObserver> gather_block_stats(CalibrationModel& m, int64_t b,
                                                  const std::vector<std::vector<float>>& xs,
                                                  const std::vector<std::vector<int32_t>>& seqs,
                                                  std::vector<std::vector<float>>* xs_fp) {
  InputRecorder recorder;
  auto obs = std::make_unique<StatsObserver>(xs_fp ? &recorder : nullptr);
  auto lin = m.linears(b);
  auto attach = [&](LinearObserver* o) { for (Linear* l : lin) l->observer = o; };
  try {
    for (size_t s = 0; s < xs.size(); ++s) {
      if (interrupt_requested()) throw Interrupted("interrupted");
      const int64_t T = int64_t(seqs[s].size());
      if (xs_fp) {
        recorder.clear();
        attach(&recorder);
        m.run_block(b, (*xs_fp)[s].data(), T);
      }
      attach(obs.get());
      obs->begin_sequence();
      std::vector<float> x = xs[s];
      m.run_block(b, x.data(), T);
    }
  } catch (...) {
    attach(nullptr);
    throw;
  }
  attach(nullptr);
  obs->finish();
  return obs;
}

void collect_float_stats(CalibrationModel& m, const std::vector<std::vector<int32_t>>& seqs,
                         const std::function<void(int64_t, const std::vector<Linear*>&,
                                                  const std::vector<const InputStats*>&)>& fn,
                         const BlockProgress& progress, const std::function<LinearObserver*(size_t)>& observe) {
  std::vector<std::vector<float>> xs;
  for (const auto& s : seqs) xs.push_back(m.embed(s));
  for (int64_t b = 0; b < m.blocks(); ++b) {
    if (progress) progress(b, m.blocks(), "block " + std::to_string(b));
    auto obs = gather_block_stats(m, b, xs, seqs);
    auto lin = m.linears(b);
    std::vector<const InputStats*> st;
    for (Linear* l : lin) st.push_back(obs->stats_of(l).get());
    fn(b, lin, st);
    auto attach = [&](LinearObserver* o) { for (Linear* l : lin) l->observer = o; };
    try {
      for (size_t s = 0; s < xs.size(); ++s) {
        if (observe) attach(observe(s));
        m.run_block(b, xs[s].data(), int64_t(seqs[s].size()));
      }
    } catch (...) {
      attach(nullptr);
      throw;
    }
    attach(nullptr);
  }
  if (progress) progress(m.blocks(), m.blocks(), "");
}

}  // namespace arrowquant
