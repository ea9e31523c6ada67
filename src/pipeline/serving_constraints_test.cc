// --export-compatible vllm: what vLLM cannot load is refused before any work, naming the tensor.
#include "pipeline/serving_constraints.h"

#include <gtest/gtest.h>

#include "arrowquant/error.h"

using namespace arrowquant;

namespace {

struct Model {
  std::vector<SourceTensorInfo> tensors;
  std::vector<TensorPlan> plans;
  void add(const std::string& name, int64_t rows, int64_t cols, int bits, int64_t group) {
    tensors.push_back({name, DType::F16, {rows, cols}, nullptr});
    TensorPlan p;
    p.quantize = bits > 0;
    p.format = bits > 0 ? find_quant_format(bits, false) : nullptr;
    p.group_size = group;
    plans.push_back(p);
  }
};

// One Llama layer (hidden 256, 4 heads / 2 KV heads, intermediate 512) at `bits`, k_proj at k_bits.
Model layer(int bits, int k_bits, int64_t group) {
  Model m;
  const std::string l = "model.layers.0.";
  m.add(l + "self_attn.q_proj.weight", 256, 256, bits, group);
  m.add(l + "self_attn.k_proj.weight", 128, 256, k_bits, group);
  m.add(l + "self_attn.v_proj.weight", 128, 256, bits, group);
  m.add(l + "self_attn.o_proj.weight", 256, 256, bits, group);
  m.add(l + "mlp.gate_proj.weight", 512, 256, bits, group);
  m.add(l + "mlp.up_proj.weight", 512, 256, bits, group);
  m.add(l + "mlp.down_proj.weight", 256, 512, bits, group);
  return m;
}

std::string refusal(const Model& m, int64_t tp, int64_t heads = 4, int64_t kv = 2) {
  QuantConfig c;
  c.export_compatible = ExportCompatible::Vllm;
  c.tensor_parallel = tp;
  try {
    check_serving_constraints(m.tensors, m.plans, c, {{"num_attention_heads", heads}, {"num_key_value_heads", kv}});
  } catch (const ValueError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ServingConstraints, AcceptsWhatVllmLoads) {
  EXPECT_EQ(refusal(layer(4, 4, 128), 1), "");
  EXPECT_EQ(refusal(layer(4, 4, 128), 2), "");   // o: 128 columns per GPU, one group
  EXPECT_EQ(refusal(layer(8, 8, 0), 4), "");     // per channel splits anywhere
  EXPECT_EQ(refusal(layer(4, 4, 32), 8, 8, 2), "");  // 2 KV heads replicated over 8 GPUs
  QuantConfig none;  // no engine: nothing checked
  Model m = layer(2, 8, 100);
  EXPECT_NO_THROW(check_serving_constraints(m.tensors, m.plans, none, nlohmann::json::object()));
}

TEST(ServingConstraints, RefusesSplitGroupsUnfusableSiblingsAndOtherWidths) {
  EXPECT_NE(refusal(layer(4, 4, 128), 4).find("o_proj.weight: each GPU's 64 input columns are not whole groups of 128"),
            std::string::npos);
  EXPECT_NE(refusal(layer(4, 8, 128), 1).find("are fused into one product by vLLM"), std::string::npos);
  EXPECT_NE(refusal(layer(4, 0, 128), 1).find("(float)"), std::string::npos);  // a float k among int4 q/v
  EXPECT_NE(refusal(layer(3, 3, 128), 1).find("vLLM runs 4 or 8 bits"), std::string::npos);
  EXPECT_NE(refusal(layer(4, 4, 128), 3).find("attention heads do not divide across 3 GPUs"), std::string::npos);
}

TEST(ServingConstraints, SettingsThatVllmCannotServeAreRefused) {
  auto bad = [](const std::function<void(QuantConfig&)>& set) {
    QuantConfig c;
    c.export_compatible = ExportCompatible::Vllm;
    set(c);
    EXPECT_THROW(validate(c), ValueError);
  };
  bad([](QuantConfig& c) { c.bits = 2; });
  bad([](QuantConfig& c) { c.half = true, c.symmetric = true; });
  bad([](QuantConfig& c) { c.codebook = Codebook::NormalFloat; });
  bad([](QuantConfig& c) { c.rotation = RotationChoice::Hadamard; });
  bad([](QuantConfig& c) { c.pins.push_back({"*.k_proj.*", "3"}); });
  QuantConfig tp_alone;
  tp_alone.tensor_parallel = 2;
  EXPECT_THROW(validate(tp_alone), ValueError);
  QuantConfig gptq;
  gptq.method = Method::Gptq;
  EXPECT_EQ(gptq.rotation_kind(), RotationKind::Hadamard);
  gptq.export_compatible = ExportCompatible::Vllm;
  EXPECT_EQ(gptq.rotation_kind(), RotationKind::None);  // auto: vLLM has no input rotation
  EXPECT_TRUE(gptq.fuses_siblings());
  EXPECT_EQ(gptq.allocation_widths(), (std::vector<int>{4, 8}));
}
