// Per-input-channel scales that make Linears easier to quantise, folded exactly into the op before
// them (see ScaleFold): AWQ (Lin et al., 2023) searches s = mean|x|^α for the α whose rounded
// weights move the layer outputs least; SmoothQuant (Xiao et al., 2022) moves activation outliers
// into the weights with s = max|x|^α / max|w|^(1-α) so that int8 activations lose little.
#pragma once
#include <vector>

#include "quant/rtn.h"
#include "model/linear.h"

namespace arrowquant {

struct InputStats;

struct FoldScales {
  std::vector<float> consumer;  // per consumer input channel: W[:, c] *= s[c], x[c] /= s[c]
  std::vector<float> producer;  // per producer element (norm weight or output row): divided by it
  double alpha = -1;
  double error_before = -1, error_after = -1;  // summed output error at the searched format
};

FoldScales search_awq_scales(const ScaleFold& fold, const InputStats& st, const QuantFormat* fmt,
                             int64_t group_size, ClipMethod clip, int grid, int threads);
FoldScales smoothquant_scales(const ScaleFold& fold, const InputStats& st, double alpha);
// Scales the consumers' columns and divides the producer; the model computes the same function.
void apply_fold(ScaleFold& fold, const FoldScales& s);
// The statistics of an input after x' = x / s.
void rescale_stats(InputStats& st, const std::vector<float>& s);

}  // namespace arrowquant
