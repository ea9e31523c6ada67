#include "pipeline/serving_constraints.h"

#include <map>

#include "arrowquant/error.h"

namespace arrowquant {

namespace {

// "model.layers.3.self_attn.q_proj.weight" -> ("model.layers.3.self_attn.", "q_proj"); ("", "") else.
std::pair<std::string, std::string> linear_role(const std::string& name) {
  if (name.rfind("model.layers.", 0) != 0 || !name.ends_with("_proj.weight")) return {};
  const size_t dot = name.rfind('.', name.size() - 8);
  return {name.substr(0, dot + 1), name.substr(dot + 1, name.size() - 7 - dot - 1)};
}

}  // namespace

void check_serving_constraints(const std::vector<SourceTensorInfo>& tensors, const std::vector<TensorPlan>& plans,
                               const QuantConfig& cfg, const nlohmann::json& model_config) {
  if (cfg.export_compatible == ExportCompatible::None) return;
  const int64_t tp = cfg.tensor_parallel;
  std::vector<std::string> problems;
  auto heads = [&](const char* key) {
    return model_config.contains(key) && model_config[key].is_number_integer() ? model_config[key].get<int64_t>() : 0;
  };
  if (int64_t h = heads("num_attention_heads"); h && h % tp)
    problems.push_back(std::to_string(h) + " attention heads do not divide across " + std::to_string(tp) + " GPUs");
  if (int64_t kv = heads("num_key_value_heads"); kv && kv % tp && tp % kv)
    problems.push_back(std::to_string(kv) + " key/value heads neither divide across nor replicate over " +
                       std::to_string(tp) + " GPUs");
  // The fused products: (layer, "qkv" | "gate_up") -> the first member's scheme.
  std::map<std::string, std::pair<std::string, std::string>> fused;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto [layer, role] = linear_role(tensors[i].name);
    if (role.empty() || tensors[i].shape.size() != 2) continue;
    const TensorPlan& p = plans[i];
    const int64_t rows = tensors[i].shape[0], cols = tensors[i].shape[1];
    const int64_t group = p.quantize && p.group_size > 0 && p.group_size < cols ? p.group_size : 0;
    const std::string scheme = p.quantize ? std::string(p.format->name) + " g" + std::to_string(group) : "float";
    const bool row_parallel = role == "o_proj" || role == "down_proj";
    if (row_parallel) {
      if (cols % tp) problems.push_back(tensors[i].name + ": " + std::to_string(cols) + " input columns do not split across " + std::to_string(tp) + " GPUs");
      else if (group && (cols / tp) % group)
        problems.push_back(tensors[i].name + ": each GPU's " + std::to_string(cols / tp) + " input columns are not whole groups of " +
                           std::to_string(group) + " (choose a group size dividing it, or 0 for per channel)");
    } else {
      if (rows % tp) problems.push_back(tensors[i].name + ": " + std::to_string(rows) + " output rows do not split across " + std::to_string(tp) + " GPUs");
      if (group && cols % group)
        problems.push_back(tensors[i].name + ": " + std::to_string(cols) + " input columns are not whole groups of " + std::to_string(group));
      const std::string product = layer + (role == "gate_proj" || role == "up_proj" ? "gate_up" : "qkv");
      auto [it, first] = fused.emplace(product, std::make_pair(tensors[i].name, scheme));
      if (!first && it->second.second != scheme)
        problems.push_back(tensors[i].name + " (" + scheme + ") and " + it->second.first + " (" + it->second.second +
                           ") are fused into one product by vLLM: they need one format (check --pin rules)");
    }
    if (p.quantize && p.format->bits != 4 && p.format->bits != 8)
      problems.push_back(tensors[i].name + ": " + std::string(p.format->name) + " (vLLM runs 4 or 8 bits)");
  }
  if (problems.empty()) return;
  std::string msg = "--export-compatible vllm --tensor-parallel " + std::to_string(tp) + ": " + std::to_string(problems.size()) +
                    " problem" + (problems.size() == 1 ? "" : "s");
  for (size_t i = 0; i < problems.size() && i < 5; ++i) msg += "\n  " + problems[i];
  if (problems.size() > 5) msg += "\n  ...";
  throw ValueError(msg);
}

}  // namespace arrowquant
