// Cosine similarity, rank correlation and percentiles (as SciPy and NumPy compute them).
#pragma once
#include <cstdint>
#include <vector>

namespace arrowquant {

// cos(a, b) accumulated in double; 1 when both are zero, 0 when one is.
double cosine(const float* a, const float* b, int64_t n);
// Spearman's rank correlation with average ranks for ties.
double spearman(const std::vector<double>& x, const std::vector<double>& y);
// Linear-interpolated percentile (numpy's default) of unsorted values, q in [0, 100].
double percentile(std::vector<double> v, double q);

}  // namespace arrowquant
