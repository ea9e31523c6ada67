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

#include "arrowquant/quant_config.h"
#include "arrowquant/time_group_clips.h"
#include "pipeline/checkpoint.h"
#include "pipeline/input_stats.h"
#include "pipeline/linear_quantizer.h"
#include "pipeline/precision_rules.h"
#include "quant/gptq.h"
#include "quant/weight_error.h"

namespace arrowquant {

class ModelSession;

struct CalibrationResult {
  std::map<std::string, CalibratedTensor> tensors;   // by tensor name ("...weight")
  std::map<std::string, std::vector<float>> floats;  // float tensors the run changed (folded scales)
  nlohmann::json decisions = nlohmann::json::array();
  // With --time-groups (diffusion): each block Linear's static int8 input clip per timestep group.
  TimeGroupClips time_groups;
  int64_t sequences = 0, tokens = 0;
  int resumed_blocks = 0;
};

using CalibrationLog = std::function<void(const std::string& line)>;

// plans: what each tensor becomes (by tensor name). open_checkpoint is called once the model and
// the calibration text have been checked, before any work (so bad input leaves nothing behind); it
// may return null (no checkpoint). The session's model is quantised in place.
CalibrationResult quantize_calibrated(ModelSession& session, const QuantConfig& cfg,
                                      const std::map<std::string, TensorPlan>& plans,
                                      const std::function<const Checkpoint*()>& open_checkpoint,
                                      const CalibrationLog& log, const BlockProgress& progress);

}  // namespace arrowquant
