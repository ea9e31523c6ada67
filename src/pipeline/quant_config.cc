#include "arrowquant/quant_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "arrowquant/error.h"
#include "arrowquant/quant_format.h"
#include "pipeline/recorded_inputs.h"
#include "util/files.h"
#include "util/setting_visitors.h"

extern char** environ;

namespace arrowquant {

namespace {
constexpr std::string_view kCalibration = "Calibration", kAdvanced = "Advanced";
}  // namespace

void QuantConfig::visit(SettingVisitor& v) {
  v.visit(profile, {"profile", "Preset: edge (2-bit, g64, 4-bit embeddings), local (4-bit, g128, 8-bit embeddings; "
                               "default), cloud (8-bit); every other setting applies on top of it. Named for an image "
                               "diffusion model, the ArrowQuant V2 values: edge 2-bit g256, 5 time groups, "
                               "min-accuracy 0.65, 32 samples; local 4-bit g128, 10, 0.85, 128; cloud 8-bit g64, 20, "
                               "0.95, 512; each with --calibration trajectory"});
  v.visit(bits, {"bits", "Code width of weight matrices (a width of the format table: 2, 3, 4, 5, 6 or 8)"});
  v.visit(group_size, {"group_size", "Weights per scale along a row: 32, 64, 128, 256, or 0 / channel for one scale "
                                     "per output channel", {}, 0, HUGE_VAL, false, true, "channel"});
  v.visit(symmetric, {"sym", "Symmetric codes (no zero points) instead of affine", {}, -HUGE_VAL, HUGE_VAL, true});
  v.visit(half, {"half", "Symmetric codes centred between two levels, no level at zero: scale·(c − (2^bits − 1)/2), "
                         "AngelSlim's SEQ grid at 2 bits (±0.25, ±0.75 of the range); implies --sym. Use it on "
                         "rotated weights (GPTQ rotates by default): groups with outliers have no level "
                         "for their small weights", {}, -HUGE_VAL, HUGE_VAL, true});
  visit_enum(v, codebook, kCodebookNames,
             {"codebook", "Non-uniform levels per group instead of the integer grid: nf (NormalFloat, QLoRA's NF4: "
                          "normal quantiles; 4 bits), gauss (Lloyd-Max levels of a normal distribution, the least "
                          "squared error for rotated weights; 2, 3 and 4 bits), lattice (2 bits: 8 weights per 16-bit code from an E8 "
                          "lattice codebook, 22 % less squared error than gauss2; rows that are not whole 8-weight "
                          "vectors and the 3- and 4-bit choices take gauss), e4m3 or e5m2 (8 bits: FP8 weights, "
                          "each code an OCP 8-bit float times the group's scale, as vLLM and AngelSlim ship them; "
                          "use --group-size 0 for per-channel scales; decode runs them with f32 activations), "
                          "or none (default). Widths the family lacks (8-bit embeddings; 5, 6 or 8 bits in an "
                          "allocation) keep the uniform grid"});
  visit_enum(v, method, kMethodNames,
             {"method", "rtn (round to nearest; default), gptq (error-compensating, needs --calibration), awq "
                        "(activation-aware scales folded into the previous op), smoothquant (W8A8: int8 weights, "
                        "int8 activations at run time)"});
  visit_enum(v, clip, kClipNames,
             {"clip", "Range per group: minmax, or mse (search the clip that minimises squared error; default)"});
  visit_enum(v, rotation, kRotationNames,
             {"rotation", "Quantise weight matrices in a rotated input space: hadamard (a randomised Hadamard "
                          "transform per block of inputs, undone at run time by rotating each layer's input: "
                          "spreads outliers), residual (decoders with RMSNorm: the residual stream rotated "
                          "offline instead — norms folded, embeddings, q/k/v, gate/up, o, down and the head "
                          "rotated, so no block input but o's and down's is rotated at run time), none, or auto "
                          "(default: hadamard with --method gptq, where it measured far better at 2-3 bits, "
                          "none otherwise)"});
  v.visit(rotation_seed, {"rotation_seed", "Seed of the rotation's random signs", kAdvanced, 0, 9007199254740992.0});
  v.visit(rotation_block, {"rotation_block", "Largest Hadamard block of input channels the rotation mixes (0: the "
                                             "largest order 2^k or 12·2^k or 144·2^k dividing the row)",
                           kAdvanced, 0, 1 << 20});
  v.visit(embedding_bits, {"embedding_bits", "Width for embeddings and LM head (a format width; 16 or 32 keep them float)"});
  std::vector<std::string> pin_text;
  for (const auto& p : pins) pin_text.push_back(p.pattern + "=" + p.target);
  v.visit(pin_text, {"pin", "Pin tensors matching a glob to a width: 'PATTERN=8' or 'PATTERN=float' (repeatable; "
                            "first match wins; YAML: a list under pins)"});
  pins.clear();
  for (const auto& t : pin_text) {
    const auto eq = t.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == t.size())
      throw ValueError("pin must look like PATTERN=BITS or PATTERN=float, got \"" + t + "\"");
    pins.push_back({t.substr(0, eq), t.substr(eq + 1)});
  }
  v.visit(allow_nonfinite, {"allow_nonfinite", "Replace NaN/Inf weights by 0 instead of refusing (recorded in metadata)",
                            {}, -HUGE_VAL, HUGE_VAL, true});
  v.visit(threads, {"threads", "Worker threads (0 = all cores)", {}, 0, 4096, false, false});
  v.visit(chunk_bytes, {"chunk_bytes", "Largest data value per Parquet row; bigger tensors are split by rows", kAdvanced,
                        1, double((int64_t(1) << 31) - 1024)});

