#include "pipeline/block_tuner.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "arrowquant/dtype.h"
#include "arrowquant/error.h"
#include "arrowquant/input_rotation.h"
#include "format/pack.h"
#include "model/calibration_model.h"
#include "quant/group_params.h"
#include "util/interrupt.h"

namespace arrowquant {

namespace {

// One Adam step (β 0.9 / 0.999, bias-corrected) of x with moments m1, m2, gradient g, at step t ≥ 1.
void adam(double& x, double& m1, double& m2, double g, double lr, int64_t t) {
  constexpr double b1 = 0.9, b2 = 0.999;
  m1 = b1 * m1 + (1 - b1) * g;
  m2 = b2 * m2 + (1 - b2) * g * g;
  const double denom = std::sqrt(m2 / (1 - std::pow(b2, double(t))));
  if (denom > 0) x -= lr * (m1 / (1 - std::pow(b1, double(t)))) / denom;
}

// One quantised Linear under tuning, in its stored (rotated) input space. Scales are s₀·eᶿ per
// group. With fixed codes the weight is ŵ = s·ℓ(code). With codes trained, a latent float weight w
// stands behind each code: ŵ = s·ℓ(nearest code of w/s), and the gradient passes the rounding
// straight through (to w inside the grid's range; to s as ℓ − w/s there and ℓ outside, LSQ's rule).
struct TunedLinear {
  Linear* lin = nullptr;
  QuantizedTensor* q = nullptr;
  bool train_codes = false;
  int64_t rows = 0, cols = 0, group_size = 0, groups = 0;
  std::vector<GroupParams> base;  // the stored groups' parameters (zero points, codebook)
  std::vector<float> level;       // fixed codes: ℓ per weight
  std::vector<float> latent;      // trained codes: the latent weight
  std::vector<double> lm, lv;     // Adam's moments of the latent weight
  std::unique_ptr<PreparedRotation> rot;
  std::vector<double> theta, m, v;

