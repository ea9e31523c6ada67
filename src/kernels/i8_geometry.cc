#include "kernels/i8_geometry.h"

namespace arrowquant::kernels {

int64_t i8_activation_block(const PackedView& v) {
  const int64_t gs = v.geom.group_size;
  if (v.geom.groups_per_row() == 1) return 128;  // per-channel weights: blocks of 128 activations
  if (gs % 32 != 0) return 0;
  return gs <= 128 ? gs : gs % 128 == 0 ? 128 : 0;
}

}  // namespace arrowquant::kernels
