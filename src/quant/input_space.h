// Weights and statistics carried into a rotated input space (arrowquant/input_rotation.h), where the
// quantisers then work unchanged: W' = W·Rᵀ row by row, and the Hessian of the rotated inputs
// x' = R·x, H' = R·H·Rᵀ, so that GPTQ and importance-weighted rounding see the inputs the stored
// codes will meet at run time.
#pragma once
#include <vector>

#include "arrowquant/input_rotation.h"
#include "arrowquant/tensor.h"
#include "quant/hessian.h"

namespace arrowquant {

// w [rows, cols] with every row rotated. Throws ValueError when r does not fit the row length.
FloatTensor rotated_weight(const FloatTensor& w, const InputRotation& r);
// R·H·Rᵀ, flushed; tokens unchanged.
Hessian rotated_hessian(const Hessian& h, const InputRotation& r);
// E[x_c²] of the inputs the stored codes meet (rotated when r is not none): RTN's importance.
std::vector<float> stored_input_mean_square(const Hessian& h, const InputRotation& r);

}  // namespace arrowquant