  TunedLinear(Linear* l, QuantizedTensor* t, bool codes) : lin(l), q(t), train_codes(codes) {
    const QuantFormat& f = *t->format;
    rows = t->geom.rows, cols = t->geom.cols, group_size = t->geom.group_size, groups = t->geom.groups_per_row();
    for (int64_t k = 0; k < rows * groups; ++k) {
      uint16_t h;
      std::memcpy(&h, &t->scales[2 * size_t(k)], 2);
      GroupParams p = make_params(f16_to_f32(h), 0, f);
      if (!f.symmetric) p.zero = t->zero_points[size_t(k)];
      base.push_back(p);
    }
    QuantizedTensor plain = *t;
    plain.rotation = {};
    std::vector<float> w = dequantize(plain);
    if (train_codes) {
      latent = std::move(w);
      lm.assign(latent.size(), 0.0);
      lv = lm;
    } else {
      level = std::move(w);
      for (int64_t i = 0; i < rows * cols; ++i) {
        const float s = base[size_t(i / cols * groups + i % cols / group_size)].scale;
        level[size_t(i)] = s > 0 ? level[size_t(i)] / s : 0.0f;
      }
    }
    if (!t->rotation.is_none()) rot = std::make_unique<PreparedRotation>(t->rotation, cols);
    theta.assign(size_t(rows * groups), 0.0);
    m = v = theta;
  }
  int64_t group_of(int64_t i) const { return i / cols * groups + i % cols / group_size; }
  // Every group's parameters at the current θ.
  std::vector<GroupParams> params() const {
    std::vector<GroupParams> p(base);
    for (size_t k = 0; k < p.size(); ++k) p[k].scale = base[k].scale * float(std::exp(theta[k]));
    return p;
  }
  // ℓ of every weight at the current parameters, and (trained codes) whether w/s lies inside the
  // grid's outer levels.
  void levels(const std::vector<GroupParams>& ps, std::vector<float>& l, std::vector<uint8_t>* inside) const {
    if (!train_codes) {
      l = level;
      return;
    }
    const QuantFormat& f = *q->format;
    l.resize(latent.size());
    if (inside) inside->resize(latent.size());
    if (f.lattice()) {  // the nearest point of each 8-weight vector (groups hold whole vectors)
      uint8_t c[lattice::kDim];
      for (int64_t i = 0; i < rows * cols; i += lattice::kDim) {
        const GroupParams& p = ps[size_t(group_of(i))];
        lattice_codes(latent.data() + i, p, c);
        for (int k = 0; k < lattice::kDim; ++k) {
          l[size_t(i + k)] = float(int(c[k]) - 128);
          const float u = p.scale > 0 ? latent[size_t(i + k)] / p.scale : 0.0f;
          if (inside) (*inside)[size_t(i + k)] = std::fabs(u) <= float(lattice::kMaxLevel);
        }
      }
      return;
    }
    for (int64_t i = 0; i < rows * cols; ++i) {
      const GroupParams& p = ps[size_t(group_of(i))];
      const int code = code_of(latent[size_t(i)], p, f.max_code());
      l[size_t(i)] = p.level(code);
      if (inside) {
        const float u = p.scale > 0 ? latent[size_t(i)] / p.scale : 0.0f;
        // float8 levels are not ordered by code: its codes stay, its scales are tuned
        (*inside)[size_t(i)] = !f.float8() && u >= p.level(0) && u <= p.level(f.max_code());
      }
    }
  }
  void apply() {
    const std::vector<GroupParams> ps = params();
    std::vector<float> w;
    levels(ps, w, nullptr);
    for (int64_t i = 0; i < rows * cols; ++i) w[size_t(i)] *= ps[size_t(group_of(i))].scale;
    if (rot) rot->unrotate(w.data(), rows);
    lin->set_weight(std::move(w));
  }
  // One Adam step from the model-space gradient dW (turned into stored space: dW' = dW·Rᵀ). A latent
  // weight's step is lr times its group's mean gap between levels.
  void step(std::vector<float>& dW, double lr, int64_t t) {
    if (rot) rot->rotate(dW.data(), rows);
    const std::vector<GroupParams> ps = params();
    std::vector<float> l;
    std::vector<uint8_t> inside;
    levels(ps, l, train_codes ? &inside : nullptr);
    std::vector<double> grad(theta.size(), 0.0);
    const QuantFormat& f = *q->format;
    for (int64_t i = 0; i < rows * cols; ++i) {
      const int64_t k = group_of(i);
      const GroupParams& p = ps[size_t(k)];
      const float s = p.scale, d = dW[size_t(i)];
      if (!train_codes || !inside[size_t(i)]) {
        grad[size_t(k)] += double(d) * l[size_t(i)] * s;  // dŵ/dθ = s·ℓ
        continue;
      }
      grad[size_t(k)] += double(d) * (l[size_t(i)] - latent[size_t(i)] / s) * s;
      // A lattice's levels are odd integers: 2 apart.
      const double gap = f.lattice() ? 8.0 * s : s * (p.level(f.max_code()) - p.level(0)) / double(f.max_code());
      double x = latent[size_t(i)];
      adam(x, lm[size_t(i)], lv[size_t(i)], d, lr * gap, t);
      latent[size_t(i)] = float(x);
    }
    for (size_t k = 0; k < theta.size(); ++k) adam(theta[k], m[k], v[k], grad[k], lr, t);
  }
  // θ into the stored float16 scales (and trained codes into the packed rows); the Linear then runs
  // exactly what the file will hold.
  void commit() {
    const QuantFormat& f = *q->format;
    const std::vector<GroupParams> ps = params();
    std::vector<GroupParams> stored(base.size());
    for (int64_t k = 0; k < int64_t(theta.size()); ++k) {
      GroupParams p = base[size_t(k)];
      const uint16_t tuned = f32_to_f16(ps[size_t(k)].scale);
      if (std::isfinite(f16_to_f32(tuned)) && f16_to_f32(tuned) > 0) {
        p.scale_f16 = tuned;
        p.scale = f16_to_f32(tuned);
      }
      std::memcpy(&q->scales[2 * size_t(k)], &p.scale_f16, 2);
      stored[size_t(k)] = p;
    }
    if (train_codes) {
      const size_t row_bytes = packed_row_bytes(cols, f.bits);
      std::vector<uint8_t> codes(static_cast<size_t>(cols));
      for (int64_t r = 0; r < rows; ++r) {
        if (f.lattice())
          for (int64_t c = 0; c < cols; c += lattice::kDim)
            lattice_codes(latent.data() + r * cols + c, stored[size_t(r * groups + c / group_size)], codes.data() + c);
        else
          for (int64_t c = 0; c < cols; ++c)
            codes[size_t(c)] = uint8_t(code_of(latent[size_t(r * cols + c)], stored[size_t(r * groups + c / group_size)], f.max_code()));
        pack_row(f, codes.data(), cols, q->codes.data() + size_t(r) * row_bytes);
      }
    }
    lin->set_weight(dequantize(*q));
  }
};

// Σ‖block(x) − target‖² over every sequence, with the block's weights as they are.
double block_error(const CalibrationModel& m, int64_t b, const std::vector<std::vector<float>>& xs,
                   const std::vector<std::vector<float>>& targets, const std::vector<int64_t>& lengths) {
  double e = 0;
  for (size_t s = 0; s < xs.size(); ++s) {
    std::vector<float> y = xs[s];
    m.run_block(b, y.data(), lengths[s]);
    for (size_t i = 0; i < y.size(); ++i) e += double(y[i] - targets[s][i]) * (y[i] - targets[s][i]);
  }
  return e;
}

// An elementwise norm weight under tuning: Adam on the values themselves, the step scaled by their
// root mean square so that one learning rate serves scales and norms.
struct TunedNorm {
  std::vector<float>* w = nullptr;
  std::vector<float> start;
  std::vector<double> m, v;
  double unit = 1;
  explicit TunedNorm(std::vector<float>* p) : w(p), start(*p), m(p->size(), 0.0), v(p->size(), 0.0) {
    double ss = 0;
    for (float x : *p) ss += double(x) * x;
    unit = std::sqrt(ss / double(std::max<size_t>(1, p->size())));
    if (!(unit > 0)) unit = 1;
  }
  void step(const std::vector<float>& grad, double lr, int64_t t) {
    for (size_t i = 0; i < w->size(); ++i) {
      double x = (*w)[i];
      adam(x, m[i], v[i], grad[i], lr * unit, t);
      (*w)[i] = float(x);
    }
  }
};

}  // namespace

BlockTuneReport tune_block_scales(CalibrationModel& m, int64_t b, const std::vector<QuantizedTensor*>& tensors,
                                  const std::vector<std::vector<float>>& xs,
                                  const std::vector<std::vector<float>>& targets, const std::vector<int64_t>& lengths,
                                  const BlockTuneOptions& opt) {
  BlockTuneReport rep;
  const std::vector<Linear*> lin = m.linears(b);
  std::vector<TunedLinear> tuned;
  for (size_t i = 0; i < lin.size() && i < tensors.size(); ++i)
    if (tensors[i]) tuned.emplace_back(lin[i], tensors[i], opt.codes);
  if (tuned.empty() || xs.empty() || opt.epochs <= 0) return rep;
  std::vector<TunedNorm> norms;
  if (opt.norms)
    for (ScaleFold& f : m.folds(b))
      if (f.norm) norms.emplace_back(f.norm);
  {  // does the architecture have a backward pass? (one sequence's gradient, thrown away)
    BlockGradient probe;
    if (m.block_loss_gradient(b, xs[0].data(), lengths[0], targets[0].data(), probe) < 0) {
      rep.supported = false;
      return rep;
    }
  }
  double scale = 0;  // how far the float block moves its input: the unit errors are reported in
  for (size_t s = 0; s < xs.size(); ++s)
    for (size_t i = 0; i < xs[s].size(); ++i) scale += double(targets[s][i] - xs[s][i]) * (targets[s][i] - xs[s][i]);
  scale = std::max(scale, 1e-30);
  const double before = block_error(m, b, xs, targets, lengths);
  rep.error_before = before / scale;

  const int64_t n = int64_t(xs.size()), batch = std::max(1, opt.batch);
  for (int e = 0; e < opt.epochs; ++e)
    for (int64_t s0 = 0; s0 < n; s0 += batch) {
      if (interrupt_requested()) throw Interrupted("interrupted: no output was written");
      BlockGradient g;
      for (int64_t s = s0; s < std::min(n, s0 + batch); ++s)
        m.block_loss_gradient(b, xs[size_t(s)].data(), lengths[size_t(s)], targets[size_t(s)].data(), g);
      ++rep.steps;
      size_t gi = 0;
      for (size_t i = 0; i < lin.size() && i < tensors.size(); ++i) {
        if (!tensors[i]) continue;
        tuned[gi].step(g.linear[i], opt.learning_rate, rep.steps);
        tuned[gi].apply();
        ++gi;
      }
      for (size_t j = 0; j < norms.size() && j < g.norm.size(); ++j) norms[j].step(g.norm[j], opt.learning_rate, rep.steps);
    }

  // Keep the tuned scales only if the block's error (with the scales as float16) fell.
  std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>> saved;
  for (auto& t : tuned) {
    saved.emplace_back(t.q->scales, t.q->codes);
    t.commit();
  }
  const double after = block_error(m, b, xs, targets, lengths);
  rep.error_after = after / scale;
  rep.kept = after < before;
  if (!rep.kept)
    for (size_t i = 0; i < tuned.size(); ++i) {
      tuned[i].q->scales = saved[i].first;
      tuned[i].q->codes = saved[i].second;
      tuned[i].lin->set_weight(dequantize(*tuned[i].q));
    }
  if (!rep.kept)
    for (auto& nw : norms) *nw.w = nw.start;
  return rep;
}

}  // namespace arrowquant
