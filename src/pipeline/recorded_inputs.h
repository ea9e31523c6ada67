// Calibrated quantisation of a model ArrowQuant cannot run, from input statistics recorded where it
// does run (the terrain UNet through onnxruntime: scripts/terrain_unet.py record). The recording is a
// safetensors file holding, for each weight matrix to calibrate, its input Hessian E[x·xᵀ]
// ([in, in], symmetric, under the weight's own name; a convolution's inputs are its im2col rows).
// What needs only a layer's Hessian works from it: GPTQ, importance-weighted RTN, and the
// --min-accuracy ladder on each layer's output cosine, and sensitivity analysis and bit allocation by
// each layer's output error (no model-output probes). What needs the model itself (AWQ and SmoothQuant
// fold scales into the op before a layer; time groups and block tuning run it) is refused with a
// clear error.
#pragma once
#include <map>
#include <memory>
#include <set>
#include <string>

#include "arrowquant/quant_config.h"
#include "arrowquant/tensor_source.h"
#include "model/linear.h"
#include "pipeline/calibrated_quantizer.h"
#include "pipeline/input_stats.h"
#include "quant/hessian.h"

namespace arrowquant {

// Whether --calibration names a recording of input statistics (a .safetensors file) rather than text.
bool is_recorded_inputs(const std::string& calibration);

// ValueError when the settings ask for something a recording cannot give (see above); no-op when
// --calibration is not a recording.
void check_recorded_inputs_settings(const QuantConfig& cfg);

// The recorded Hessian of weight `name` with `in` input columns, checked (FormatError naming `where`:
// wrong shape, non-finite, not symmetric, a negative diagonal).
Hessian read_recorded_hessian(const TensorSource& recording, const std::string& name, int64_t in,
                              const std::string& where);

// One recorded weight matrix as calibration sees a layer: the Linear (float weight loaded) and its
// inputs' statistics (the Hessian; no sums: bias correction needs the model).
struct RecordedLayer {
  Linear linear;
  InputStats stats;
};

// A recording opened for one model. FormatError when it is no recording for it: not one safetensors
// file, or a Hessian for a tensor the model does not have.
class InputRecording {
 public:
  InputRecording(const std::string& path, const TensorSource& model);
  const std::string& path() const { return path_; }
  bool has(const std::string& weight) const;
  // Weight `weight` (a 2-D "<layer>.weight" of the model) and its recorded Hessian, checked.
  RecordedLayer layer(const std::string& weight, int threads) const;

 private:
  std::string path_;
  const TensorSource& model_;
  std::unique_ptr<TensorSource> file_;
  std::set<std::string> names_;
};

// Every planned weight matrix with a recorded Hessian quantised by cfg's method (plans by tensor
// name); the others are left to round-to-nearest and counted in the log. FormatError when the file is
// no recording for this model (no weight of it, or a Hessian for a tensor the model lacks).
CalibrationResult quantize_from_recorded_inputs(const TensorSource& model, const QuantConfig& cfg,
                                                const std::map<std::string, TensorPlan>& plans,
                                                const CalibrationLog& log, const BlockProgress& progress);

}  // namespace arrowquant
