// AngelSlim's SEQ 2-bit weights shipped fake-quantised: float values that lie on scale · {±0.25, ±0.75}
// per group (its quantisation-aware training's grid: no zero level). Found in the values and stored as
// our int2_half codes, w = S·(c − 1.5) with S = 2·(the group's inner level), so a model trained by
// AngelSlim runs at 2 bits here. The inner levels are held exactly; the outer ones are 3·inner, which
// the checkpoint's bfloat16 may have rounded (0.75·s needs more mantissa bits than 0.25·s): that
// difference is measured and returned, never assumed to be zero.
#pragma once
#include <cstdint>
#include <optional>

#include "arrowquant/packed_tensor.h"
#include "arrowquant/tensor.h"

namespace arrowquant {

struct SeqSnap {
  QuantizedTensor q;          // int2_half, in the largest group size whose every group fits
  double max_rel_diff = 0;    // largest |stored − ours| / |stored| (outer levels only)
};

// nullopt unless every group of some size (the whole row, 128, 64 or 32 weights, tried in that
// order) has only the values ±a and ±3a (3a within 2^-7 relative) for one a > 0 that, doubled, is a
// float16 value.
std::optional<SeqSnap> snap_to_seq_grid(const FloatTensor& w);

}  // namespace arrowquant
