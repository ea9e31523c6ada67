// Sampling a class-conditional DiT: the classifier-free-guided noise and the DDIM / DDPM loops,
// shared by the pipeline (arrowquant sample, validate) and by calibration, which records the states
// the float model passes through on its own denoising runs.
#pragma once
#include <cstdint>
#include <vector>

#include "arrowquant/diffusion.h"
#include "model/diffusion_scheduler.h"
#include "model/dit_transformer.h"

namespace arrowquant {

// ε_uncond + g·(ε_cond − ε_uncond) at timestep t for x [batch, C, H, W], the two halves in one
// forward pass (g = 1: the conditional prediction alone).
std::vector<float> dit_guided_noise(const DitTransformer& dit, const float* x, int64_t batch, float t,
                                    const std::vector<int32_t>& labels, float guidance);

// One image per label, DiffusionPipeline::sample's contract (arrowquant/diffusion.h).
Images dit_sample(const DitTransformer& dit, const NoiseSchedule& schedule, const std::vector<int32_t>& labels,
                  const SampleOptions& opts);

}  // namespace arrowquant
