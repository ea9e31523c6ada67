#include "model/diffusion_scheduler.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "arrowquant/error.h"
#include "io/json_file.h"

namespace arrowquant {

std::string NoiseSchedule::find_config(const std::string& folder) {
  std::error_code ec;
  for (const std::filesystem::path& p : {std::filesystem::path(folder) / "scheduler_config.json",
                                         std::filesystem::path(folder) / "scheduler" / "scheduler_config.json"})
    if (std::filesystem::is_regular_file(p, ec)) return p.string();
  return "";
}

NoiseSchedule NoiseSchedule::from_json(const nlohmann::json& cfg, const std::string& where) {
  json_object(cfg, where);
  NoiseSchedule s;
  s.train_steps = json_int(cfg, "num_train_timesteps", 1000, where);
  if (s.train_steps < 1 || s.train_steps > 100000)
    throw FormatError(where + ": num_train_timesteps " + std::to_string(s.train_steps) + " out of range (1..100000)");
  const std::string prediction = json_string(cfg, "prediction_type", "epsilon", where);
  if (prediction != "epsilon")
    throw FormatError(where + ": prediction_type '" + prediction + "' is not supported (only epsilon)");
  if (cfg.contains("trained_betas") && !cfg["trained_betas"].is_null())
    throw FormatError(where + ": trained_betas are not supported (only a named beta_schedule)");
  const double b0 = json_number(cfg, "beta_start", 0.0001, where), b1 = json_number(cfg, "beta_end", 0.02, where);
  const std::string kind = json_string(cfg, "beta_schedule", "linear", where);
  const int64_t T = s.train_steps;
  std::vector<double> betas(static_cast<size_t>(T));
  for (int64_t i = 0; i < T; ++i) {
    const double f = T > 1 ? double(i) / double(T - 1) : 0.0;
    if (kind == "linear") {
      betas[size_t(i)] = b0 + f * (b1 - b0);
    } else if (kind == "scaled_linear") {
      const double r = std::sqrt(b0) + f * (std::sqrt(b1) - std::sqrt(b0));
      betas[size_t(i)] = r * r;
    } else if (kind == "squaredcos_cap_v2") {
      auto a = [](double u) { return std::pow(std::cos((u + 0.008) / 1.008 * M_PI / 2), 2); };
      betas[size_t(i)] = std::min(1 - a(double(i + 1) / double(T)) / a(double(i) / double(T)), 0.999);
    } else {
      throw FormatError(where + ": beta_schedule '" + kind + "' is not supported (linear, scaled_linear, squaredcos_cap_v2)");
    }
    if (!(betas[size_t(i)] > 0 && betas[size_t(i)] < 1))
      throw FormatError(where + ": beta " + std::to_string(i) + " = " + std::to_string(betas[size_t(i)]) + " is not in (0, 1)");
  }
  // diffusers builds betas in float32 and multiplies the cumulative product in float32: so do we.
  s.alphas_cumprod.resize(size_t(T));
  float prod = 1.0f;
  for (int64_t i = 0; i < T; ++i) s.alphas_cumprod[size_t(i)] = prod *= 1.0f - float(betas[size_t(i)]);
  s.steps_offset = json_int(cfg, "steps_offset", 0, where);
  s.timestep_spacing = json_string(cfg, "timestep_spacing", "leading", where);
  if (s.timestep_spacing != "leading" && s.timestep_spacing != "trailing" && s.timestep_spacing != "linspace")
    throw FormatError(where + ": timestep_spacing '" + s.timestep_spacing + "' is not supported (leading, trailing, linspace)");
  s.set_alpha_to_one = json_bool(cfg, "set_alpha_to_one", true, where);
  s.clip_sample = json_bool(cfg, "clip_sample", true, where);
  s.clip_sample_range = json_number(cfg, "clip_sample_range", 1.0, where);
  if (json_bool(cfg, "thresholding", false, where)) throw FormatError(where + ": thresholding is not supported");
  return s;
}

std::vector<int64_t> NoiseSchedule::timesteps(int64_t n) const {
  const int64_t T = train_steps;
  if (n < 1 || n > T)
    throw ValueError("the number of sampling steps must be between 1 and " + std::to_string(T) + ", not " + std::to_string(n));
  std::vector<int64_t> ts(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t t;
    if (timestep_spacing == "leading") t = i * (T / n) + steps_offset;
    else if (timestep_spacing == "trailing") t = int64_t(std::nearbyint(double(T) - double(i) * double(T) / double(n))) - 1;
    else t = int64_t(std::nearbyint(double(i) * double(T - 1) / double(n - 1 > 0 ? n - 1 : 1)));
    ts[size_t(i)] = std::clamp<int64_t>(t, 0, T - 1);
  }
  // leading and linspace count up from 0; trailing counts down from T - 1.
  if (timestep_spacing != "trailing") std::reverse(ts.begin(), ts.end());
  return ts;
}

namespace {

float clip(float v, bool on, double range) { return on ? std::clamp(v, float(-range), float(range)) : v; }

}  // namespace

void NoiseSchedule::ddim_step(int64_t t, int64_t n, const float* eps, float* x, int64_t count) const {
  const int64_t prev = t - train_steps / n;
  const double a = alphas_cumprod[size_t(t)];
  const double a_prev = prev >= 0 ? alphas_cumprod[size_t(prev)] : (set_alpha_to_one ? 1.0 : alphas_cumprod[0]);
  const float sa = float(std::sqrt(a)), sb = float(std::sqrt(1 - a));
  const float sa_prev = float(std::sqrt(a_prev)), sb_prev = float(std::sqrt(1 - a_prev));
  for (int64_t i = 0; i < count; ++i) {
    const float x0 = clip((x[i] - sb * eps[i]) / sa, clip_sample, clip_sample_range);
    x[i] = sa_prev * x0 + sb_prev * eps[i];
  }
}

void NoiseSchedule::ddpm_step(int64_t t, int64_t n, const float* eps, const float* noise, float* x, int64_t count) const {
  const int64_t prev = t - train_steps / n;
  const double a = alphas_cumprod[size_t(t)];
  const double a_prev = prev >= 0 ? alphas_cumprod[size_t(prev)] : 1.0;
  const double alpha = a / a_prev, beta = 1 - alpha;
  const float sa = float(std::sqrt(a)), sb = float(std::sqrt(1 - a));
  const float c_x0 = float(std::sqrt(a_prev) * beta / (1 - a)), c_x = float(std::sqrt(alpha) * (1 - a_prev) / (1 - a));
  const float sigma = t > 0 ? float(std::sqrt(std::max((1 - a_prev) / (1 - a) * beta, 1e-20))) : 0.0f;
  for (int64_t i = 0; i < count; ++i) {
    const float x0 = clip((x[i] - sb * eps[i]) / sa, clip_sample, clip_sample_range);
    x[i] = c_x0 * x0 + c_x * x[i] + (t > 0 ? sigma * noise[i] : 0.0f);
  }
}

}  // namespace arrowquant
