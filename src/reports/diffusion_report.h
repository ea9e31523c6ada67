// How good a (quantised) diffusion model's images are, against its reference (float) model and real
// images: a Fréchet distance on a small classifier's features (FID-like) against the real test set's
// statistics, the classifier's agreement with the class asked for, and the paired per-timestep error
// of the guided noise prediction on the reference model's own trajectory (the pass/fail measure: a
// weak reference's distance can improve by chance under quantisation).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/diffusion.h"

namespace arrowquant {

struct DiffusionValidateOptions {
  std::string classifier;       // folder: config.json, model.safetensors, test_features.safetensors
  int64_t samples = 500;        // images per model, the classes in turn
  int64_t trajectory_images = 32;  // images whose reference trajectory the per-timestep error uses
  SampleOptions sample;         // steps, sampler, guidance, seed, batch size
  std::string png;              // the model's first images as a grid (a row per class); "" = none
  std::function<void(size_t, size_t)> progress;
};

struct DiffusionModelScore {
  std::string path;
  std::string runs_as;  // DiffusionPipeline::runs_as(): weights and activations as the run used them
  double frechet = 0, accuracy = 0, seconds = 0;
  int64_t file_bytes = 0;
};

struct DiffusionReport {
  DiffusionModelScore reference, model;
  int64_t samples = 0, steps = 0;
  std::string sampler;
  double guidance = 0;
  nlohmann::json noise_floor;   // the classifier's: Fréchet distance of N real images
  std::vector<int64_t> timesteps;
  std::vector<double> noise_error;  // ‖ε̂_model − ε̂_ref‖ / ‖ε̂_ref‖ per timestep, pooled over images
  nlohmann::json to_json() const;
  std::string to_markdown() const;
};

// Both models sample the same labels from the same seeds.
DiffusionReport validate_diffusion(const DiffusionPipeline& reference, const std::string& reference_path,
                                   const DiffusionPipeline& model, const std::string& model_path,
                                   const DiffusionValidateOptions& opts);

// The Fréchet distance between Gaussians (μ₁, Σ₁) and (μ₂, Σ₂) of dimension d:
// ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½ (symmetric eigendecompositions, LAPACK).
double frechet_distance(const std::vector<double>& mu1, const std::vector<double>& cov1, const std::vector<double>& mu2,
                        const std::vector<double>& cov2, int64_t d);
// Mean and covariance (divided by n − 1, as numpy.cov) of rows x [n, d].
void feature_statistics(const std::vector<float>& x, int64_t n, int64_t d, std::vector<double>& mu, std::vector<double>& cov);

}  // namespace arrowquant
