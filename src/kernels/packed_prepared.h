// Activations prepared once per product call and shared by every row of the packed kernels: plain
// data, filled and consumed by the same dispatched SIMD target.
#pragma once
#include <cstdint>
#include <vector>

namespace arrowquant::kernels {

// fp32 activations permuted to the lane order codes unpack into, and their sums per weight group.
struct PreparedF32 {
  std::vector<std::vector<float>> xp, xsum;  // one per activation row
};

// int8 activations (one scale per 32 values), widened to int16 and permuted likewise.
struct PreparedI8 {
  std::vector<int16_t> q;
  std::vector<float> scale;   // per 32 values
  std::vector<int32_t> qsum;  // per 32 values
};

}  // namespace arrowquant::kernels
