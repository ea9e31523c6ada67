// Quantisation settings and where they come from. Layers, lowest precedence first:
//   built-in defaults < profile (edge|local|cloud) < YAML file (--config) < ARROW_QUANT_* env < flags.
// Every layer uses the same keys (see set_option), so a key means the same thing everywhere.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace arrowquant {

// Pins a tensor-name glob to a width: "8", "4", "3", "2" or "float" (keep unquantised).
struct PinRule {
  std::string pattern;
  std::string target;
};

struct QuantConfig {
  std::string profile = "local";
  int bits = 4;
  int64_t group_size = 128;   // 0 = per output channel
  bool symmetric = false;
  std::string method = "rtn";
  std::string clip = "mse";   // minmax | mse
  int embedding_bits = 8;     // embeddings and LM head; 16 or 32 keep them float
  std::vector<PinRule> pins;  // first match wins; applied before the built-in rules
  bool allow_nonfinite = false;
  int threads = 0;            // 0 = all cores
  int64_t chunk_bytes = int64_t(1) << 30;

  // Calibrated methods (gptq, awq, smoothquant) and allocation.
  std::string calibration;    // .txt (one document per line) or .jsonl ({"text": ...} per line)
  int64_t samples = 128;      // calibration sequences
  int64_t seq_len = 0;        // tokens per sequence; 0 = min(context, 128) for encoders, 256 for decoders
  double damp = 0.01;         // GPTQ damping, fraction of the mean Hessian diagonal
  bool act_order = false;     // GPTQ activation order (uses static groups)
  bool static_groups = false; // GPTQ group scales from the unmodified weights
  int awq_grid = 20;          // AWQ scale exponents tried in [0, 1)
  double smooth_alpha = 0.5;  // SmoothQuant migration strength
  bool float_targets = false; // GPTQ: fit each layer to the float model's output (see calibrated_quantizer.h)
  bool bias_correction = true; // calibrated runs: b += (W - Ŵ)·E[x] for Linears that have a bias
  double min_accuracy = 0;    // a layer whose output cosine falls below this is redone wider (0 = off)
  double target_bpw = 0;      // automatic bit allocation to this many bits per weight (0 = off)
  double target_size_mb = 0;  // or to this file size in MB (10^6 bytes)

  nlohmann::json to_json() const;
  nlohmann::json calibration_json() const;
  // Whether the run needs calibration text: a calibrated method, or allocation by measurement.
  bool needs_calibration() const {
    return method != "rtn" || min_accuracy > 0 || target_bpw > 0 || target_size_mb > 0;
  }
};

// The names of the profiles and what each sets.
std::vector<std::string> profile_names();
void apply_profile(QuantConfig& c, const std::string& name);  // throws ValueError

// Sets one key from text. Keys: profile, bits, group_size, sym, method, clip, embedding_bits,
// pin (PATTERN=TARGET, appends), allow_nonfinite, threads, chunk_bytes, calibration, samples, seq_len,
// damp, act_order, static_groups, float_targets, bias_correction, awq_grid, smooth_alpha, min_accuracy, target_bpw, target_size. `source` names where the
// value came from, for the error message.
void set_option(QuantConfig& c, const std::string& key, const std::string& value, const std::string& source);

// Builds the effective configuration. `flags` holds only the flags the user actually gave.
QuantConfig resolve_quant_config(const std::string& yaml_path, const std::map<std::string, std::string>& env,
                                 const std::vector<std::pair<std::string, std::string>>& flags);
// ARROW_QUANT_* variables of this process, keyed by option name (ARROW_QUANT_GROUP_SIZE -> group_size).
std::map<std::string, std::string> quant_env_from_process();

// Rejects impossible combinations (e.g. bits 5, group size 48 with no use) with ValueError.
void validate(const QuantConfig& c);

}  // namespace arrowquant
