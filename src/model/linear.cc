#include "model/linear.h"

#include "kernels/dense_ops.h"

namespace arrowquant {

Linear Linear::load(const ModelWeights& w, const std::string& prefix, int64_t out, int64_t in,
                    bool with_bias) {
  Linear l;
  l.in = in;
  l.out = out;
  l.weight = w.load(prefix + ".weight", {out, in});
  if (with_bias) l.bias = w.load(prefix + ".bias", {out});
  return l;
}

void Linear::forward(const float* x, int64_t n, float* y) const {
  kernels::linear_f32(x, n, in, weight.data(), out, bias.empty() ? nullptr : bias.data(), y);
}

}  // namespace arrowquant
