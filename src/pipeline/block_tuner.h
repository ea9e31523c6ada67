// Block-wise tuning of quantisation parameters (issue 14 step 5, after OmniQuant's learnable
// clipping and EfficientQAT's Block-AP, kept to what a CPU does): each group's scale of every
// quantised Linear in a block — and optionally each code, through a latent float weight rounded on
// every step, and the block's norm weights — is moved by Adam on the gradient of the block's squared
// output error against the float block's output on the calibration sequences. Layer-wise methods
// (GPTQ, the scale refits) make each Linear's own output right; this lets the Linears of one block
// make up for each other's errors. Scales are tuned in log space (s = s₀·eᶿ: always positive, one
// step size for every group) and rounded to float16 as stored; the tuned block is kept only where
// its error on the calibration sequences fell.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "arrowquant/packed_tensor.h"
#include "model/linear.h"

namespace arrowquant {

class CalibrationModel;

struct BlockTuneOptions {
  int epochs = 0;             // passes over the calibration sequences (0: no tuning)
  double learning_rate = 1e-3;  // Adam's step on the log-scales
  int batch = 4;              // sequences per step
  bool norms = false;         // also tune the block's elementwise norm weights (stored as floats)
  bool codes = false;         // also re-choose the codes: a latent weight per code, rounded with a
                              // straight-through gradient (EfficientQAT's Block-AP)
};

struct BlockTuneReport {
  bool supported = true;      // false: the architecture has no backward pass
  double error_before = 0;    // Σ‖block(x) − target‖² / Σ‖target − x‖² over the sequences
  double error_after = 0;
  int64_t steps = 0;
  bool kept = false;
};

// tensors[i]: linears(b)[i]'s quantised tensor, or null where that Linear is not quantised. The
// Linears hold the dequantised weights on entry; on return they hold those of the tensors' (tuned or
// unchanged) scales, and with opt.norms the norm weights that folds(b) names are tuned in place (or
// left as they were). xs: the block's input states per sequence; targets: its outputs to match.
BlockTuneReport tune_block_scales(CalibrationModel& m, int64_t b, const std::vector<QuantizedTensor*>& tensors,
                                  const std::vector<std::vector<float>>& xs,
                                  const std::vector<std::vector<float>>& targets, const std::vector<int64_t>& lengths,
                                  const BlockTuneOptions& opt);

}  // namespace arrowquant
