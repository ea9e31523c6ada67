#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "arrowquant/error.h"
#include "arrowquant/validate.h"

namespace fs = std::filesystem;

#include "arrowquant/version.h"

#ifndef AQ_DEFAULT_SHARED_DIR
#define AQ_DEFAULT_SHARED_DIR ""
#endif

namespace arrowquant {

std::vector<StsPair> read_sts_tsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot open STS file");
  std::vector<StsPair> pairs;
  size_t lineno = 0;
  for (std::string line; std::getline(in, line);) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> cols;
    size_t start = 0;
    for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
      cols.push_back(line.substr(start, tab - start));
    cols.push_back(line.substr(start));
    if (cols.size() < 7)
      throw FormatError(path + ":" + std::to_string(lineno) + ": expected at least 7 tab-separated columns, got " +
                        std::to_string(cols.size()));
    char* end = nullptr;
    double score = std::strtod(cols[4].c_str(), &end);
    if (end == cols[4].c_str() || !std::isfinite(score))
      throw FormatError(path + ":" + std::to_string(lineno) + ": score '" + cols[4] + "' is not a number");
    pairs.push_back({cols[5], cols[6], score});
  }
  if (pairs.empty()) throw FormatError(path + ": no sentence pairs");
  return pairs;
}

std::string default_stsb_path() {
  std::error_code ec;
  if (const char* d = std::getenv("ARROWQUANT_DATA")) {
    fs::path p = fs::path(d) / "stsb" / "sts-test.csv";
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  fs::path p = fs::path(AQ_DEFAULT_SHARED_DIR) / "data" / "stsb" / "sts-test.csv";
  if (std::string(AQ_DEFAULT_SHARED_DIR).size() && fs::is_regular_file(p, ec)) return p.lexically_normal().string();
  return "";
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
