#include "arrowquant/stored_tensor.h"

namespace arrowquant {

size_t StoredTensor::stored_bytes() const {
  size_t n = 0;
  for (const auto& c : chunks) n += c.nbytes + c.scales_nbytes + c.zero_points_nbytes;
  return n;
}
double StoredTensor::bits_per_weight() const {
  return num_params ? 8.0 * double(stored_bytes()) / double(num_params) : 0.0;
}
std::string StoredTensor::format_name() const {
  return format ? std::string(format->name) : std::string(dtype_name(dtype));
}

}  // namespace arrowquant
