#include "pipeline/precision_rules.h"

#include <fnmatch.h>

#include <algorithm>

#include "arrowquant/error.h"
#include "model/residual_rotation.h"

namespace arrowquant {

bool glob_match(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

bool is_embedding_or_head(const std::string& name) {
  static const char* kPatterns[] = {"*embed*", "*embeddings*", "*wte*", "*wpe*", "lm_head*",
                                    "*.lm_head.*", "output.weight", "*tok_embeddings*"};
  for (const char* p : kPatterns)
    if (glob_match(p, name)) return true;
  return false;
}

namespace {

// Every 2-D table: weight matrices, and embedding tables too — a lookup undoes the rotation of its row
// (one transform per token), and a head tied to the table rotates its input like any Linear. Rotated,
// a table's outlier columns are spread over each row (SmolLM2's tied table at INT3 g64, Linears at
// INT8: KL 0.507 → 0.301). A row too short for a Hadamard block (odd widths) stays as it is.
// With the residual stream rotated offline, only the Linears that read something else (o, down) are.
InputRotation rotation_for(const SourceTensorInfo& t, const QuantConfig& c) {
  if (c.rotation_kind() == RotationKind::None || t.shape.size() != 2) return {};
  if (c.rotation == RotationChoice::Residual && residual_role(t.name) != ResidualRole::Writer) return {};
  InputRotation r = hadamard_rotation(t.shape.back(), uint64_t(c.rotation_seed), c.rotation_block);
  return r.block > 1 ? r : InputRotation{};
}

}  // namespace

TensorPlan plan_tensor(const SourceTensorInfo& t, const QuantConfig& c) {
  // Quantising our own output twice compounds the error silently: quantise the original. A tensor that
  // only exists quantised elsewhere (a GGUF's Q8_0, a GPTQ checkpoint) is requantised from its values.
  if (t.format && t.stored_type.empty())
    throw ValueError("tensor " + t.name + " is already quantised (" + std::string(t.format->name) +
                     "); quantise from the original weights instead");
  TensorPlan p;
  p.group_size = c.group_size;
  if (!dtype_is_float(t.dtype)) { p.reason = "not floating point: stored unchanged"; return p; }
  if (t.shape.size() < 2) { p.reason = "1-D (norm or bias): kept float"; return p; }
  for (const auto& pin : c.pins) {
    if (!glob_match(pin.pattern, t.name)) continue;
    p.reason = "pinned by '" + pin.pattern + "=" + pin.target + "'";
    if (pin.target == "float") return p;
    p.quantize = true;
    p.format = c.format_for(std::stoi(pin.target), t.shape.back());
    p.rotation = rotation_for(t, c);
    return p;
  }
  if (is_embedding_or_head(t.name)) {
    if (c.embedding_bits >= 16) { p.reason = "embedding/head: kept float (embedding_bits " + std::to_string(c.embedding_bits) + ")"; return p; }
    p.quantize = true;
    p.format = c.format_for(c.embedding_bits, t.shape.back());
    p.reason = "embedding/head at " + std::to_string(c.embedding_bits) + " bits";
    p.rotation = rotation_for(t, c);
    return p;
  }
  p.quantize = true;
  p.format = c.format_for(c.bits, t.shape.back());
  p.rotation = rotation_for(t, c);
  p.reason = "weight matrix";
  return p;
}

}  // namespace arrowquant
