#include "arrowquant/quant_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "arrowquant/error.h"
#include "arrowquant/quant_format.h"

extern char** environ;

namespace arrowquant {

nlohmann::json QuantConfig::to_json() const {
  nlohmann::json pins_j = nlohmann::json::array();
  for (const auto& p : pins) pins_j.push_back(p.pattern + "=" + p.target);
  nlohmann::json j = {{"profile", profile}, {"bits", bits}, {"group_size", group_size}, {"sym", symmetric},
          {"method", method}, {"clip", clip}, {"embedding_bits", embedding_bits}, {"pins", pins_j},
          {"allow_nonfinite", allow_nonfinite}};
  if (needs_calibration()) j["calibration"] = calibration_json();
  return j;
}

nlohmann::json QuantConfig::calibration_json() const {
  nlohmann::json j = {{"calibration", calibration}, {"samples", samples}, {"seq_len", seq_len},
                      {"bias_correction", bias_correction}};
  if (method == "gptq") {
    j["damp"] = damp;
    j["act_order"] = act_order;
    j["static_groups"] = static_groups;
    j["float_targets"] = float_targets;
  }
  if (method == "awq") j["awq_grid"] = awq_grid;
  if (method == "smoothquant") j["smooth_alpha"] = smooth_alpha;
  if (min_accuracy > 0) j["min_accuracy"] = min_accuracy;
  if (target_bpw > 0) j["target_bpw"] = target_bpw;
  if (target_size_mb > 0) j["target_size_mb"] = target_size_mb;
  return j;
}

std::vector<std::string> profile_names() { return {"edge", "local", "cloud"}; }

void apply_profile(QuantConfig& c, const std::string& name) {
  // edge: smallest file (phones, boards); local: laptops and desktops; cloud: near-lossless.
  if (name == "edge") { c.bits = 2; c.group_size = 64; c.embedding_bits = 4; c.clip = "mse"; }
  else if (name == "local") { c.bits = 4; c.group_size = 128; c.embedding_bits = 8; c.clip = "mse"; }
  else if (name == "cloud") { c.bits = 8; c.group_size = 128; c.embedding_bits = 8; c.clip = "mse"; }
  else throw ValueError("unknown profile \"" + name + "\" (known: edge, local, cloud)");
  c.profile = name;
}

namespace {
int64_t parse_int(const std::string& v, const std::string& key, const std::string& source) {
  char* end = nullptr;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end) throw ValueError(source + ": " + key + " must be an integer, got \"" + v + "\"");
  return x;
}
double parse_double(const std::string& v, const std::string& key, const std::string& source) {
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || !std::isfinite(x)) throw ValueError(source + ": " + key + " must be a number, got \"" + v + "\"");
  return x;
}
bool parse_bool(const std::string& v, const std::string& key, const std::string& source) {
  std::string s = v;
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  if (s == "1" || s == "true" || s == "yes" || s == "on") return true;
  if (s == "0" || s == "false" || s == "no" || s == "off") return false;
  throw ValueError(source + ": " + key + " must be true or false, got \"" + v + "\"");
}
}  // namespace

void set_option(QuantConfig& c, const std::string& key, const std::string& value, const std::string& source) {
  if (key == "profile") apply_profile(c, value);
  else if (key == "bits") c.bits = int(parse_int(value, key, source));
  else if (key == "group_size") {
    std::string v = value;
    c.group_size = (v == "channel" || v == "per-channel") ? 0 : parse_int(v, key, source);
  } else if (key == "sym") c.symmetric = parse_bool(value, key, source);
  else if (key == "method") c.method = value;
  else if (key == "clip") c.clip = value;
  else if (key == "embedding_bits") c.embedding_bits = int(parse_int(value, key, source));
  else if (key == "pin") {
    auto eq = value.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == value.size())
      throw ValueError(source + ": pin must look like PATTERN=BITS or PATTERN=float, got \"" + value + "\"");
    c.pins.push_back({value.substr(0, eq), value.substr(eq + 1)});
  } else if (key == "allow_nonfinite") c.allow_nonfinite = parse_bool(value, key, source);
  else if (key == "threads") c.threads = int(parse_int(value, key, source));
  else if (key == "chunk_bytes") c.chunk_bytes = parse_int(value, key, source);
  else if (key == "calibration") c.calibration = value;
  else if (key == "samples") c.samples = parse_int(value, key, source);
  else if (key == "seq_len") c.seq_len = parse_int(value, key, source);
  else if (key == "damp") c.damp = parse_double(value, key, source);
  else if (key == "act_order") c.act_order = parse_bool(value, key, source);
  else if (key == "static_groups") c.static_groups = parse_bool(value, key, source);
  else if (key == "float_targets") c.float_targets = parse_bool(value, key, source);
  else if (key == "bias_correction") c.bias_correction = parse_bool(value, key, source);
  else if (key == "awq_grid") c.awq_grid = int(parse_int(value, key, source));
  else if (key == "smooth_alpha") c.smooth_alpha = parse_double(value, key, source);
  else if (key == "min_accuracy") c.min_accuracy = parse_double(value, key, source);
  else if (key == "target_bpw") c.target_bpw = parse_double(value, key, source);
  else if (key == "target_size") c.target_size_mb = parse_double(value, key, source);
  else throw ValueError(source + ": unknown setting \"" + key + "\"");
}

