// Output probes on the real stories260K (a decoder with a tied head) and MiniLM (an encoder): a
// tensor probed with its own float values moves nothing, rounded values move the output, and the
// float weights are back in place after every probe.
#include "pipeline/output_probe.h"

#include <gtest/gtest.h>

#include "arrowquant/quant_format.h"
#include "pipeline/model_session.h"
#include "quant/rtn.h"
#include "test_util.h"

using namespace arrowquant;

namespace {
std::vector<float> rounded(const std::string& name, Shape shape, const std::vector<float>& w, int bits) {
  return dequantize(quantize_rtn({name, shape, w}, {find_quant_format(bits, false), 32, ClipMethod::MinMax, 1}));
}

void check_model(const std::string& path, const std::string& calibration, const std::string& table) {
  ModelSession s(path);
  QuantConfig cfg;
  cfg.calibration = calibration;
  cfg.samples = 4;
  cfg.seq_len = 64;
  CalibrationModel& m = s.calibration_model(1);
  OutputProbe probe(m, s.calibration_sequences(cfg), 128);
  EXPECT_GT(probe.tokens(), 0);
  EXPECT_LE(probe.tokens(), 128);

  Linear* l = m.linears(m.blocks() - 1).back();
  const std::string name = l->name + ".weight";
  ASSERT_TRUE(probe.covers(name));
  const std::vector<float> w = l->float_weight();
  EXPECT_NEAR(probe.divergence(name, w), 0.0, 1e-6);  // float rounding of the normalised embeddings
  const double d2 = probe.divergence(name, rounded(name, {l->out, l->in}, w, 2));
  const double d4 = probe.divergence(name, rounded(name, {l->out, l->in}, w, 4));
  EXPECT_GT(d2, d4);
  EXPECT_GT(d4, 0.0);
  EXPECT_EQ(l->float_weight(), w);  // put back
  EXPECT_NEAR(probe.divergence(name, w), 0.0, 1e-6);  // float rounding of the normalised embeddings

  ASSERT_TRUE(probe.covers(table)) << table;
  const std::vector<float> t = *m.table(table);
  const int64_t cols = m.linears(0).front()->in;
  EXPECT_NEAR(probe.divergence(table, t), 0.0, 1e-6);  // float rounding of the normalised embeddings
  EXPECT_GT(probe.divergence(table, rounded(table, {int64_t(t.size()) / cols, cols}, t, 2)), 0.0);
  EXPECT_EQ(*m.table(table), t);
  EXPECT_FALSE(probe.covers("no.such.weight"));
}
}  // namespace

TEST(OutputProbe, DecoderWithTiedHead) {
  check_model(aqtest::stories_dir() + "/stories260K.bin",
              aqtest::source_dir() + "/tests/goldens/stories260k/calibration.txt", "model.embed_tokens.weight");
}

TEST(OutputProbe, Encoder) {
  check_model(aqtest::minilm_dir(), aqtest::source_dir() + "/../shared/data/wikitext2/wiki.test.raw",
              "embeddings.word_embeddings.weight");
}
