// Bit allocation: the chosen widths fit the budget, a larger budget spends more, pins are kept, a
// budget below INT2 everywhere is refused, and fused siblings share a width. (Without calibration text the cost is the weight error,
// which keeps this fast; the e2e tests allocate from measured output errors.)
#include "pipeline/bit_allocation.h"

#include <gtest/gtest.h>

#include <map>

#include "arrowquant/error.h"
#include "pipeline/model_session.h"
#include "test_util.h"

using namespace arrowquant;

namespace {
std::string stories() { return aqtest::stories_dir() + "/stories260K.bin"; }

struct Allocation {
  std::vector<TensorPlan> plans;
  nlohmann::json decisions;
  double bytes = 0;  // of the allocated tensors
};
Allocation allocate(ModelSession& s, QuantConfig cfg, double bpw) {
  cfg.target_bpw = bpw;
  Allocation a;
  for (const auto& t : s.source().tensors()) a.plans.push_back(plan_tensor(t, cfg));
  a.decisions = allocate_bits(s, cfg, a.plans, nullptr);
  for (const auto& d : a.decisions) a.bytes += d["bytes"].get<double>();
  return a;
}
int64_t total_params(const TensorSource& src) {
  int64_t n = 0;
  for (const auto& t : src.tensors()) n += num_elements(t.shape);
  return n;
}
}  // namespace

TEST(BitAllocation, FitsTheBudgetAndSpendsMoreWhenGivenMore) {
  ModelSession s(stories());
  QuantConfig cfg;
  cfg.group_size = 32;
  const double params = double(total_params(s.source()));
  double previous = 0;
  // stories260K is tiny: the Parquet container alone is ~3 bits per weight of it.
  for (double bpw : {7.0, 9.0, 12.0}) {
    const Allocation a = allocate(s, cfg, bpw);
    EXPECT_LE(a.bytes, bpw * params / 8) << bpw;  // the tensors alone; the file adds fixed parts
    EXPECT_GE(a.bytes, previous) << bpw;
    previous = a.bytes;
    for (size_t i = 0; i < a.plans.size(); ++i)
      if (a.plans[i].quantize) EXPECT_TRUE(is_format_width(a.plans[i].format->bits));
    for (const auto& d : a.decisions) EXPECT_FALSE(d.contains("predicted_output_cosine"));  // no calibration
  }
}

TEST(BitAllocation, KeepsPinsAndRefusesImpossibleBudgets) {
  ModelSession s(stories());
  QuantConfig cfg;
  cfg.group_size = 32;
  cfg.pins = {{"*.down_proj.weight", "8"}};
  const Allocation a = allocate(s, cfg, 9.0);
  for (size_t i = 0; i < a.plans.size(); ++i)
    if (s.source().tensors()[i].name.find("down_proj") != std::string::npos) {
      EXPECT_EQ(a.plans[i].format->bits, 8);
      EXPECT_EQ(a.plans[i].reason.rfind("pinned", 0), 0u);
    }
  for (const auto& d : a.decisions) EXPECT_EQ(d["tensor"].get<std::string>().find("down_proj"), std::string::npos);
  cfg.pins.clear();
  try {
    allocate(s, cfg, 0.5);
    FAIL() << "accepted 0.5 bits per weight";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("INT2 everywhere"), std::string::npos) << e.what();
  }
}

// --fuse-siblings: the Linears that read one input (q/k/v, gate/up: the sensitivity labels them with
// their shared input) come out at one width, and the file still fits the budget.
TEST(BitAllocation, FusedSiblingsShareOneWidth) {
  ModelSession s(stories());
  QuantConfig cfg;
  cfg.group_size = 32;
  cfg.calibration = aqtest::source_dir() + "/tests/goldens/stories260k/calibration.txt";
  cfg.samples = 4;
  cfg.seq_len = 64;
  cfg.threads = 2;
  cfg.fuse_siblings = true;
  const Allocation a = allocate(s, cfg, 8.0);
  EXPECT_LE(a.bytes, 8.0 * double(total_params(s.source())) / 8);
  std::map<std::string, int> bits;
  for (const auto& d : a.decisions) bits[d["tensor"].get<std::string>()] = d["bits"].get<int>();
  for (int b = 0; b < 5; ++b) {
    const std::string l = "model.layers." + std::to_string(b) + ".";
    ASSERT_TRUE(bits.count(l + "self_attn.q_proj.weight")) << l;
    EXPECT_EQ(bits[l + "self_attn.q_proj.weight"], bits[l + "self_attn.k_proj.weight"]) << l;
    EXPECT_EQ(bits[l + "self_attn.q_proj.weight"], bits[l + "self_attn.v_proj.weight"]) << l;
    EXPECT_EQ(bits[l + "mlp.gate_proj.weight"], bits[l + "mlp.up_proj.weight"]) << l;
  }
  // The same budget without the option lets siblings differ somewhere (else the test proves nothing).
  cfg.fuse_siblings = false;
  const Allocation free = allocate(s, cfg, 8.0);
  std::map<std::string, int> free_bits;
  for (const auto& d : free.decisions) free_bits[d["tensor"].get<std::string>()] = d["bits"].get<int>();
  int differ = 0;
  for (int b = 0; b < 5; ++b) {
    const std::string l = "model.layers." + std::to_string(b) + ".";
    differ += free_bits[l + "self_attn.q_proj.weight"] != free_bits[l + "self_attn.k_proj.weight"] ||
              free_bits[l + "self_attn.q_proj.weight"] != free_bits[l + "self_attn.v_proj.weight"] ||
              free_bits[l + "mlp.gate_proj.weight"] != free_bits[l + "mlp.up_proj.weight"];
  }
  EXPECT_GT(differ, 0);
}
