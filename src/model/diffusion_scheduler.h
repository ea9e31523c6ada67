// The noise schedule of a diffusion model (scheduler_config.json as diffusers writes it) and the two
// samplers' update rules, DDIM (deterministic, eta = 0) and DDPM (ancestral, "fixed_small" variance),
// step for step as diffusers' DDIMScheduler and DDPMScheduler compute them, so that a sample made
// here from the same starting noise matches one made with diffusers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace arrowquant {

struct NoiseSchedule {
  int64_t train_steps = 1000;
  std::vector<double> alphas_cumprod;  // ᾱ_t, t in [0, train_steps)
  int64_t steps_offset = 0;
  std::string timestep_spacing = "leading";  // leading | trailing | linspace
  bool set_alpha_to_one = true;  // DDIM: ᾱ before t = 0 is 1 (else ᾱ_0)
  bool clip_sample = false;      // clamp the predicted clean image to ±clip_sample_range
  double clip_sample_range = 1.0;

  // diffusers' keys and defaults (DDIMScheduler's for the DDIM-only ones); FormatError naming `where`
  // for a schedule or prediction type not supported (only epsilon prediction).
  static NoiseSchedule from_json(const nlohmann::json& cfg, const std::string& where);
  // The scheduler_config.json of a pipeline folder (in scheduler/) or of a quantised copy (beside
  // config.json); "" when there is none.
  static std::string find_config(const std::string& folder);
  // The timesteps of an n-step run, first (noisiest) to last. ValueError unless 1 <= n <= train_steps.
  std::vector<int64_t> timesteps(int64_t n) const;
  // x_{t-Δ} from x_t and the predicted noise, Δ = train_steps / n; `noise` (DDPM only, same size) is
  // the fresh Gaussian noise of the step (unused at t = 0).
  void ddim_step(int64_t t, int64_t n, const float* eps, float* x, int64_t count) const;
  void ddpm_step(int64_t t, int64_t n, const float* eps, const float* noise, float* x, int64_t count) const;
};

}  // namespace arrowquant
