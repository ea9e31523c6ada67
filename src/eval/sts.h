// The STS Benchmark test split: sentence pairs with gold similarity scores.
#pragma once
#include <string>
#include <vector>

namespace arrowquant {

struct StsPair {
  std::string a, b;
  double score = 0;  // gold similarity, 0..5
};
// The STS Benchmark's tab-separated files (genre, file, year, id, score, sentence 1, sentence 2, ...).
// FormatError naming the file and line on a malformed row.
std::vector<StsPair> read_sts_tsv(const std::string& path);
// Where STS-B test data is when not given: $ARROWQUANT_DATA/stsb/sts-test.csv, then
// <source>/../shared/data/stsb/sts-test.csv. Empty when neither exists.
std::string default_stsb_path();

}  // namespace arrowquant
