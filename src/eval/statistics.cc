#include "eval/statistics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include "arrowquant/error.h"

namespace arrowquant {

double cosine(const float* a, const float* b, int64_t n) {
  double aa = 0, bb = 0, ab = 0;
  for (int64_t i = 0; i < n; ++i) {
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
    ab += double(a[i]) * b[i];
  }
  return (aa > 0 && bb > 0) ? ab / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
}

namespace {

std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), size_t(0));
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    double rank = 0.5 * double(i + j) + 1.0;  // tied values share the mean of their ranks
    for (size_t k = i; k <= j; ++k) r[idx[k]] = rank;
    i = j + 1;
  }
  return r;
}

}  // namespace

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size() || x.size() < 2) throw ValueError("spearman needs two equal-length series of ≥ 2 values");
  std::vector<double> rx = average_ranks(x), ry = average_ranks(y);
  double mx = std::accumulate(rx.begin(), rx.end(), 0.0) / double(rx.size());
  double my = std::accumulate(ry.begin(), ry.end(), 0.0) / double(ry.size());
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  return (sxx == 0 || syy == 0) ? 0.0 : sxy / std::sqrt(sxx * syy);
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double pos = q / 100.0 * double(v.size() - 1);
  size_t lo = size_t(std::floor(pos)), hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (pos - double(lo)) * (v[hi] - v[lo]);
}

}  // namespace arrowquant
