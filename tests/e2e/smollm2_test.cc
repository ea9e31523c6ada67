// The bundled real decoder, SmolLM2-135M-Instruct (GGUF Q4_1), against llama.cpp itself
// (tests/goldens/smollm2/llamacpp.json, made by scripts/goldens/make_smollm2_goldens.py from the F32
// GGUF of the same weights): greedy continuations equal llama-simple's, next-token log-probabilities
// on a WikiText-2 chunk within 0.01 of llama-perplexity's, the same likeliest token everywhere.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "arrowquant/engine.h"
#include "io/json_file.h"
#include "test_util.h"

using namespace arrowquant;

namespace {

// f32 activations: the goldens are llama.cpp's float math (its Q8_0 embedding/head is read packed
// here, and int8 activations would round the head's input; measured: top-5 log-p up to 0.28 apart).
const ArrowEngine& smollm2() {
  static ArrowEngine e(aqtest::source_dir() + "/models/smollm2-135m", [] {
    EngineOptions o;
    o.activations = EngineOptions::Activations::F32;
    return o;
  }());
  return e;
}

nlohmann::json golden() { return read_json_file(aqtest::source_dir() + "/tests/goldens/smollm2/llamacpp.json"); }

}  // namespace

TEST(SmolLM2, GreedyContinuationsEqualLlamaCpp) {
  const ArrowEngine& e = smollm2();
  EXPECT_EQ(e.architecture(), "llama");
  EXPECT_EQ(e.weights_kind(), "gguf");
  for (const auto& g : golden()["greedy"]) {
    GenerateOptions o;
    o.max_tokens = g["max_tokens"];
    o.temperature = 0;
    o.context = 512;
    const GenerateResult r = e.generate(g["prompt"], o);
    EXPECT_EQ(r.text, g["continuation"].get<std::string>()) << g["prompt"];
  }
}

TEST(SmolLM2, NextTokenLogProbabilitiesMatchLlamaCpp) {
  const ArrowEngine& e = smollm2();
  const auto g = golden();
  const std::vector<int32_t> ids = g["tokens"];
  const int64_t V = e.vocab_size();
  const std::vector<float> logits = e.logits(ids);
  ASSERT_EQ(logits.size(), ids.size() * size_t(V));
  double worst = 0;
  int same_top = 0, positions = 0;
  for (const auto& p : g["positions"]) {
    const float* row = logits.data() + size_t(p["position"].get<int64_t>() * V);
    double mx = row[0], sum = 0;
    for (int64_t i = 1; i < V; ++i) mx = std::max<double>(mx, row[i]);
    for (int64_t i = 0; i < V; ++i) sum += std::exp(double(row[i]) - mx);
    const double lse = mx + std::log(sum);
    int64_t argmax = 0;
    for (int64_t i = 1; i < V; ++i)
      if (row[i] > row[argmax]) argmax = i;
    same_top += argmax == p["top"][0][0].get<int64_t>();
    for (const auto& t : p["top"]) {
      const double ours = double(row[t[0].get<int64_t>()]) - lse;
      worst = std::max(worst, std::fabs(ours - t[1].get<double>()));
    }
    ++positions;
  }
  std::printf("largest |log p difference| from llama.cpp over the top 5 of %d positions: %.5f\n", positions, worst);
  EXPECT_EQ(positions, 63);
  EXPECT_EQ(same_top, positions);
  EXPECT_LT(worst, 0.01) << "largest log-probability difference from llama.cpp";
}
