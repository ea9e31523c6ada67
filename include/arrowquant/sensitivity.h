// Sensitivity analysis: how much each weight tensor suffers at each code width, measured three ways:
// the entropy of its weights, the error of the rounded weights, and — with calibration text — how far
// the layer's output moves on real inputs. Drives `arrowquant analyze` and automatic bit allocation.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/quant_config.h"
#include "arrowquant/tensor.h"

namespace arrowquant {

struct WidthSensitivity {
  int bits = 0;
  size_t bytes = 0;              // stored codes + scales + zero points
  double code_entropy = 0;       // bits of information per code actually used
  double weight_rel_rmse = 0;    // ||W - Ŵ|| / ||W||
  double output_rel_mse = -1;    // ||X(W-Ŵ)ᵀ||² / ||XWᵀ||² on calibration inputs; < 0 without
  double output_cosine = -1;
  // What allocation minimises: the output error when measured, else the squared weight error.
  double cost() const { return output_rel_mse >= 0 ? output_rel_mse : weight_rel_rmse * weight_rel_rmse; }
};

struct TensorSensitivity {
  std::string name;
  Shape shape;
  std::string role;              // "linear" (in a block, output measured) or "embedding/head"
  int64_t params = 0;
  double weight_entropy = 0;     // Shannon entropy (bits) of a 256-bin histogram of the weights
  std::vector<WidthSensitivity> widths;
  // With calibration text: how far the model's output moves with this tensor alone rounded at
  // probe_bits (a decoder's KL per token, an encoder's 1 - cosine of its sentence embeddings), and
  // that per unit of its cost() there: the factor bit allocation weighs this tensor's errors by, so
  // that a layer the rest of the network amplifies, or a table that is also the head, counts as
  // much as it hurts. < 0 when not measured.
  // With time groups (a diffusion model, --time-groups N) the divergence is also kept per group of
  // timesteps (a report: the allocation weighs the mean over all states, which measured better than
  // weighing the worst group).
  int probe_bits = 0;
  double probe_divergence = -1;
  double divergence_per_cost = -1;
  std::vector<double> probe_divergence_by_group;  // [time group]; empty without time groups
  // With time groups: the entropy (bits, at most 7) of this Linear's int8 input magnitude codes per
  // group, each rounded at the group's own largest |x| (the float model's inputs); empty otherwise.
  std::vector<double> input_entropy_by_group;
  // Block Linears that read the same input (q/k/v, gate/up) share this label ("block 3 input 0");
  // empty for tensors measured alone (or without calibration text).
  std::string shared_input;
  const WidthSensitivity* at(int bits) const;
};

struct SensitivityReport {
  std::string model;
  std::vector<int> widths;
  int64_t calibration_tokens = 0;
  int64_t probe_tokens = 0;      // tokens the output probes ran on (0: none)
  int64_t time_groups = 0;       // groups of timesteps the probes' divergence is split into (0: none)
  // Whether entropy predicts what matters: Spearman's rank correlation, over the probed tensors,
  // of the weight entropy (and, with time groups, the mean input entropy) with the model divergence.
  // NaN when not measured.
  double weight_entropy_rank_correlation = NAN, input_entropy_rank_correlation = NAN;
  size_t fixed_bytes = 0;        // tensors that are never quantised (norms, biases, pinned float)
  int64_t total_params = 0;
  std::vector<TensorSensitivity> tensors;
  nlohmann::json to_json() const;
  std::string to_markdown() const;

 private:
  int probe_bits() const;  // the width the output probes rounded at (0: no probes)
  std::string time_group_markdown(const std::vector<const TensorSensitivity*>& order) const;
};

using SensitivityLog = std::function<void(const std::string&)>;

// Every tensor the config would quantise (pins to float respected), at each width in `widths`, with
// the config's group size, symmetry and clipping. Output errors need cfg.calibration.
SensitivityReport analyze_sensitivity(const std::string& model_path, const QuantConfig& cfg,
                                      const std::vector<int>& widths, const SensitivityLog& log = nullptr);
// The same on a model a command has already opened (bit allocation, then calibration, share it).
class ModelSession;
SensitivityReport analyze_sensitivity(ModelSession& session, const QuantConfig& cfg, const std::vector<int>& widths,
                                      const SensitivityLog& log = nullptr);

}  // namespace arrowquant
