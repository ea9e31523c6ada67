// What a serving engine can load from our exports (--export-compatible): checked on the plan, before
// any work, so that a model quantised for vLLM is known to fit it rather than found not to later.
#pragma once
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/quant_config.h"
#include "arrowquant/tensor_source.h"
#include "pipeline/precision_rules.h"

namespace arrowquant {

// vLLM: q/k/v and gate/up of a layer are fused into one product, so they share format and group
// size (or are all float); tensor parallelism splits q/k/v/gate/up by output rows and o/down by input
// columns, so rows, heads and each GPU's share of a row (in whole groups) must divide by
// --tensor-parallel. ValueError listing the first few problems; nothing when export_compatible is none.
void check_serving_constraints(const std::vector<SourceTensorInfo>& tensors, const std::vector<TensorPlan>& plans,
                               const QuantConfig& cfg, const nlohmann::json& model_config);

}  // namespace arrowquant
