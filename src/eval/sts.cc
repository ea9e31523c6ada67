#include "eval/sts.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "arrowquant/error.h"
#include "util/version.h"

namespace fs = std::filesystem;

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

}  // namespace arrowquant
