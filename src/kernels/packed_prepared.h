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

// int8 activations, one scale per block of values (i8_activation_block), permuted likewise.
struct PreparedI8 {
  int64_t block = 0;
  size_t chunk_bytes = 0;  // packed bytes per vector chunk the kernel was chosen for
  std::vector<int8_t> natural, q;  // as quantised; permuted to the code order for whole chunks
  std::vector<float> scale, qsum;  // per block: scale and Σq
  std::vector<float> lane_scale;  // per int32 lane of every whole chunk: its block's scale
  std::vector<float> group_aq;    // per weight group: Σ over its blocks of scale × Σq (zero-point term)
  std::vector<int16_t> vector_sum;  // lattice kernel: per 8-weight code, Σq (its ±1 shift term)
};

// Many activation rows as int8 for the GEMM (gemm_i8.h): each row quantised once per call in the
// blocks of the decode kernels (i8_activation_block), in natural order, zero-padded to whole blocks.
struct PreparedRowsI8 {
  int64_t rows = 0, block = 0, blocks = 0, stride = 0;  // stride = blocks · block
  std::vector<int8_t> q;                                // rows × stride
  std::vector<float> scale;                             // rows × blocks
  std::vector<float> group_aq;                          // rows × weight groups: Σ scale × Σq (zero-point term)
  std::vector<int32_t> group_of_block;                  // blocks: the weight group each block lies in
};

}  // namespace arrowquant::kernels
