// The method comparison report: quantises one model with each method at each width, then measures
// file size, compression, weight memory, quality (embedding cosine for encoders; perplexity, KL
// divergence and top-1 agreement for decoders) and quantisation time, all in one run.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/quant_config.h"
#include "arrowquant/quant_format.h"

namespace arrowquant {

struct CompareOptions {
  std::vector<Method> methods = {Method::Rtn, Method::Gptq, Method::Awq};
  std::vector<int> bits = format_widths();
  QuantConfig base;             // group size, calibration, embedding bits, ... (method and bits are set per run)
  std::string workdir;          // where the quantised models go
  bool keep = false;            // keep them afterwards
  // Encoders: sentences for the embedding cosine. Decoders: text for perplexity/KL.
  std::vector<std::string> sentences;
  std::string eval_text;
  int64_t ctx = 256;
  size_t max_chunks = 0;
  int threads = 0;
  std::function<void(const std::string&)> log;
};

struct CompareRow {
  std::string method;
  int bits = 0;
  std::string error;            // the run failed or does not apply: why
  uint64_t file_bytes = 0;
  double bits_per_weight = 0, compression_vs_fp32 = 0, memory_saving = 0;
  double quant_seconds = 0;
  double cos_mean = -1, cos_min = -1;              // encoders
  double ppl = -1, kl_mean = -1, top1 = -1;        // decoders
};

struct CompareReport {
  std::string model, kind;
  uint64_t fp32_weight_bytes = 0;
  double base_ppl = -1;
  std::vector<CompareRow> rows;
  nlohmann::json to_json() const;
  std::string to_markdown() const;
  // Quality against bits per weight, one line per method.
  void write_png(const std::string& path) const;
};

CompareReport compare_methods(const std::string& model_path, const CompareOptions& opts);

}  // namespace arrowquant
