// The decoder layer's backward pass against central finite differences of its own forward pass, on
// stories260K's real weights (grouped-query attention, interleaved rotary pairs): for each Linear
// and each norm weight, the gradient's inner product with a random direction equals the change of
// the loss along it.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "model/calibration_model.h"
#include "model/model_weights.h"
#include "test_util.h"

using namespace arrowquant;

namespace {

double loss_of(const CalibrationModel& m, int64_t b, const std::vector<float>& x, const std::vector<float>& target, int64_t T) {
  std::vector<float> y = x;
  m.run_block(b, y.data(), T);
  double e = 0;
  for (size_t i = 0; i < y.size(); ++i) e += double(y[i] - target[i]) * (y[i] - target[i]);
  return e;
}

std::vector<float> direction(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> d(n);
  for (float& v : d) v = nd(rng);
  return d;
}

}  // namespace

TEST(LlamaLayerGradient, MatchesFiniteDifferences) {
  ModelWeights w(aqtest::stories_dir() + "/stories260K.bin");
  auto m = CalibrationModel::open(w, 1);
  const std::vector<int32_t> ids = {1, 403, 407, 261, 378, 500, 266, 302, 408, 343, 270, 281, 334, 267, 345, 440};
  const int64_t T = int64_t(ids.size()), b = 1;
  std::vector<float> x = m->embed(ids);
  m->run_block(0, x.data(), T);
  // A target the layer does not reach: its own output, moved.
  std::vector<float> target = x;
  m->run_block(b, target.data(), T);
  const auto noise = direction(target.size(), 9);
  for (size_t i = 0; i < target.size(); ++i) target[i] += 0.3f * noise[i];

  BlockGradient g;
  const double loss = m->block_loss_gradient(b, x.data(), T, target.data(), g);
  ASSERT_GT(loss, 0);
  EXPECT_NEAR(loss, loss_of(*m, b, x, target, T), 1e-4 * loss);
  const std::vector<Linear*> lin = m->linears(b);
  ASSERT_EQ(g.linear.size(), lin.size());
  for (size_t i = 0; i < lin.size(); ++i) {
    const std::vector<float> w0 = lin[i]->float_weight();
    double rms = 0;
    for (float v : w0) rms += double(v) * v;
    rms = std::sqrt(rms / double(w0.size()));
    const auto d = direction(w0.size(), 100 + uint32_t(i));
    const double eps = 1e-3 * rms;
    auto moved = [&](double t) {
      std::vector<float> wt = w0;
      for (size_t j = 0; j < wt.size(); ++j) wt[j] += float(t * d[j]);
      lin[i]->set_weight(wt);
      return loss_of(*m, b, x, target, T);
    };
    const double numeric = (moved(eps) - moved(-eps)) / (2 * eps);
    lin[i]->set_weight(w0);
    double analytic = 0;
    for (size_t j = 0; j < d.size(); ++j) analytic += double(g.linear[i][j]) * d[j];
    EXPECT_NEAR(analytic, numeric, 0.02 * std::fabs(numeric) + 1e-3 * loss) << lin[i]->name;
  }
  size_t n = 0;
  for (ScaleFold& f : m->folds(b)) {
    if (!f.norm) continue;
    ASSERT_LT(n, g.norm.size());
    const std::vector<float> w0 = *f.norm;
    const auto d = direction(w0.size(), 200 + uint32_t(n));
    const double eps = 1e-3;
    auto moved = [&](double t) {
      for (size_t j = 0; j < w0.size(); ++j) (*f.norm)[j] = w0[j] + float(t * d[j]);
      return loss_of(*m, b, x, target, T);
    };
    const double numeric = (moved(eps) - moved(-eps)) / (2 * eps);
    *f.norm = w0;
    double analytic = 0;
    for (size_t j = 0; j < d.size(); ++j) analytic += double(g.norm[n][j]) * d[j];
    EXPECT_NEAR(analytic, numeric, 0.02 * std::fabs(numeric) + 1e-3 * loss) << f.norm_name;
    ++n;
  }
  EXPECT_EQ(n, 2u);
}