  v.visit(calibration, {"calibration", "Calibration text: .txt (one document per line) or .jsonl ({\"text\": ...} per "
                                       "line); for a diffusion model the word 'trajectory': states along its own "
                                       "guided denoising runs, every timestep and class; for a model ArrowQuant "
                                       "cannot run, a .safetensors of input Hessians recorded where it runs (one "
                                       "[in, in] E[x·xᵀ] per weight matrix, under the weight's name: "
                                       "scripts/terrain_unet.py record): gptq, rtn, --min-accuracy and --target-bpw from each "
                                       "layer's Hessian", kCalibration});
  v.visit(samples, {"samples", "Calibration sequences (diffusion: trajectory states)", kCalibration, 1, 1 << 20});
  v.visit(seq_len, {"seq_len", "Tokens per calibration sequence (0: 128 for encoders, 256 for decoders, never more "
                               "than the model's context)", kCalibration, 0, 1 << 20});
  v.visit(damp, {"damp", "GPTQ damping, fraction of the mean Hessian diagonal, in (0, 1)", kCalibration, 0, 1});
  v.visit(act_order, {"act_order", "GPTQ: quantise columns by decreasing activation energy (implies static groups; lattice formats keep the natural order of their 8-column vectors)",
                      kCalibration, -HUGE_VAL, HUGE_VAL, true});
  v.visit(static_groups, {"static_groups", "GPTQ: group scales from the original weights", kCalibration, -HUGE_VAL,
                          HUGE_VAL, true});
  v.visit(scale_refits, {"scale_refits", "GPTQ: rounds of refitting each group's scale to the layer's output on the "
                                       "calibration data by least squares (codes fixed), each after the first "
                                       "followed by a GPTQ pass at the refitted scales; a row keeps its best "
                                       "(0 = plain GPTQ)", kCalibration, 0, 16});
  v.visit(tune_epochs, {"tune_epochs", "Block-wise tuning (decoders): passes over the calibration sequences in "
                                     "which every quantised Linear's group scales (and codes, --tune-codes) follow "
                                     "the gradient of the block's output error against the float model's block "
                                     "output; a block keeps them only if its error fell (0 = off; 10 measured best "
                                     "on stories260K, each epoch costs about three float passes of the block)",
                                     kCalibration, 0, 100});
  v.visit(tune_samples, {"tune_samples", "Block-wise tuning runs on the first this many calibration sequences (0 = "
                                       "all; its time grows with sequences × epochs)", kCalibration, 0, 1 << 20});
  v.visit(tune_lr, {"tune_lr", "Block-wise tuning: Adam's step on the log of each scale", kCalibration, 1e-6, 1});
  v.visit(tune_norms, {"tune_norms", "Block-wise tuning also moves each block's norm weights, which the file keeps "
                                     "in float (on|off; default off)", kCalibration});
  v.visit(tune_codes, {"tune_codes", "Block-wise tuning also re-chooses the codes: a float weight behind each "
                                     "code, rounded on every step, its gradient passed straight through "
                                     "(EfficientQAT's Block-AP; on|off; default on)", kCalibration});
  v.visit(awq_grid, {"awq_grid", "AWQ: scale exponents tried in [0, 1)", kCalibration, 1, 1000});
  v.visit(smooth_alpha, {"smooth_alpha", "SmoothQuant migration strength", kCalibration, 0, 1});
  v.visit(float_targets, {"float_targets", "GPTQ: fit each layer to the float model's output on its float inputs, so "
                                           "it absorbs the error of the layers before it (on|off; default off: it "
                                           "overfits the calibration text when that differs from what the model later "
                                           "sees)", kCalibration});
  v.visit(bias_correction, {"bias_correction", "Calibrated runs: move each layer's mean output error into its bias, "
                                               "when it has one (on|off; default on)", kCalibration});
  v.visit(importance, {"importance", "RTN given --calibration: weigh each weight's rounding error by the mean square "
                                     "of its input on the calibration text when choosing group scales (llama.cpp's "
                                     "importance matrix; on|off; default on)", kCalibration});
  v.visit(fuse_siblings, {"fuse_siblings", "Bit allocation: give Linears that read the same input (q/k/v, gate/up) "
                                           "one width, as runtimes that fuse them into one product need (default: "
                                           "each is allocated alone)", kCalibration, -HUGE_VAL, HUGE_VAL, true});
  visit_enum(v, export_compatible, kExportCompatibleNames,
             {"export_compatible", "Fit a serving engine's quantised checkpoints (`arrowquant export --to "
                                   "compressed-tensors|gptq`): vllm = integer grids of 4 or 8 bits, no rotation "
                                   "(auto becomes none), q/k/v and gate/up in one format (allocation fuses them), "
                                   "each GPU's share of a row whole groups for --tensor-parallel; none (default)"});
  v.visit(tensor_parallel, {"tensor_parallel", "With --export-compatible: the GPUs each Linear is split across "
                                               "(vLLM's --tensor-parallel-size); rows and groups must divide "
                                               "evenly", {}, 1, 1024});
  v.visit(min_accuracy, {"min_accuracy", "Redo a layer at INT4, then INT8, when its output cosine on the calibration "
                                         "data falls below this (e.g. 0.99; 0 = off), in [0, 1); for a diffusion "
                                         "model, when its noise prediction's cosine with the float model's (the "
                                         "layers quantised so far, on 64 trajectory states) does", kCalibration, 0, 1});
  v.visit(time_groups, {"time_groups", "Diffusion models (with --calibration trajectory): cut the timesteps into "
                                       "this many equal groups and store, per group, a static int8 clip of each "
                                       "block Linear's input, chosen on the states of that group's timesteps "
                                       "(TDQ-style time-aware activations; run them with --static-activations; "
                                       "1 = one clip for all timesteps, 0 = none)", kCalibration, 0, 1000});
  v.visit(target_bpw, {"target_bpw", "Allocate widths per tensor by measured sensitivity to reach this many bits "
                                     "per weight over the whole file (0 = off). With --calibration each tensor's "
                                     "errors count by how far the model's output moves with it alone rounded",
                                     kCalibration, 0, 64});
  v.visit(target_size_mb, {"target_size", "The same, to a model.parquet of about this many MB (10^6 bytes; 0 = off)",
                           kCalibration, 0, HUGE_VAL});
}

