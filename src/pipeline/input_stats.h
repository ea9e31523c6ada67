// Statistics of every block Linear's inputs on the calibration sequences (the Hessian, mean and
// maximum magnitudes, sums), gathered in one streaming pass while a block runs: what GPTQ, AWQ,
// SmoothQuant, bias correction and sensitivity analysis read.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "arrowquant/error.h"
#include "model/linear.h"
#include "quant/hessian.h"

namespace arrowquant {

class CalibrationModel;

// Statistics of one Linear input over the calibration tokens.
struct InputStats {
  Hessian hessian;
  std::vector<double> abs_sum;  // Σ|x_c| per input channel
  std::vector<double> sum;      // Σx_c
  std::vector<float> abs_max;   // max|x_c|
  int64_t tokens = 0;
  // With float targets: Σ x·x_fpᵀ, where x_fp is the same token's input in the float model.
  std::vector<double> cross;
  void add(const float* x, int64_t n, int64_t dim);
  void add_cross(const float* x, const float* x_fp, int64_t n, int64_t dim);
  void flush();
  std::vector<float> abs_mean() const;

 private:
  std::vector<float> pending_x_, pending_fp_;
  int64_t pending_rows_ = 0;
};

// Records each Linear's input during one run of the float model's block (float targets).
class InputRecorder : public LinearObserver {
 public:
  void observe(const Linear& l, const float* x, int64_t n) override {
    inputs_[&l].assign(x, x + n * l.in);
  }
  const std::vector<float>* input_of(const Linear* l) const {
    auto it = inputs_.find(l);
    return it == inputs_.end() ? nullptr : &it->second;
  }
  void clear() { inputs_.clear(); }

 private:
  std::map<const Linear*, std::vector<float>> inputs_;
};

// Gathers InputStats per Linear during block runs. Linears fed the same input in a row (q, k, v)
// share one InputStats, filled once.
class StatsObserver : public LinearObserver {
 public:
  explicit StatsObserver(const InputRecorder* fp = nullptr) : fp_(fp) {}
  void begin_sequence() { ++seq_; }
  void observe(const Linear& l, const float* x, int64_t n) override {
    auto it = by_linear_.find(&l);
    if (it == by_linear_.end()) {
      std::shared_ptr<InputStats> s =
          (prev_x_ == x && prev_n_ == n && prev_seq_ == seq_ && prev_) ? prev_ : std::make_shared<InputStats>();
      it = by_linear_.emplace(&l, s).first;
    }
    InputStats& s = *it->second;
    auto& last = last_[&s];
    if (!(last.first == x && last.second == seq_)) {
      s.add(x, n, l.in);
      if (fp_) {
        const std::vector<float>* xf = fp_->input_of(&l);
        if (!xf || int64_t(xf->size()) != n * l.in) throw Error("internal: float-target inputs out of step for " + l.name);
        s.add_cross(x, xf->data(), n, l.in);
      }
      last = {x, seq_};
    }
    prev_ = it->second;
    prev_x_ = x;
    prev_n_ = n;
    prev_seq_ = seq_;
  }
  void finish() {
    for (auto& [l, s] : by_linear_) s->flush();
  }
  std::shared_ptr<InputStats> stats_of(const Linear* l) const {
    auto it = by_linear_.find(l);
    return it == by_linear_.end() ? nullptr : it->second;
  }

 private:
  std::map<const Linear*, std::shared_ptr<InputStats>> by_linear_;
  std::map<const InputStats*, std::pair<const float*, int64_t>> last_;
  std::shared_ptr<InputStats> prev_;
  const float* prev_x_ = nullptr;
  int64_t prev_n_ = 0, prev_seq_ = -1, seq_ = 0;
  const InputRecorder* fp_ = nullptr;
};

using BlockProgress = std::function<void(int64_t done, int64_t total, const std::string& what)>;

// Runs block b on a copy of every sequence with observers attached; the copies are discarded. With
// xs_fp (the float model's states), each sequence first runs through the float block from there,
// recording every Linear's float input and advancing xs_fp to the block's float output.
std::unique_ptr<StatsObserver> gather_block_stats(CalibrationModel& m, int64_t b,
                                                  const std::vector<std::vector<float>>& xs,
                                                  const std::vector<std::vector<int32_t>>& seqs,
                                                  std::vector<std::vector<float>>* xs_fp = nullptr);

// Input statistics of every block Linear of the float model (no quantisation), for sensitivity
// analysis: fn(block, linears, stats per linear). With observe, observe(s) (may be null) watches the
// block's Linears while sequence s advances through the float block.
void collect_float_stats(CalibrationModel& m, const std::vector<std::vector<int32_t>>& seqs,
                         const std::function<void(int64_t, const std::vector<Linear*>&,
                                                  const std::vector<const InputStats*>&)>& fn,
                         const BlockProgress& progress,
                         const std::function<LinearObserver*(size_t)>& observe = nullptr);

}  // namespace arrowquant
