// Automatic bit allocation (--target-bpw / --target-size): measures every tensor's sensitivity at
// every width of the format table, then spends the byte budget where it buys the largest drop in error per byte.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/precision_rules.h"
#include "arrowquant/quant_config.h"

namespace arrowquant {

class ModelSession;

// Rewrites plans[i].format for the tensors it allocates (pins are kept) and returns one decision
// per tensor. ValueError when the budget cannot hold even 2 bits everywhere.
nlohmann::json allocate_bits(ModelSession& session, const QuantConfig& cfg, std::vector<TensorPlan>& plans,
                             const std::function<void(const std::string&)>& log);

}  // namespace arrowquant