nlohmann::json QuantConfig::to_json() const {
  QuantConfig copy = *this;  // visit() takes members by reference; reading needs no change
  const VisitSettings visit = [&](SettingVisitor& v) { copy.visit(v); };
  nlohmann::json j = settings_json(visit, [](const SettingInfo& s) { return s.group != kCalibration; });
  if (uses_calibration())
    j["calibration"] = settings_json(visit, [](const SettingInfo& s) { return s.group == kCalibration; });
  if (modality != Modality::Text) j["modality"] = modality_name(modality);
  return j;
}

std::vector<std::string> profile_names() { return {"edge", "local", "cloud"}; }

namespace {

using ProfileValues = std::vector<std::pair<std::string, std::string>>;

const ProfileValues& profile_values(const std::string& name, Modality modality) {
  // edge: smallest file (phones, boards); local: laptops and desktops; cloud: near-lossless. Each is a
  // list of settings, applied like any other.
  static const std::map<std::string, ProfileValues> kText = {
      {"edge", {{"bits", "2"}, {"group_size", "64"}, {"embedding_bits", "4"}, {"clip", "mse"}}},
      {"local", {{"bits", "4"}, {"group_size", "128"}, {"embedding_bits", "8"}, {"clip", "mse"}}},
      {"cloud", {{"bits", "8"}, {"group_size", "128"}, {"embedding_bits", "8"}, {"clip", "mse"}}},
  };
  // Image diffusion: the seed's DiffusionQuantConfig profiles (bit_width, group_size, num_time_groups,
  // min_accuracy, calibration_samples), calibrated on the model's own denoising trajectories (time
  // groups and min_accuracy both need states). The seed's min_accuracy values are permissive output
  // cosines (a layer at 0.85 is far from lossless): tighten with --min-accuracy.
  static const std::map<std::string, ProfileValues> kImageDiffusion = {
      {"edge", {{"bits", "2"}, {"group_size", "256"}, {"embedding_bits", "8"}, {"clip", "mse"},
                {"calibration", "trajectory"}, {"time_groups", "5"}, {"min_accuracy", "0.65"}, {"samples", "32"}}},
      {"local", {{"bits", "4"}, {"group_size", "128"}, {"embedding_bits", "8"}, {"clip", "mse"},
                 {"calibration", "trajectory"}, {"time_groups", "10"}, {"min_accuracy", "0.85"}, {"samples", "128"}}},
      {"cloud", {{"bits", "8"}, {"group_size", "64"}, {"embedding_bits", "8"}, {"clip", "mse"},
                 {"calibration", "trajectory"}, {"time_groups", "20"}, {"min_accuracy", "0.95"}, {"samples", "512"}}},
  };
  const auto& table = modality == Modality::ImageDiffusion ? kImageDiffusion : kText;
  auto it = table.find(name);
  if (it == table.end()) throw ValueError("unknown profile \"" + name + "\" (known: edge, local, cloud)");
  return it->second;
}

}  // namespace

