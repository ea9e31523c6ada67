// Sensitivity analysis on the real stories260K: every tensor the quantiser would touch, at every
// width asked, with errors that shrink as the width grows; with calibration text, output errors of
// the block Linears on real inputs.
#include "arrowquant/sensitivity.h"

#include <gtest/gtest.h>

#include "arrowquant/error.h"
#include "test_util.h"

using namespace arrowquant;

namespace {
std::string stories() { return aqtest::stories_dir() + "/stories260K.bin"; }
}  // namespace

TEST(Sensitivity, ErrorsShrinkWithWidth) {
  // (also: output probes of every tensor, the ranking by them)
  QuantConfig cfg;
  cfg.group_size = 32;
  cfg.embedding_bits = 4;
  cfg.calibration = aqtest::source_dir() + "/tests/goldens/stories260k/calibration.txt";
  cfg.samples = 4;
  cfg.seq_len = 64;
  const SensitivityReport r = analyze_sensitivity(stories(), cfg, {2, 4, 8});
  EXPECT_EQ(r.tensors.size(), 5u * 7u + 1u);  // 7 Linears per block, and the (tied) embedding
  EXPECT_GT(r.calibration_tokens, 0);
  EXPECT_GT(r.fixed_bytes, 0u);  // norms stay float
  int with_output = 0;
  for (const auto& t : r.tensors) {
    ASSERT_EQ(t.widths.size(), 3u) << t.name;
    EXPECT_GT(t.weight_entropy, 0) << t.name;
    for (size_t k = 1; k < t.widths.size(); ++k) {
      EXPECT_LT(t.widths[k].weight_rel_rmse, t.widths[k - 1].weight_rel_rmse) << t.name;
      EXPECT_GT(t.widths[k].bytes, t.widths[k - 1].bytes) << t.name;
      if (t.widths[k].output_rel_mse >= 0) EXPECT_LT(t.widths[k].output_rel_mse, t.widths[k - 1].output_rel_mse) << t.name;
    }
    if (t.role == "linear") {
      ++with_output;
      EXPECT_GE(t.widths.back().output_cosine, 0.999) << t.name;
    }
  }
  EXPECT_EQ(with_output, 35);
  // Every tensor probed at INT4 (widths 2, 4, 8 asked): the model's own divergence with it alone rounded.
  EXPECT_GT(r.probe_tokens, 0);
  for (const auto& t : r.tensors) {
    EXPECT_EQ(t.probe_bits, 4) << t.name;
    EXPECT_GT(t.probe_divergence, 0) << t.name;
    EXPECT_GT(t.divergence_per_cost, 0) << t.name;
  }
  const std::string md = r.to_markdown();
  EXPECT_NE(md.find("| 1 |"), std::string::npos);  // ranked
  EXPECT_NE(md.find("model divergence, alone at INT4"), std::string::npos);
  // The tied embedding is the head too: no block Linear moves the output as much.
  EXPECT_NE(md.find("| 1 | model.embed_tokens.weight |"), std::string::npos) << md;
  EXPECT_THROW(analyze_sensitivity(stories(), cfg, {7}), ValueError);
}
