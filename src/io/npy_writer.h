// NumPy .npy (format 1.0) float32 arrays, so that embeddings load with numpy.load as-is.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace arrowquant {

// The complete .npy file for a little-endian float32 C-order array.
std::string npy_bytes_f32(const std::vector<int64_t>& shape, const float* data);
// Written atomically (temporary file, then rename).
void write_npy_f32(const std::string& path, const std::vector<int64_t>& shape, const float* data);

}  // namespace arrowquant
