// Calibration of a diffusion transformer (Q-Diffusion's time-aware calibration): the calibration
// "sequences" are states x_t the float model passes through on its own guided DDIM runs, spread
// evenly over the denoising trajectory (every timestep, both guidance branches, every class), so that
// GPTQ's Hessians and every other statistic weigh the timesteps the way sampling visits them. Each
// sequence is the image's patch tokens plus one row carrying its timestep and label.
#pragma once
#include <memory>

#include "model/calibration_model.h"

namespace arrowquant {

// The word --calibration takes for a diffusion model: no text, the model's own trajectories.
inline constexpr const char* kTrajectoryCalibration = "trajectory";

// FormatError when the folder has no scheduler_config.json.
std::unique_ptr<CalibrationModel> open_dit_calibration(const ModelWeights& w, int threads);

}  // namespace arrowquant
