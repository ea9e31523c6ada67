// ModelWeights, the model code's only view of weights: float tensors shape-checked against the
// config, quantised ones as packed views (in place or copied) equal to their dequantised values,
// clear errors naming the tensor, kernel fallbacks recorded.
#include "model/model_weights.h"

#include <gtest/gtest.h>

#include <cstring>

#include "arrowquant/error.h"
#include "arrowquant/quantization_manager.h"
#include "arrowquant/weight_loader.h"
#include "test_util.h"

using namespace arrowquant;

namespace {
std::string stories() { return aqtest::stories_dir() + "/stories260K.bin"; }

template <class Fn>
std::string error_of(Fn&& fn) {
  return aqtest::message_of<FormatError>(fn);
}
}  // namespace

TEST(ModelWeights, FloatTensorsAreShapeChecked) {
  ModelWeights w(stories());
  EXPECT_EQ(w.kind(), "llama2c");
  EXPECT_EQ(w.config().value("hidden_size", 0), 64);
  EXPECT_TRUE(w.has("model.norm.weight"));
  EXPECT_EQ(w.load("model.norm.weight", {64}).size(), 64u);
  const std::string wrong = error_of([&] { w.load("model.norm.weight", {65}); });
  EXPECT_NE(wrong.find("model.norm.weight"), std::string::npos) << wrong;
  EXPECT_NE(wrong.find("expected [65]"), std::string::npos) << wrong;
  EXPECT_NE(error_of([&] { w.load("no.such.weight", {1}); }).find("missing"), std::string::npos);
  EXPECT_TRUE(w.packed("model.layers.0.self_attn.q_proj.weight", {64, 64}).empty());  // stored in float
  EXPECT_EQ(w.preferred_activations(), "f32");
}

TEST(ModelWeights, PackedViewsEqualTheirDequantisedValues) {
  aqtest::TempDir d;
  QuantConfig cfg;
  cfg.bits = 4;
  cfg.group_size = 32;
  QuantizationManager(cfg).quantize(stories(), d / "q4");
  const std::string name = "model.layers.1.mlp.down_proj.weight";
  const Shape shape = {64, 172};
  ModelWeights float_view(d / "q4");  // packed kernels off: every tensor dequantised
  const std::vector<float> dense = float_view.load(name, shape);
  for (bool copy : {false, true}) {
    ModelWeights w(d / "q4");
    w.set_packed_kernels(true, copy);
    const auto chunks = w.packed(name, shape);
    ASSERT_EQ(chunks.size(), 1u);
    const PackedView& v = chunks[0].view;
    EXPECT_EQ(v.format->name, "int4_asym");
    EXPECT_EQ(v.geom.rows, 64);
    std::vector<float> back(dense.size());
    dequantize_rows(v, 0, v.geom.rows, back.data());
    EXPECT_EQ(back, dense) << (copy ? "copied" : "in place");
    const bool in_map = WeightLoader::open(d / "q4")->tensor(name).chunks[0].data != nullptr;
    EXPECT_TRUE(in_map);
    EXPECT_NE(error_of([&] { w.packed(name, {172, 64}); }).find("expected"), std::string::npos);
  }
}

TEST(ModelWeights, KernelFallbacksAreRecorded) {
  aqtest::TempDir d;
  QuantConfig cfg;
  cfg.bits = 3;
  cfg.group_size = 32;
  QuantizationManager(cfg).quantize(stories(), d / "q3");
  ModelWeights w(d / "q3");
  w.set_packed_kernels(true);
  KernelRequest req;
  req.activation = Activation::Int8;
  req.any_backend = false;
  req.backend = Backend::Scalar;  // the scalar backend has no int8-activation kernel
  w.set_kernel_request(req);
  const auto chunks = w.packed("model.layers.0.self_attn.q_proj.weight", {64, 64});
  ASSERT_FALSE(chunks.empty());
  EXPECT_THROW(w.kernel_for(chunks[0].view), ValueError);  // asked for int8, no fallback named
  req.has_fallback = true;
  w.set_kernel_request(req);
  EXPECT_EQ(w.kernel_for(chunks[0].view).kernel->activation, Activation::F32);
  ASSERT_EQ(w.kernel_notes().size(), 1u);
  EXPECT_NE(w.kernel_notes()[0].find("int3_asym"), std::string::npos) << w.kernel_notes()[0];
  w.kernel_for(chunks[0].view);
  EXPECT_EQ(w.kernel_notes().size(), 1u);  // once per format and group, not per tensor
}