const char* modality_name(Modality m) { return m == Modality::ImageDiffusion ? "image diffusion" : "text"; }

void apply_profile(QuantConfig& c, const std::string& name, Modality modality) {
  for (const auto& [k, v] : profile_values(name, modality)) set_option(c, k, v, "profile " + name);
  c.profile = name;
  c.modality = modality;
}

std::string profile_summary(const std::string& name, Modality modality) {
  std::string out = name + " (" + modality_name(modality) + "):";
  for (const auto& [k, v] : profile_values(name, modality)) out += " " + k + " " + v + ",";
  out.pop_back();
  return out;
}

void set_option(QuantConfig& c, const std::string& key, const std::string& value, const std::string& source) {
  if (key == "profile") return apply_profile(c, value, c.modality);
  if (key == "pin" && (value.rfind('=') == std::string::npos || value.rfind('=') == 0 || value.back() == '='))
    throw ValueError(source + ": pin must look like PATTERN=BITS or PATTERN=float, got \"" + value + "\"");
  const VisitSettings visit = [&](SettingVisitor& v) { c.visit(v); };
  if (!set_setting(visit, key, value, source))
    throw ValueError(source + ": unknown setting \"" + key + "\" (known: " + setting_keys(visit) + ")");
}

std::map<std::string, std::string> quant_env_from_process() {
  std::map<std::string, std::string> out;
  const std::string prefix = "ARROW_QUANT_";
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    if (kv.rfind(prefix, 0) != 0) continue;
    auto eq = kv.find('=');
    std::string key = kv.substr(prefix.size(), eq - prefix.size());
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
    out[key] = kv.substr(eq + 1);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> read_settings_yaml(const std::string& path) {
  std::string text;
  try {
    text = read_text_file(path);
  } catch (const IoError&) {
    throw ValueError(path + ": cannot read the config file");
  }
  return parse_settings_yaml(text, path);
}

std::vector<std::pair<std::string, std::string>> parse_settings_yaml(const std::string& text, const std::string& path) {
  std::vector<std::pair<std::string, std::string>> kv;
  try {
    const YAML::Node root = YAML::Load(text);
    if (root.IsNull()) return kv;  // an empty file sets nothing
    if (!root.IsMap()) throw ValueError(path + ": the config must be a mapping of settings");
    for (auto it = root.begin(); it != root.end(); ++it) {
      // Copies: yaml-cpp's it->second refers into a temporary that dies within the statement.
      const YAML::Node key_node = it->first, value = it->second;
      if (!key_node.IsScalar()) throw ValueError(path + ": setting names must be plain words");
      const std::string key = key_node.as<std::string>();
      if (value.IsSequence()) {
        for (const auto& item : value) {
          if (!item.IsScalar()) throw ValueError(path + ": the list \"" + key + "\" must hold plain values");
          kv.push_back({key == "pins" ? "pin" : key, item.as<std::string>()});
        }
      } else if (value.IsScalar()) {
        kv.push_back({key, value.as<std::string>()});
      } else {
        throw ValueError(path + ": setting \"" + key + "\" must be a value or a list");
      }
    }
  } catch (const YAML::Exception& e) {
    throw ValueError(path + ": invalid YAML: " + e.what());
  }
  return kv;
}

QuantConfig resolve_quant_config(const std::string& yaml_path, const std::map<std::string, std::string>& env,
                                 const std::vector<std::pair<std::string, std::string>>& flags,
                                 Modality modality) {
  const auto yaml_kv = yaml_path.empty() ? std::vector<std::pair<std::string, std::string>>{}
                                         : read_settings_yaml(yaml_path);
  // The profile is chosen by the highest layer that names one, then the layers apply on top of it.
  // A diffusion model's profile values (trajectory calibration and all) apply only to a profile named
  // by some layer: the default stays the plain local settings, so no run calibrates unasked.
  std::string profile = "local";
  bool named = false;
  for (auto& [k, v] : yaml_kv) if (k == "profile") profile = v, named = true;
  if (auto it = env.find("profile"); it != env.end()) profile = it->second, named = true;
  for (auto& [k, v] : flags) if (k == "profile") profile = v, named = true;

  QuantConfig c;
  apply_profile(c, profile, named ? modality : Modality::Text);
  for (auto& [k, v] : yaml_kv) if (k != "profile") set_option(c, k, v, yaml_path);
  for (auto& [k, v] : env) if (k != "profile") set_option(c, k, v, "ARROW_QUANT_" + k);
  for (auto& [k, v] : flags) if (k != "profile") set_option(c, k, v, "--" + k);
  validate(c);
  return c;
}

void validate(const QuantConfig& c) {
  QuantConfig copy = c;
  check_setting_ranges([&](SettingVisitor& v) { copy.visit(v); });
  if (!c.format_for(c.bits))
    throw ValueError("bits must be " + format_widths_text() + " (got " + std::to_string(c.bits) + ")");
  // An allocation chooses the widths itself (--bits is not used), taking gauss where lattice has none.
  const bool allocating = c.target_bpw > 0 || c.target_size_mb > 0;
  if (c.codebook != Codebook::None && !allocating && !find_codebook_format(c.codebook, c.bits))
    throw ValueError("--codebook " + std::string(enum_option_name(kCodebookNames, int(c.codebook))) + " has no " +
                     std::to_string(c.bits) + "-bit format (nf: 4 bits; gauss: 2, 3 or 4; lattice: 2; e4m3, e5m2: 8)");
  if (c.codebook != Codebook::None && c.half)
    throw ValueError("--half and --codebook both choose the levels: give one");
  const auto& groups = quantiser_group_sizes();
  if (c.group_size != 0 && std::find(groups.begin(), groups.end(), c.group_size) == groups.end())
    throw ValueError("group size must be 32, 64, 128, 256 or 0 for per-channel (got " + std::to_string(c.group_size) + ")");
  if (c.needs_calibration() && c.calibration.empty())
    throw ValueError(std::string(c.method == Method::Rtn ? "--min-accuracy, --target-bpw, --target-size and --time-groups"
                                                         : "--method " + method_name(c.method)) +
                     " needs calibration text: --calibration FILE (.txt, one document per line, or .jsonl "
                     "with a \"text\" field)");
  check_recorded_inputs_settings(c);
  if (c.damp <= 0 || c.damp >= 1) throw ValueError("damp must be in (0, 1)");
  if (c.min_accuracy >= 1) throw ValueError("min_accuracy must be in [0, 1)");
  if (c.target_bpw > 0 && c.target_size_mb > 0) throw ValueError("give --target-bpw or --target-size, not both");
  if (c.method == Method::SmoothQuant && c.bits != 8)
    throw ValueError("smoothquant makes W8A8 models: use --bits 8 (got " + std::to_string(c.bits) + ")");
  if (c.embedding_bits != 16 && c.embedding_bits != 32 && !c.format_for(c.embedding_bits))
    throw ValueError("embedding bits must be " + format_widths_text() + ", or 16/32 to keep float (got " +
                     std::to_string(c.embedding_bits) + ")");
  for (const auto& p : c.pins) {
    const auto& t = p.target;
    if (t != "float" && !(t.size() == 1 && std::isdigit(static_cast<unsigned char>(t[0])) && is_format_width(t[0] - '0')))
      throw ValueError("pin " + p.pattern + "=" + t + ": the width must be " + format_widths_text() + " or float");
    if (c.export_compatible == ExportCompatible::Vllm && t != "float" && t != "4" && t != "8")
      throw ValueError("pin " + p.pattern + "=" + t + ": --export-compatible vllm runs 4 or 8 bits (or float)");
  }
  if (c.export_compatible == ExportCompatible::Vllm) {
    const std::string why = " cannot be served by vLLM from our exports (--export-compatible vllm)";
    const bool allocating_widths = c.target_bpw > 0 || c.target_size_mb > 0;
    if (!allocating_widths && c.bits != 4 && c.bits != 8) throw ValueError("--bits " + std::to_string(c.bits) + why + ": use 4 or 8");
    if (c.codebook != Codebook::None) throw ValueError("--codebook" + why + ": integer grids only");
    if (c.half) throw ValueError("--half" + why + ": it has no level at zero");
    if (c.rotation == RotationChoice::Hadamard || c.rotation == RotationChoice::Residual)
      throw ValueError("--rotation " + std::string(enum_option_name(kRotationNames, int(c.rotation))) + why +
                       ": vLLM does not rotate inputs (use --rotation none or auto)");
    if (c.min_accuracy > 0)
      throw ValueError("--min-accuracy" + why + ": it widens single Linears, and q/k/v and gate/up must share a format");
  } else if (c.tensor_parallel != 1) {
    throw ValueError("--tensor-parallel needs --export-compatible vllm");
  }
}

}  // namespace arrowquant
