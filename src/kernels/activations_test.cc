// The vectorised activations against double-precision formulas, on every SIMD target compiled in
// (the models' goldens test them only on the best target of the machine that runs the tests).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/dense_ops.h"
#include "kernels/packed_test_cases.h"

using namespace arrowquant;

namespace {

// Inputs over the range activations see, with a tail that does not fill a vector.
std::vector<float> inputs() {
  std::vector<float> x;
  for (int i = -1200; i <= 1200; ++i) x.push_back(float(i) / 100.0f);  // -12 .. 12 in steps of 0.01
  x.push_back(-60.0f), x.push_back(60.0f), x.push_back(0.0f);
  return x;
}

}  // namespace

TEST(Activations, GeluTanhAndErfFollowTheFormulaOnEveryTarget) {
  aqtest::for_each_target([](const std::string& target) {
    const std::vector<float> x = inputs();
    std::vector<float> tanh_out = x, erf_out = x;
    kernels::gelu_tanh(tanh_out.data(), int64_t(x.size()));
    kernels::gelu_erf(erf_out.data(), int64_t(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      const double v = x[i];
      const double want_tanh = 0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
      const double want_erf = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
      // A few float ULP of the output (the tanh/exp approximations), relative to the input's size.
      EXPECT_NEAR(tanh_out[i], want_tanh, 1e-6 * (1 + std::fabs(v))) << target << " x=" << v;
      EXPECT_NEAR(erf_out[i], want_erf, 1e-6 * (1 + std::fabs(v))) << target << " x=" << v;
    }
  });
}
