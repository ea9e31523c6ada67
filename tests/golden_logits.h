// Helpers of the tests that compare logits with committed goldens (safetensors files of ids and
// logits made by scripts under scripts/goldens/).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "io/safetensors_reader.h"

namespace aqtest {

// A tensor of a golden file as a vector of T (empty, and a test failure, when it is missing).
template <class T>
std::vector<T> tensor_values(const arrowquant::SafetensorsFile& f, const std::string& name) {
  const arrowquant::TensorView* v = f.find(name);
  EXPECT_NE(v, nullptr) << name;
  if (!v) return {};
  std::vector<T> out(v->nbytes / sizeof(T));
  std::memcpy(out.data(), v->data, v->nbytes);
  return out;
}

// max |a - b| / max |b|; huge when the sizes differ.
inline double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 1e30;
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num = std::max(num, double(std::fabs(a[i] - b[i])));
    den = std::max(den, double(std::fabs(b[i])));
  }
  return num / den;
}

}  // namespace aqtest
