// AWQ and SmoothQuant fold per-channel scales into the op before the scaled Linears; the model must
// compute the same function afterwards, on real models (grouped-query attention included).
#include "pipeline/scale_search.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

#include "arrowquant/error.h"
#include "model/bert_encoder.h"
#include "model/llama_decoder.h"
#include "pipeline/input_stats.h"
#include "test_util.h"

using namespace arrowquant;

namespace {

// Scales spread over [0.25, 4] from random "activation maxima" (SmoothQuant's rule, alpha 1).
FoldScales random_scales(const ScaleFold& f, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-2.0f, 2.0f);
  InputStats st;
  st.abs_max.resize(size_t(f.consumers[0]->in));
  for (auto& v : st.abs_max) v = std::exp2(d(rng));
  return smoothquant_scales(f, st, 1.0);
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    m = std::max(m, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(a[i])));
  }
  return m / scale;
}

}  // namespace

TEST(ScaleSearch, DecoderComputesTheSameAfterFolding) {
  ModelWeights w(aqtest::stories_dir() + "/stories260K.bin");
  LlamaDecoder dec(w, 1);
  ASSERT_LT(dec.config().kv_heads, dec.config().heads);  // the v->o fold must tie grouped heads
  const std::vector<int32_t> ids = {1, 403, 407, 261, 378, 429, 271, 1114 % 512, 300, 17};
  DecoderState s0 = dec.new_state(16, KVQuantPlan{});
  const std::vector<float> before = dec.forward(s0, ids, true);
  uint32_t seed = 1;
  for (int64_t l = 0; l < dec.config().layers; ++l)
    for (ScaleFold& f : dec.layer_folds(l)) {
      FoldScales s = random_scales(f, seed++);
      if (!f.channel_source.empty()) {  // tied: every o_proj input of one value row shares a scale
        for (size_t c = 0; c < s.consumer.size(); ++c)
          EXPECT_EQ(s.consumer[c], s.producer[size_t(f.channel_source[c])]);
      }
      apply_fold(f, s);
    }
  DecoderState s1 = dec.new_state(16, KVQuantPlan{});
  EXPECT_LT(max_rel_diff(before, dec.forward(s1, ids, true)), 1e-4);
}

TEST(ScaleSearch, EncoderComputesTheSameAfterFolding) {
  ModelWeights w(aqtest::minilm_dir());
  BertEncoder enc(w, 1);
  const std::vector<std::vector<int32_t>> batch = {{101, 1037, 2158, 3248, 1996, 2858, 1012, 102}};
  const auto before = enc.forward(batch).last_hidden;
  uint32_t seed = 7;
  for (int64_t l = 0; l < enc.config().layers; ++l)
    for (ScaleFold& f : enc.layer_folds(l)) apply_fold(f, random_scales(f, seed++));
  EXPECT_LT(max_rel_diff(before, enc.forward(batch).last_hidden), 1e-4);
}
