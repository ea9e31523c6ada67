// Accuracy of a quantised encoder against its original, measured on real text: the cosine between
// the two models' sentence embeddings, the cosine of every layer's token outputs, and both models'
// Spearman correlation on the STS Benchmark.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/engine.h"

namespace arrowquant {

struct LayerAgreement {
  int layer = 0;  // 0 = embeddings output, i = output of encoder layer i
  double mean_cosine = 0, min_cosine = 0;
};

struct ValidateReport {
  std::string original, quantized;
  uint64_t original_bytes = 0, quantized_bytes = 0;
  size_t sentences = 0;
  double cos_mean = 0, cos_min = 0, cos_p5 = 0;
  std::vector<LayerAgreement> layers;
  size_t stsb_pairs = 0;  // 0: STS-B not run
  double spearman_original = 0, spearman_quantized = 0;
  double seconds = 0;
  nlohmann::json to_json() const;
  std::string to_markdown() const;
};

struct ValidateOptions {
  std::vector<std::string> sentences;  // cosine measured on these; empty: the STS-B sentences
  std::string stsb_path;               // empty: no STS-B
  size_t max_pairs = 0;                // 0: all STS-B pairs
  int batch_size = 32;
  std::function<void(size_t, size_t)> progress;
};

// Runs both engines on the same token ids, batch by batch. Throws ValueError when the two models
// do not tokenise alike or have different widths.
ValidateReport validate_encoders(const ArrowEngine& original, const ArrowEngine& quantized,
                                 const ValidateOptions& opts);

// Bytes of weights behind a model path: the file, or the weight files (*.parquet, *.safetensors,
// *.bin) in a folder.
uint64_t model_weight_bytes(const std::string& path);

}  // namespace arrowquant
