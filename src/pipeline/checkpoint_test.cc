// Checkpoint pieces round-trip exactly; damaged pieces and other settings are refused.
#include "pipeline/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "arrowquant/error.h"
#include "quant/rtn.h"
#include "test_util.h"

using namespace arrowquant;

TEST(Checkpoint, RoundTripsAndRefusesDamageAndOtherSettings) {
  aqtest::TempDir tmp;
  const std::string out = tmp / "model";
  const nlohmann::json manifest = {{"source", "m"}, {"config", {{"bits", 2}}}};
  CheckpointPiece p;
  FloatTensor t{"w", {3, 40}, aqtest::random_floats(120, 5)};
  p.quantized.push_back(quantize_rtn(t, {find_quant_format(3, false), 32, ClipMethod::Mse, 1, hadamard_rotation(40, 7)}));
  p.floats["norm"] = {1.5f, 2.5f};
  p.activations = {{1, 2, 3}, {4}};
  p.decisions.push_back({{"tensor", "w"}});
  {
    Checkpoint ck(out, manifest, false);
    ck.save("block_0", p);
    EXPECT_FALSE(ck.load("block_1").has_value());
  }
  Checkpoint again(out, manifest, true);
  auto q = again.load("block_0");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->quantized[0].codes, p.quantized[0].codes);
  EXPECT_EQ(q->quantized[0].scales, p.quantized[0].scales);
  EXPECT_EQ(q->quantized[0].rotation, p.quantized[0].rotation);
  EXPECT_EQ(q->quantized[0].rotation.block, 8);
  EXPECT_EQ(q->floats["norm"], p.floats["norm"]);
  EXPECT_EQ(q->activations, p.activations);
  // Other settings: refused, not mixed in.
  EXPECT_THROW(Checkpoint(out, nlohmann::json{{"source", "m"}, {"config", {{"bits", 4}}}}, true), ValueError);
  // A damaged piece is an error naming the file, never garbage.
  const std::string piece = out + ".checkpoint/block_0.bin";
  std::string bytes = aqtest::slurp(piece);
  bytes.resize(bytes.size() / 2);
  { std::ofstream(piece, std::ios::binary) << bytes; }
  EXPECT_THROW(again.load("block_0"), FormatError);
  // Without --resume an old checkpoint is discarded.
  Checkpoint fresh(out, manifest, false);
  EXPECT_FALSE(fresh.load("block_0").has_value());
}
