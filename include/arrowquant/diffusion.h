// DiffusionPipeline: a class-conditional image diffusion model (a diffusers DiT pipeline folder, or
// an ArrowQuant folder quantised from one) run on the CPU: noise prediction and DDIM / DDPM sampling
// with classifier-free guidance, through the same weight loader and kernels as every other model.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "arrowquant/engine.h"
#include "arrowquant/quant_config.h"
#include "arrowquant/settings.h"

namespace arrowquant {

enum class SamplerKind { Ddim, Ddpm };
inline constexpr EnumOption kSamplerNames[] = {{int(SamplerKind::Ddim), "ddim"}, {int(SamplerKind::Ddpm), "ddpm"}};

// Row-major images [count, channels, height, width], pixel values as the model makes them ([-1, 1]).
struct Images {
  int64_t count = 0, channels = 0, height = 0, width = 0;
  std::vector<float> values;
  int64_t image_values() const { return channels * height * width; }
  const float* image(int64_t i) const { return values.data() + i * image_values(); }
};

struct SampleOptions {
  int64_t steps = 50;
  SamplerKind sampler = SamplerKind::Ddim;
  // Classifier-free guidance: ε = ε_uncond + g·(ε_cond − ε_uncond); 1 runs the conditional model alone.
  float guidance = 2.0f;
  uint64_t seed = 1;
  int64_t batch_size = 64;  // images per forward pass (guidance doubles the rows)
  // Starting noise [count, C, H, W] instead of the seed's (to reproduce another tool's sample); empty:
  // drawn from the seed.
  std::vector<float> initial_noise;
  // Called after each step of each batch with (steps done, total steps over all batches).
  std::function<void(int64_t, int64_t)> progress;
  // Called before each step with the step's index, the batch's first image and size, and the images
  // x_t [count, C, H, W] the model is about to see (to study the trajectory).
  std::function<void(int64_t step, int64_t first, int64_t count, const float* x)> on_step;
};

// The kind of model at `path` (a folder, or a file in one), for the profiles: ImageDiffusion for a
// diffusers DiT pipeline or transformer folder, Text otherwise. FormatError, naming the modality, for
// diffusion models recognisable but not supported yet (UNet and audio pipelines, text diffusion LMs
// such as LLaDA or Dream): never a silent guess.
Modality detect_modality(const std::string& path);

class DiffusionPipeline {
 public:
  // FormatError for a folder that is not a supported diffusion model (the modality named when it is
  // recognisable: a UNet, a text diffusion LM, ...), IoError when it cannot be read.
  explicit DiffusionPipeline(const std::string& path, EngineOptions opts = {});
  ~DiffusionPipeline();
  DiffusionPipeline(DiffusionPipeline&&) noexcept;

  // Whether `path` holds a diffusion model (model_index.json, a DiT config or a scheduler config),
  // without loading it.
  static bool is_diffusion_model(const std::string& path);

  int64_t num_classes() const;
  // Class names from model_index.json's id2label ("class N" where it has none).
  std::vector<std::string> class_names() const;
  int64_t channels() const;
  int64_t image_size() const;
  int64_t train_steps() const;
  bool packed_weights() const;
  // How the weights and activations run, for reports: "float weights, f32 activations", "packed weights,
  // int8 activations", "float weights, static int8 activations (10 timestep groups)", ...
  std::string runs_as() const;
  std::vector<std::string> kernel_notes() const;

  // The model's predicted noise for x [batch, C, H, W] at one timestep per image (label num_classes =
  // unconditional).
  std::vector<float> predict_noise(const float* x, int64_t batch, const std::vector<float>& timesteps,
                                   const std::vector<int32_t>& labels) const;
  // The noise the samplers step with: ε_uncond + g·(ε_cond − ε_uncond) at timestep t (g = 1: the
  // conditional prediction alone).
  std::vector<float> guided_noise(const float* x, int64_t batch, float t, const std::vector<int32_t>& labels,
                                  float guidance) const;
  // The timesteps an n-step run of the model's schedule visits, noisiest first.
  std::vector<int64_t> timesteps(int64_t steps) const;
  // One image per label. The noise is Gaussian from a counter-based generator of `seed`, so a given
  // (seed, image index) starts from the same noise whatever the batch size.
  Images sample(const std::vector<int32_t>& labels, const SampleOptions& opts) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Deterministic standard normal values for (seed, stream, index): Box–Muller over a counter hash,
// the same on every platform and standard library.
void gaussian_noise(uint64_t seed, uint64_t stream, float* out, int64_t count);

}  // namespace arrowquant
