// Calibrated quantisation of a model's block Linears (GPTQ, AWQ, SmoothQuant; RTN with measured
// fallbacks). Runs the float model block by block on calibration text: each block sees the outputs
// of the blocks before it *after* they were quantised, its Linears' input statistics are gathered
// in one streaming pass, the block is quantised, and its quantised outputs feed the next block.
// Memory stays near one block plus the calibration activations.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quant/hessian.h"
#include "pipeline/precision_rules.h"
#include "arrowquant/quant_config.h"
#include "pipeline/checkpoint.h"
#include "quant/weight_error.h"
#include "quant/gptq.h"

namespace arrowquant {

struct Linear;
class ModelWeights;
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

// Result for one quantised Linear weight.
struct CalibratedTensor {
  QuantizedTensor tensor;
  std::string method;
  OutputError error;            // on the calibration data, against the float weight
  WeightError weight;           // against the float weight it was made from (after any folded scales)
  double rtn_rel_mse = -1;      // round-to-nearest at the same format, for comparison (gptq/awq)
};

struct CalibrationResult {
  std::map<std::string, CalibratedTensor> tensors;   // by tensor name ("...weight")
  std::map<std::string, std::vector<float>> floats;  // float tensors the run changed (folded scales)
  nlohmann::json decisions = nlohmann::json::array();
  int64_t sequences = 0, tokens = 0;
  int resumed_blocks = 0;
};

using CalibrationLog = std::function<void(const std::string& line)>;
using BlockProgress = std::function<void(int64_t done, int64_t total, const std::string& what)>;

// The calibration sequences for a model, checked before any work: ValueError for an empty file,
// samples longer than the context, or a model without tokenizer (IoError).
std::vector<std::vector<int32_t>> calibration_sequences(CalibrationModel& m, const QuantConfig& cfg);

// plans: what each tensor becomes (by tensor name). open_checkpoint is called once the model and
// the calibration text have been checked, before any work (so bad input leaves nothing behind); it
// may return null (no checkpoint).
CalibrationResult quantize_calibrated(const std::string& model_path, const QuantConfig& cfg,
                                      const std::map<std::string, TensorPlan>& plans,
                                      const std::function<const Checkpoint*()>& open_checkpoint,
                                      const CalibrationLog& log, const BlockProgress& progress);

// Input statistics of every block Linear of the float model (no quantisation), for sensitivity
// analysis: callback(block, linears, stats per linear).
void collect_float_stats(CalibrationModel& m, const std::vector<std::vector<int32_t>>& seqs,
                         const std::function<void(int64_t, const std::vector<Linear*>&,
                                                  const std::vector<const InputStats*>&)>& fn,
                         const BlockProgress& progress);

}  // namespace arrowquant
