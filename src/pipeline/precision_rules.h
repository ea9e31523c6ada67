// Mixed precision by tensor name: decides, for each tensor, whether and how it is quantised.
#pragma once
#include <string>

#include "arrowquant/quant_config.h"
#include "arrowquant/quant_format.h"
#include "arrowquant/tensor_source.h"

namespace arrowquant {

struct TensorPlan {
  bool quantize = false;
  const QuantFormat* format = nullptr;
  int64_t group_size = 0;
  InputRotation rotation;  // the input space the matrix is quantised in (weight matrices only)
  std::string reason;  // why: "pinned by '*.attn.*=8'", "norm/bias kept float", "embedding", "linear"
};

bool is_embedding_or_head(const std::string& name);
bool glob_match(const std::string& pattern, const std::string& name);
TensorPlan plan_tensor(const SourceTensorInfo& t, const QuantConfig& c);

}  // namespace arrowquant
