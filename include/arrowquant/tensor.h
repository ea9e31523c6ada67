// Plain tensor descriptions shared by readers, quantizers and writers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "arrowquant/dtype.h"

namespace arrowquant {

using Shape = std::vector<int64_t>;
int64_t num_elements(const Shape& s);
std::string shape_str(const Shape& s);

// A tensor as stored in an input file: name, element type, shape and where its bytes are (a view
// into a memory map, never owned).
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
};

// A float32 tensor that owns its values.
struct FloatTensor {
  std::string name;
  Shape shape;
  std::vector<float> values;
};

}  // namespace arrowquant
