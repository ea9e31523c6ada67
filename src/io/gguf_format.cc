#include "io/gguf_format.h"

#include <utility>

namespace arrowquant::gguf {

namespace {

// llama.cpp's tensor names (per block after "blk.N.") and the Hugging Face names they stand for.
const std::pair<const char*, const char*> kGlobalNames[] = {
    {"token_embd", "model.embed_tokens"}, {"output_norm", "model.norm"}, {"output", "lm_head"}};
const std::pair<const char*, const char*> kBlockNames[] = {
    {"attn_norm", "input_layernorm"},   {"ffn_norm", "post_attention_layernorm"},
    {"attn_q", "self_attn.q_proj"},     {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},     {"attn_output", "self_attn.o_proj"},
    {"ffn_gate", "mlp.gate_proj"},      {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"}};

const Architecture kArchitectures[] = {{"llama", "llama", "LlamaForCausalLM", true},
                                       {"qwen2", "qwen2", "Qwen2ForCausalLM", false}};

std::pair<std::string, std::string> split_suffix(const std::string& name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return {name, ""};
  return {name.substr(0, dot), name.substr(dot)};
}

}  // namespace

const Architecture* architecture_by_gguf(const std::string& name) {
  for (const auto& a : kArchitectures)
    if (name == a.gguf) return &a;
  return nullptr;
}

const Architecture* architecture_by_model_type(const std::string& model_type) {
  for (const auto& a : kArchitectures)
    if (model_type == a.model_type) return &a;
  return nullptr;
}

std::string hf_name(const std::string& gguf_name) {
  const auto [stem, suffix] = split_suffix(gguf_name);
  for (const auto& [g, h] : kGlobalNames)
    if (stem == g) return h + suffix;
  if (stem.rfind("blk.", 0) == 0) {
    const size_t d2 = stem.find('.', 4);
    if (d2 != std::string::npos) {
      const std::string layer = stem.substr(4, d2 - 4), part = stem.substr(d2 + 1);
      for (const auto& [g, h] : kBlockNames)
        if (part == g) return "model.layers." + layer + "." + h + suffix;
    }
  }
  return gguf_name;
}

std::string gguf_name(const std::string& hf_name) {
  const auto [stem, suffix] = split_suffix(hf_name);
  for (const auto& [g, h] : kGlobalNames)
    if (stem == h) return g + suffix;
  const std::string prefix = "model.layers.";
  if (stem.rfind(prefix, 0) == 0) {
    const size_t d2 = stem.find('.', prefix.size());
    if (d2 != std::string::npos) {
      const std::string layer = stem.substr(prefix.size(), d2 - prefix.size()), part = stem.substr(d2 + 1);
      for (const auto& [g, h] : kBlockNames)
        if (part == h) return "blk." + layer + "." + g + suffix;
    }
  }
  return hf_name;
}

bool is_query(const std::string& hf_name) { return hf_name.find(".self_attn.q_proj.") != std::string::npos; }
bool is_key(const std::string& hf_name) { return hf_name.find(".self_attn.k_proj.") != std::string::npos; }

}  // namespace arrowquant::gguf
