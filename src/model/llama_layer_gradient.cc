// The backward pass of one decoder layer, for block-wise tuning of quantisation parameters: the same
// forward as layer_forward (RMSNorm, q/k/v, rotary positions, causal grouped-query attention, o,
// SwiGLU MLP, two residuals), written out with every intermediate kept, then the chain rule back to
// each Linear's weight and each norm's weight. Matrix products go through BLAS; attention keeps one
// T×T probability matrix per head (a calibration sequence is at most a few hundred tokens).
#include <cmath>

#include "kernels/blas.h"
#include "model/llama_decoder.h"

namespace arrowquant {

namespace {

// out = x·r·w with r = 1/√(mean x² + eps) per row; r kept for the backward pass.
void rms_rows(const float* x, const std::vector<float>& w, int64_t T, int64_t H, float eps, float* out, float* r) {
  for (int64_t t = 0; t < T; ++t) {
    double ss = 0;
    for (int64_t i = 0; i < H; ++i) ss += double(x[t * H + i]) * x[t * H + i];
    r[t] = float(1.0 / std::sqrt(ss / double(H) + double(eps)));
    for (int64_t i = 0; i < H; ++i) out[t * H + i] = x[t * H + i] * r[t] * w[size_t(i)];
  }
}

// Given dout, the gradient at the norm's output: adds to dw, and (dx non-null) to dx.
// With z = w ⊙ dout: dx = r·z − r³·x·(z·x)/H.
void rms_rows_backward(const float* x, const std::vector<float>& w, const float* r, const float* dout, int64_t T,
                       int64_t H, std::vector<float>& dw, float* dx) {
  for (int64_t t = 0; t < T; ++t) {
    const float* xt = x + t * H;
    const float* dt = dout + t * H;
    double zx = 0;
    for (int64_t i = 0; i < H; ++i) {
      dw[size_t(i)] += dt[i] * xt[i] * r[t];
      zx += double(w[size_t(i)]) * dt[i] * xt[i];
    }
    if (!dx) continue;
    const float k = float(double(r[t]) * r[t] * r[t] * zx / double(H));
    for (int64_t i = 0; i < H; ++i) dx[t * H + i] += r[t] * w[size_t(i)] * dt[i] - k * xt[i];
  }
}

// dW[out, in] += dy[T, out]ᵀ · x[T, in]
void add_weight_gradient(const float* dy, const float* x, int64_t T, int64_t out, int64_t in, std::vector<float>& dW) {
  kernels::gemm(kernels::Transpose::kYes, kernels::Transpose::kNo, out, in, T, 1.0f, dy, out, x, in, 1.0f, dW.data(),
                in);
}

// dx[T, in] (+)= dy[T, out] · W[out, in]
void input_gradient(const float* dy, const Linear& l, int64_t T, float* dx, bool accumulate) {
  kernels::gemm(kernels::Transpose::kNo, kernels::Transpose::kNo, T, l.in, l.out, 1.0f, dy, l.out,
                l.float_weight().data(), l.in, accumulate ? 1.0f : 0.0f, dx, l.in);
}

}  // namespace

double LlamaDecoder::layer_loss_gradient(int64_t l, const float* x_in, int64_t T, const float* target,
                                         BlockGradient& g) const {
  const int64_t H = cfg_.hidden, I = cfg_.intermediate, D = cfg_.head_dim, nh = cfg_.heads, nkv = cfg_.kv_heads;
  const int64_t qd = nh * D, kvd = nkv * D, group = nh / nkv;
  const float scale = 1.0f / std::sqrt(float(D));
  const Layer& L = layers_.at(size_t(l));
  const Linear* lin[7] = {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down};
  if (g.linear.empty()) {
    for (const Linear* p : lin) g.linear.emplace_back(size_t(p->out * p->in), 0.0f);
    g.norm.assign(2, std::vector<float>(size_t(H), 0.0f));
  }
  auto buf = [](int64_t n) { return std::vector<float>(size_t(n), 0.0f); };

  // Forward, keeping what the backward pass reads.
  std::vector<float> r1 = buf(T), r2 = buf(T), xn1 = buf(T * H), xn2 = buf(T * H);
  std::vector<float> q = buf(T * qd), k = buf(T * kvd), v = buf(T * kvd), att = buf(T * qd), P = buf(nh * T * T);
  std::vector<float> x1 = buf(T * H), gt = buf(T * I), u = buf(T * I), a = buf(T * I), y = buf(T * H);
  rms_rows(x_in, L.attn_norm, T, H, cfg_.rms_eps, xn1.data(), r1.data());
  Linear::forward_shared({{&L.q, q.data()}, {&L.k, k.data()}, {&L.v, v.data()}}, xn1.data(), T);
  rope(q.data(), T, nh, 0);
  rope(k.data(), T, nkv, 0);
  for (int64_t h = 0; h < nh; ++h) {
    const int64_t kv = h / group;
    float* Ph = P.data() + h * T * T;
    kernels::gemm(kernels::Transpose::kNo, kernels::Transpose::kYes, T, T, D, scale, q.data() + h * D, qd,
                  k.data() + kv * D, kvd, 0.0f, Ph, T);
    for (int64_t i = 0; i < T; ++i) {
      float* row = Ph + i * T;
      float mx = row[0];
      for (int64_t j = 1; j <= i; ++j) mx = std::max(mx, row[j]);
      double sum = 0;
      for (int64_t j = 0; j <= i; ++j) sum += (row[j] = std::exp(row[j] - mx));
      for (int64_t j = 0; j <= i; ++j) row[j] = float(row[j] / sum);
      for (int64_t j = i + 1; j < T; ++j) row[j] = 0;
    }
    kernels::gemm(kernels::Transpose::kNo, kernels::Transpose::kNo, T, D, T, 1.0f, Ph, T, v.data() + kv * D, kvd,
                  0.0f, att.data() + h * D, qd);
  }
  L.o.forward(att.data(), T, x1.data());
  for (int64_t i = 0; i < T * H; ++i) x1[size_t(i)] += x_in[i];
  rms_rows(x1.data(), L.mlp_norm, T, H, cfg_.rms_eps, xn2.data(), r2.data());
  Linear::forward_shared({{&L.gate, gt.data()}, {&L.up, u.data()}}, xn2.data(), T);
  for (int64_t i = 0; i < T * I; ++i) a[size_t(i)] = gt[size_t(i)] / (1.0f + std::exp(-gt[size_t(i)])) * u[size_t(i)];
  L.down.forward(a.data(), T, y.data());
  double loss = 0;
  std::vector<float> dy = buf(T * H);
  for (int64_t i = 0; i < T * H; ++i) {
    const float d = y[size_t(i)] + x1[size_t(i)] - target[i];
    loss += double(d) * d;
    dy[size_t(i)] = 2 * d;
  }

  // Backward. The MLP: y = x1 + down(SiLU(gate(n2(x1))) · up(n2(x1))).
  add_weight_gradient(dy.data(), a.data(), T, H, I, g.linear[6]);
  std::vector<float> da = buf(T * I);
  input_gradient(dy.data(), L.down, T, da.data(), false);
  std::vector<float>& dgt = a;  // a is no longer needed: reuse it and u for the two gradients
  for (int64_t i = 0; i < T * I; ++i) {
    const float z = gt[size_t(i)], sg = 1.0f / (1.0f + std::exp(-z)), silu = z * sg;
    dgt[size_t(i)] = da[size_t(i)] * u[size_t(i)] * sg * (1.0f + z * (1.0f - sg));
    u[size_t(i)] = da[size_t(i)] * silu;
  }
  std::vector<float>& du = u;
  add_weight_gradient(dgt.data(), xn2.data(), T, I, H, g.linear[4]);
  add_weight_gradient(du.data(), xn2.data(), T, I, H, g.linear[5]);
  std::vector<float> dxn = buf(T * H);
  input_gradient(dgt.data(), L.gate, T, dxn.data(), false);
  input_gradient(du.data(), L.up, T, dxn.data(), true);
  std::vector<float>& dx1 = dy;  // the residual passes dy straight through
  rms_rows_backward(x1.data(), L.mlp_norm, r2.data(), dxn.data(), T, H, g.norm[1], dx1.data());

  // Attention: x1 = x + o(attention(rope(q(n1(x))), rope(k(n1(x))), v(n1(x)))).
  add_weight_gradient(dx1.data(), att.data(), T, H, qd, g.linear[3]);
  std::vector<float> datt = buf(T * qd), dq = buf(T * qd), dk = buf(T * kvd), dv = buf(T * kvd), dP = buf(T * T);
  input_gradient(dx1.data(), L.o, T, datt.data(), false);
  for (int64_t h = 0; h < nh; ++h) {
    const int64_t kv = h / group;
    const float* Ph = P.data() + h * T * T;
    // dP = dO·Vᵀ, dV += Pᵀ·dO, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = scale·dS·K, dK += scale·dSᵀ·Q
    kernels::gemm(kernels::Transpose::kNo, kernels::Transpose::kYes, T, T, D, 1.0f, datt.data() + h * D, qd,
                  v.data() + kv * D, kvd, 0.0f, dP.data(), T);
    kernels::gemm(kernels::Transpose::kYes, kernels::Transpose::kNo, T, D, T, 1.0f, Ph, T, datt.data() + h * D, qd,
                  1.0f, dv.data() + kv * D, kvd);
    for (int64_t i = 0; i < T; ++i) {
      float* dr = dP.data() + i * T;
      const float* pr = Ph + i * T;
      double dot = 0;
      for (int64_t j = 0; j <= i; ++j) dot += double(dr[j]) * pr[j];
      for (int64_t j = 0; j <= i; ++j) dr[j] = pr[j] * (dr[j] - float(dot));
      for (int64_t j = i + 1; j < T; ++j) dr[j] = 0;
    }
    kernels::gemm(kernels::Transpose::kNo, kernels::Transpose::kNo, T, D, T, scale, dP.data(), T, k.data() + kv * D,
                  kvd, 0.0f, dq.data() + h * D, qd);
    kernels::gemm(kernels::Transpose::kYes, kernels::Transpose::kNo, T, D, T, scale, dP.data(), T, q.data() + h * D,
                  qd, 1.0f, dk.data() + kv * D, kvd);
  }
  rope(dq.data(), T, nh, 0, true);
  rope(dk.data(), T, nkv, 0, true);
  add_weight_gradient(dq.data(), xn1.data(), T, qd, H, g.linear[0]);
  add_weight_gradient(dk.data(), xn1.data(), T, kvd, H, g.linear[1]);
  add_weight_gradient(dv.data(), xn1.data(), T, kvd, H, g.linear[2]);
  input_gradient(dq.data(), L.q, T, dxn.data(), false);
  input_gradient(dk.data(), L.k, T, dxn.data(), true);
  input_gradient(dv.data(), L.v, T, dxn.data(), true);
  rms_rows_backward(x_in, L.attn_norm, r1.data(), dxn.data(), T, H, g.norm[0], nullptr);
  return loss;
}

}  // namespace arrowquant
