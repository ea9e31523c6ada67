// Quantisation settings and where they come from. Layers, lowest precedence first:
//   built-in defaults < profile (edge|local|cloud) < YAML file (--config) < ARROW_QUANT_* env < flags.
// Every setting is declared once, in QuantConfig::visit (src/pipeline/quant_config.cc): its key, help,
// section and range drive the command-line flags, the YAML and environment keys, validation and the
// JSON of every run, so a key means the same thing everywhere.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/quant_format.h"
#include "arrowquant/quant_options.h"
#include "arrowquant/settings.h"

namespace arrowquant {

// What kind of model a run quantises: the profiles (edge|local|cloud) differ by it. Detected from the
// model folder (detect_modality in arrowquant/diffusion.h); text unless it is an image diffusion model.
enum class Modality { Text, ImageDiffusion };
const char* modality_name(Modality m);

// Pins a tensor-name glob to a width of the format table ("8", "4", ...) or "float" (keep unquantised).
struct PinRule {
  std::string pattern;
  std::string target;
};

struct QuantConfig {
  std::string profile = "local";
  Modality modality = Modality::Text;  // which values the profile gave (not a setting: the model decides)
  int bits = 4;
  int64_t group_size = 128;   // 0 = per output channel
  bool symmetric = false;
  bool half = false;          // half-offset symmetric grid (no zero level); implies symmetric
  Codebook codebook = Codebook::None;  // non-uniform levels at the widths the family has
  Method method = Method::Rtn;
  ClipMethod clip = ClipMethod::Mse;
  RotationChoice rotation = RotationChoice::Auto;  // input space weight matrices are quantised in
  int64_t rotation_seed = 1;                   // of the rotation's random signs
  int64_t rotation_block = 0;                  // largest Hadamard block (0: the whole row where it can)
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
  int scale_refits = 0;       // GPTQ: rounds of least-squares scales for the codes, then codes for the scales
  int tune_epochs = 0;        // block-wise tuning of the group scales against the float block (0 = off)
  double tune_lr = 0.01;      // its Adam step on the log-scales
  bool tune_norms = false;    // block-wise tuning also moves the blocks' norm weights
  bool tune_codes = true;     // block-wise tuning also re-chooses the codes (straight-through rounding)
  int64_t tune_samples = 0;   // calibration sequences block-wise tuning runs on (0 = all of them)
  int awq_grid = 20;          // AWQ scale exponents tried in [0, 1)
  double smooth_alpha = 0.5;  // SmoothQuant migration strength
  bool float_targets = false; // GPTQ: fit each layer to the float model's output (see calibrated_quantizer.h)
  bool bias_correction = true; // calibrated runs: b += (W - Ŵ)·E[x] for Linears that have a bias
  bool importance = true;       // RTN with calibration text: errors weighted by each input's mean square
  double min_accuracy = 0;    // a layer whose output cosine falls below this is redone wider (0 = off)
  int64_t time_groups = 0;    // diffusion: static int8 activation clips per this many timestep groups (0 = none)
  double target_bpw = 0;      // automatic bit allocation to this many bits per weight (0 = off)
  double target_size_mb = 0;  // or to this file size in MB (10^6 bytes)
  bool fuse_siblings = false; // allocation: Linears reading the same input (q/k/v, gate/up) get one width
  ExportCompatible export_compatible = ExportCompatible::None;  // constraints of a serving engine
  int64_t tensor_parallel = 1;  // with export_compatible: GPUs each Linear is split across

  // Every setting above, once: the visitor sees each member with its key, help and range.
  void visit(SettingVisitor& v);
  // The recorded settings; those of the "Calibration" section under "calibration", when the run needs
  // calibration (threads and other settings that cannot change the result are left out).
  nlohmann::json to_json() const;
  // The format of the run's grid at a width for rows of `cols` weights (0: any), nullptr when the
  // table has none: the codebook's where its family has that width, else the uniform grid's. The
  // lattice family has 2 bits only, for rows of whole 8-weight vectors; at other widths and for other
  // rows it takes the gauss levels.
  const QuantFormat* format_for(int width, int64_t cols = 0) const {
    const QuantFormat* f = find_codebook_format(codebook, width);
    if (f && cols > 0 && !geometry_problem(*f, cols, group_size == 0 ? cols : group_size).empty()) f = nullptr;
    if (!f && codebook == Codebook::Lattice) f = find_codebook_format(Codebook::Gauss, width);
    if (f) return f;
    return find_quant_format(width, symmetric, half);
  }
  // The rotation weight matrices get: auto decided by the method.
  RotationKind rotation_kind() const {
    if (rotation == RotationChoice::Auto)  // serving engines have no input rotation
      return method == Method::Gptq && export_compatible == ExportCompatible::None ? RotationKind::Hadamard : RotationKind::None;
    return rotation == RotationChoice::None ? RotationKind::None : RotationKind::Hadamard;
  }
  // Whether allocation gives Linears that read one input (q/k/v, gate/up) one width.
  bool fuses_siblings() const { return fuse_siblings || export_compatible != ExportCompatible::None; }
  // The widths an allocation chooses from: the format table's, or what the serving engine runs.
  std::vector<int> allocation_widths() const {
    return export_compatible == ExportCompatible::Vllm ? std::vector<int>{4, 8} : format_widths();
  }
  // Whether the run needs calibration text: a calibrated method, or allocation by measurement.
  bool needs_calibration() const {
    return method != Method::Rtn || min_accuracy > 0 || target_bpw > 0 || target_size_mb > 0 || time_groups > 0;
  }
  // Whether the run reads calibration text: when it needs it, and whenever it is given (RTN then
  // runs block by block on it: importance-weighted, and each layer's output error measured).
  bool uses_calibration() const { return needs_calibration() || !calibration.empty(); }
};

// The names of the profiles and what each sets. An image diffusion model's profile adds the ArrowQuant
// V2 seed's values (time groups, min_accuracy, trajectory calibration) to the text profile's.
std::vector<std::string> profile_names();
void apply_profile(QuantConfig& c, const std::string& name, Modality modality = Modality::Text);  // ValueError
// One line of what a profile sets for a modality, for --help and logs.
std::string profile_summary(const std::string& name, Modality modality);

// Sets one setting from text; `source` names where the value came from, for the error message.
// ValueError for an unknown key or a bad value.
void set_option(QuantConfig& c, const std::string& key, const std::string& value, const std::string& source);

// Builds the effective configuration. `flags` holds only the flags the user actually gave.
QuantConfig resolve_quant_config(const std::string& yaml_path, const std::map<std::string, std::string>& env,
                                 const std::vector<std::pair<std::string, std::string>>& flags,
                                 Modality modality = Modality::Text);
// ARROW_QUANT_* variables of this process, keyed by setting (ARROW_QUANT_GROUP_SIZE -> group_size).
std::map<std::string, std::string> quant_env_from_process();
// The settings of a YAML file as (key, value) pairs; lists give one pair per item ("pins" -> "pin").
// ValueError naming the file when it is unreadable or not a mapping of scalars and lists.
std::vector<std::pair<std::string, std::string>> read_settings_yaml(const std::string& path);
// The same from YAML text; `where` names it in errors.
std::vector<std::pair<std::string, std::string>> parse_settings_yaml(const std::string& text, const std::string& where);

// Rejects values out of range and impossible combinations (e.g. bits 5, smoothquant at 4 bits) with
// ValueError.
void validate(const QuantConfig& c);

}  // namespace arrowquant