std::map<std::string, std::string> quant_env_from_process() {
  std::map<std::string, std::string> out;
  const std::string prefix = "ARROW_QUANT_";
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    if (kv.rfind(prefix, 0) != 0) continue;
    auto eq = kv.find('=');
    std::string key = kv.substr(prefix.size(), eq - prefix.size());
    std::transform(key.begin(), key.end(), key.begin(), ::tolower);
    out[key] = kv.substr(eq + 1);
  }
  return out;
}

QuantConfig resolve_quant_config(const std::string& yaml_path, const std::map<std::string, std::string>& env,
                                 const std::vector<std::pair<std::string, std::string>>& flags) {
  // The profile is chosen by the highest layer that names one, then the layers apply on top of it.
  std::vector<std::pair<std::string, std::string>> yaml_kv;
  if (!yaml_path.empty()) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(yaml_path);
    } catch (const YAML::BadFile&) {
      throw ValueError(yaml_path + ": cannot read the config file");
    } catch (const YAML::Exception& e) {
      throw ValueError(yaml_path + ": invalid YAML: " + e.what());
    }
    if (!root.IsMap()) throw ValueError(yaml_path + ": the config must be a mapping of settings");
    for (auto it = root.begin(); it != root.end(); ++it) {
      // Copies: yaml-cpp's it->second refers into a temporary that dies within the statement.
      const YAML::Node key_node = it->first, value = it->second;
      const std::string key = key_node.as<std::string>();
      if (value.IsSequence()) {
        for (const auto& v : value) yaml_kv.push_back({key == "pins" ? "pin" : key, v.as<std::string>()});
      } else if (value.IsScalar()) {
        yaml_kv.push_back({key, value.as<std::string>()});
      } else {
        throw ValueError(yaml_path + ": setting \"" + key + "\" must be a value or a list");
      }
    }
  }
  std::string profile = "local";
  for (auto& [k, v] : yaml_kv) if (k == "profile") profile = v;
  if (auto it = env.find("profile"); it != env.end()) profile = it->second;
  for (auto& [k, v] : flags) if (k == "profile") profile = v;

  QuantConfig c;
  apply_profile(c, profile);
  for (auto& [k, v] : yaml_kv) if (k != "profile") set_option(c, k, v, yaml_path);
  for (auto& [k, v] : env) if (k != "profile") set_option(c, k, v, "ARROW_QUANT_" + k);
  for (auto& [k, v] : flags) if (k != "profile") set_option(c, k, v, "--" + k);
  validate(c);
  return c;
}

void validate(const QuantConfig& c) {
  if (!find_quant_format(c.bits, c.symmetric))
    throw ValueError("bits must be " + format_widths_text() + " (got " + std::to_string(c.bits) + ")");
  if (c.group_size != 0 && c.group_size != 32 && c.group_size != 64 && c.group_size != 128 && c.group_size != 256)
    throw ValueError("group size must be 32, 64, 128, 256 or 0 for per-channel (got " +
                     std::to_string(c.group_size) + ")");
  if (c.method != "rtn" && c.method != "gptq" && c.method != "awq" && c.method != "smoothquant")
    throw ValueError("unknown method \"" + c.method + "\" (known: rtn, gptq, awq, smoothquant)");
  if (c.needs_calibration() && c.calibration.empty())
    throw ValueError(std::string(c.method == "rtn" ? "--min-accuracy, --target-bpw and --target-size" : "--method " + c.method) +
                     " needs calibration text: --calibration FILE (.txt, one document per line, or .jsonl "
                     "with a \"text\" field)");
  if (c.samples < 1) throw ValueError("samples must be >= 1");
  if (c.seq_len < 0) throw ValueError("seq_len must be >= 0 (0 = the model's default)");
  if (c.damp <= 0 || c.damp >= 1) throw ValueError("damp must be in (0, 1)");
  if (c.awq_grid < 1 || c.awq_grid > 1000) throw ValueError("awq_grid must be in 1..1000");
  if (c.smooth_alpha < 0 || c.smooth_alpha > 1) throw ValueError("smooth_alpha must be in [0, 1]");
  if (c.min_accuracy < 0 || c.min_accuracy >= 1) throw ValueError("min_accuracy must be in [0, 1)");
  if (c.target_bpw < 0 || c.target_size_mb < 0) throw ValueError("target_bpw and target_size must be >= 0");
  if (c.target_bpw > 0 && c.target_size_mb > 0) throw ValueError("give --target-bpw or --target-size, not both");
  if (c.method == "smoothquant" && c.bits != 8)
    throw ValueError("smoothquant makes W8A8 models: use --bits 8 (got " + std::to_string(c.bits) + ")");
  if (c.clip != "minmax" && c.clip != "mse") throw ValueError("clip must be minmax or mse (got " + c.clip + ")");
  if (c.embedding_bits != 16 && c.embedding_bits != 32 && !find_quant_format(c.embedding_bits, c.symmetric))
    throw ValueError("embedding bits must be " + format_widths_text() + ", or 16/32 to keep float (got " +
                     std::to_string(c.embedding_bits) + ")");
  for (const auto& p : c.pins) {
    const auto& t = p.target;
    if (t != "float" && !(t.size() == 1 && std::isdigit(static_cast<unsigned char>(t[0])) && is_format_width(t[0] - '0')))
      throw ValueError("pin " + p.pattern + "=" + t + ": the width must be " + format_widths_text() + " or float");
  }
  if (c.threads < 0) throw ValueError("threads must be >= 0");
  if (c.chunk_bytes < 1) throw ValueError("chunk_bytes must be positive");
}

}  // namespace arrowquant
