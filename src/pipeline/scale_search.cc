#include "pipeline/scale_search.h"

#include <algorithm>
#include <cmath>

#include "arrowquant/error.h"
#include "quant/hessian.h"
#include "pipeline/input_stats.h"

namespace arrowquant {

namespace {

int64_t producer_size(const ScaleFold& f) {
  if (f.norm) return int64_t(f.norm->size());
  return f.adaln_scale >= 0 ? f.consumers.at(0)->in : f.rows->out;
}

// Ties the consumer scales to one per producer element (grouped-query attention feeds one value row
// to several o_proj inputs, which must then share its scale) and expands them back.
FoldScales tie_to_producer(const ScaleFold& f, const std::vector<float>& s) {
  FoldScales r;
  if (f.channel_source.empty()) {
    r.consumer = s;
    r.producer = s;
    return r;
  }
  const int64_t P = producer_size(f);
  std::vector<double> sum(size_t(P), 0.0);
  std::vector<int> count(size_t(P), 0);
  for (size_t c = 0; c < s.size(); ++c) {
    sum[size_t(f.channel_source[c])] += s[c];
    ++count[size_t(f.channel_source[c])];
  }
  r.producer.resize(size_t(P));
  for (int64_t p = 0; p < P; ++p) r.producer[size_t(p)] = count[size_t(p)] ? float(sum[size_t(p)] / count[size_t(p)]) : 1.0f;
  r.consumer.resize(s.size());
  for (size_t c = 0; c < s.size(); ++c) r.consumer[c] = r.producer[size_t(f.channel_source[c])];
  return r;
}

// Summed squared output error of the consumers when their columns are scaled by s, rounded, and
// unscaled: what the model computes after the fold, measured on the calibration inputs.
double fold_error(const ScaleFold& f, const InputStats& st, const std::vector<float>& s, const QuantFormat* fmt,
                  int64_t group_size, ClipMethod clip, int threads) {
  double err = 0;
  for (const Linear* l : f.consumers) {
    const auto& w = l->float_weight();
    FloatTensor scaled{l->name, {l->out, l->in}, w};
    for (int64_t r = 0; r < l->out; ++r)
      for (int64_t c = 0; c < l->in; ++c) scaled.values[size_t(r * l->in + c)] *= s[size_t(c)];
    QuantizedTensor q = quantize_rtn(scaled, {fmt, group_size, clip, threads});
    std::vector<float> back(w.size());
    dequantize_rows(view_of(q), 0, q.geom.rows, back.data());
    for (int64_t r = 0; r < l->out; ++r)
      for (int64_t c = 0; c < l->in; ++c) back[size_t(r * l->in + c)] /= s[size_t(c)];
    OutputError e = output_error(w.data(), back.data(), l->out, l->in, st.hessian);
    err += e.rel_mse;
  }
  return err;
}

}  // namespace

FoldScales search_awq_scales(const ScaleFold& fold, const InputStats& st, const QuantFormat* fmt,
                             int64_t group_size, ClipMethod clip, int grid, int threads) {
  const std::vector<float> mean = st.abs_mean();
  const size_t n = mean.size();
  FoldScales best = tie_to_producer(fold, std::vector<float>(n, 1.0f));
  best.alpha = 0;
  best.error_before = best.error_after = fold_error(fold, st, best.consumer, fmt, group_size, clip, threads);
  for (int g = 1; g < grid; ++g) {
    const double alpha = double(g) / grid;
    std::vector<float> s(n);
    float lo = INFINITY, hi = 0;
    for (size_t c = 0; c < n; ++c) {
      s[c] = float(std::pow(std::max(mean[c], 1e-4f), alpha));
      lo = std::min(lo, s[c]);
      hi = std::max(hi, s[c]);
    }
    const float mid = std::sqrt(lo * hi);  // centre the scales so weights keep their magnitude
    for (auto& v : s) v /= mid;
    FoldScales cand = tie_to_producer(fold, s);
    const double e = fold_error(fold, st, cand.consumer, fmt, group_size, clip, threads);
    if (e < best.error_after) {
      const double before = best.error_before;
      best = std::move(cand);
      best.alpha = alpha;
      best.error_before = before;
      best.error_after = e;
    }
  }
  return best;
}

FoldScales smoothquant_scales(const ScaleFold& fold, const InputStats& st, double alpha) {
  const size_t n = st.abs_max.size();
  std::vector<float> wmax(n, 0.0f);
  for (const Linear* l : fold.consumers) {
    const auto& w = l->float_weight();
    for (int64_t r = 0; r < l->out; ++r)
      for (int64_t c = 0; c < l->in; ++c) wmax[size_t(c)] = std::max(wmax[size_t(c)], std::fabs(w[size_t(r * l->in + c)]));
  }
  std::vector<float> s(n);
  for (size_t c = 0; c < n; ++c)
    s[c] = float(std::pow(std::max(st.abs_max[c], 1e-5f), alpha) / std::pow(std::max(wmax[c], 1e-5f), 1 - alpha));
  FoldScales r = tie_to_producer(fold, s);
  r.alpha = alpha;
  return r;
}

void apply_fold(ScaleFold& fold, const FoldScales& s) {
  for (Linear* l : fold.consumers) {
    std::vector<float> w = l->float_weight();
    for (int64_t r = 0; r < l->out; ++r)
      for (int64_t c = 0; c < l->in; ++c) w[size_t(r * l->in + c)] *= s.consumer[size_t(c)];
    l->set_weight(std::move(w));
  }
  if (fold.norm) {
    for (size_t i = 0; i < fold.norm->size(); ++i) (*fold.norm)[i] /= s.producer[i];
  } else if (fold.adaln_scale >= 0) {
    // x·(1 + scale) + shift, divided by s: shift/s, and (1 + scale)/s = 1 + (scale/s + 1/s − 1).
    Linear& p = *fold.rows;
    std::vector<float> w = p.float_weight();
    for (size_t c = 0; c < s.producer.size(); ++c) {
      const float inv = 1.0f / s.producer[c];
      for (int64_t row : {fold.adaln_shift + int64_t(c), fold.adaln_scale + int64_t(c)})
        for (int64_t k = 0; k < p.in; ++k) w[size_t(row * p.in + k)] *= inv;
      p.bias[size_t(fold.adaln_shift) + c] *= inv;
      float& b = p.bias[size_t(fold.adaln_scale) + c];
      b = b * inv + (inv - 1.0f);
    }
    p.set_weight(std::move(w));
  } else {
    Linear& p = *fold.rows;
    std::vector<float> w = p.float_weight();
    for (int64_t r = 0; r < p.out; ++r)
      for (int64_t c = 0; c < p.in; ++c) w[size_t(r * p.in + c)] /= s.producer[size_t(r)];
    p.set_weight(std::move(w));
    for (size_t r = 0; r < p.bias.size(); ++r) p.bias[r] /= s.producer[r];
  }
}

void rescale_stats(InputStats& st, const std::vector<float>& s) {
  const int64_t d = st.hessian.dim;
  st.hessian.rescale(s);
  for (int64_t c = 0; c < d; ++c) {
    st.abs_sum[size_t(c)] /= s[size_t(c)];
    st.abs_max[size_t(c)] /= s[size_t(c)];
  }
}

}  // namespace arrowquant
