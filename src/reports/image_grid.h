// Generated images as one PNG grid (cairo), a row per label or filled row by row; written atomically.
#pragma once
#include <string>

#include "arrowquant/diffusion.h"

namespace arrowquant {

// Pixels in [-1, 1] (clamped) to grey levels (1 channel) or RGB (3 channels), each image enlarged
// `scale` times with a 2-pixel gap. ValueError for another channel count.
void write_image_grid_png(const std::string& path, const Images& images, int64_t columns, int scale);

}  // namespace arrowquant
