// Perplexity of a decoder on a text, and — against a base model on the same tokens — the KL
// divergence of the next-token distributions, top-1 agreement and the perplexity change.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/engine.h"

namespace arrowquant {

struct PerplexityOptions {
  int64_t ctx = 512;
  // 0: llama.cpp's method — non-overlapping chunks of ctx tokens, BOS put first when the model uses
  // one, the second half of each chunk scored. S > 0: windows of ctx tokens sliding by S, the last S
  // targets of each scored (the first window scores all), no BOS (Hugging Face's method).
  int64_t stride = 0;
  size_t max_chunks = 0;  // 0: the whole text
  KVQuantPlan kv;         // for the evaluated model; the base always uses fp32
  std::function<void(size_t, size_t)> progress;
};

struct PerplexityReport {
  std::string model, base;
  std::string method;
  int64_t ctx = 0, stride = 0;
  size_t text_tokens = 0, chunks = 0, scored = 0;
  double ppl = 0, nll = 0;
  std::string kv_cache, kv_cache_plan;
  size_t kv_cache_bytes = 0;
  // With a base model:
  double base_ppl = 0, kl_mean = 0, kl_median = 0, kl_p99 = 0, kl_max = 0, top1_agreement = 0;
  double seconds = 0;
  nlohmann::json to_json() const;
  std::string to_markdown() const;
};

// ValueError when the text has fewer tokens than the context needs or the two models' vocabularies
// differ.
PerplexityReport perplexity(const ArrowEngine& model, const std::string& text, const PerplexityOptions& opts,
                            const ArrowEngine* base = nullptr);

}  // namespace arrowquant
