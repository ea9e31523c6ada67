// The model a quantisation command works on, opened once and passed down: its tensors (one
// TensorSource), and, when calibration or sensitivity analysis needs it, the float model and the
// calibration sequences, each made once. Bit allocation and calibration in the same run share them.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "arrowquant/quant_config.h"
#include "arrowquant/tensor_source.h"

namespace arrowquant {

class CalibrationModel;
class ModelWeights;

class ModelSession {
 public:
  // Opens the model's tensors (FormatError / IoError naming the path when nothing loadable is there).
  explicit ModelSession(std::string path);
  ~ModelSession();
  const std::string& path() const { return path_; }
  const TensorSource& source() const { return *source_; }
  // From now on, the model's tensors as the decoder with its residual stream rotated
  // (model/residual_rotation.h); before anything is loaded. ValueError for models it does not fit.
  void rotate_residual(uint64_t seed, int64_t max_block);

  // The float model, loaded on first use. Calibration changes its weights in place (the quantised
  // blocks feed the next): what runs after calibrate_started() sees a partly quantised model.
  CalibrationModel& calibration_model(int threads);
  void calibrate_started() { modified_ = true; }
  bool modified() const { return modified_; }

  // The calibration sequences cfg asks for, read and tokenised once and checked before any work:
  // ValueError for an empty file, a sequence longer than the context, or a model without tokenizer
  // (IoError).
  const std::vector<std::vector<int32_t>>& calibration_sequences(const QuantConfig& cfg);

 private:
  std::string path_;
  std::shared_ptr<const TensorSource> source_;
  std::unique_ptr<ModelWeights> weights_;
  std::unique_ptr<CalibrationModel> model_;
  std::vector<std::vector<int32_t>> sequences_;
  std::string sequences_key_;  // the settings they were made for
  bool modified_ = false;
};

}  // namespace arrowquant
