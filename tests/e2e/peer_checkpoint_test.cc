// Checkpoints made by real peer libraries (the compressed-tensors library's own quantisation and
// ModelCompressor: scripts/goldens/make_peer_checkpoints.py; GPTQModel's own GPTQ:
// scripts/goldens/make_gptqmodel_checkpoints.py) run here as they are and after
// `arrowquant import`, with the logits of the library's own dequantisation, their Linears packed at
// the checkpoint's size: int4 symmetric and affine (pack-quantized), int8 W8A8 (int-quantized), FP8
// per channel and in blocks (float-quantized).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "arrowquant/engine.h"
#include "arrowquant/tensor_source.h"
#include "golden_logits.h"
#include "test_util.h"

using namespace arrowquant;
using aqtest::rel_error;
using aqtest::run_cli;
using aqtest::tensor_values;

namespace {

std::string peers(const std::string& leaf) { return aqtest::source_dir() + "/tests/goldens/peers/" + leaf; }


EngineOptions packed(EngineOptions::Activations a) {
  EngineOptions o;
  o.weights = EngineOptions::Weights::Packed;
  o.activations = a;
  return o;
}

}  // namespace

TEST(PeerCheckpoint, GptqModelCheckpointsGiveGptqModelsLogits) {
  // GPTQModel's own GPTQ (scripts/goldens/make_gptqmodel_checkpoints.py): v1 checkpoints, symmetric
  // and affine, bfloat16 scales; logits of GPTQModel's own dequantisation.
  for (const std::string name : {"gptqmodel_w4_g32_sym", "gptqmodel_w4_g32_asym"}) {
    auto src = open_tensor_source(peers(name));
    EXPECT_EQ(src->kind(), "gptq");
    size_t packed_linears = 0;
    for (const auto& t : src->tensors())
      if (t.format) {
        packed_linears += !src->read_packed(t.name).empty();
        EXPECT_EQ(t.format->symmetric, name.ends_with("_sym")) << t.name;
      }
    EXPECT_EQ(packed_linears, 14u) << name;
    SafetensorsFile golden(peers(name + "_logits.safetensors"));
    ArrowEngine e(peers(name), packed(EngineOptions::Activations::F32));
    for (int i = 0; i < 2; ++i) {
      const auto ids = tensor_values<int32_t>(golden, "ids_" + std::to_string(i));
      const double err = rel_error(e.logits(ids), tensor_values<float>(golden, "logits_" + std::to_string(i)));
      EXPECT_LE(err, 2e-5) << name << " input " << i;
      printf("%s input %d: %.2e of the largest logit\n", name.c_str(), i, err);
    }
  }
}

TEST(PeerCheckpoint, CompressedTensorsLibraryCheckpointsGiveTheLibrarysLogits) {
  aqtest::TempDir d;
  for (const std::string scheme : {"w4a16_g32", "w4_asym_g32", "w8a8_channel", "fp8_channel", "fp8_block"}) {
    const bool fp8 = scheme.starts_with("fp8");
    const std::string folder = peers(scheme);
    auto src = open_tensor_source(folder);
    EXPECT_EQ(src->kind(), "compressed-tensors");
    size_t packed_linears = 0, bytes = 0;
    for (const auto& t : src->tensors())
      if (t.format) packed_linears += !src->read_packed(t.name).empty(), bytes += t.stored_bytes;
    EXPECT_EQ(packed_linears, 14u) << scheme;
    EXPECT_EQ(src->calibrated_activations(), scheme == "w8a8_channel" ? "int8" : "") << scheme;

    auto imported = run_cli("import " + folder + " -o " + (d / scheme));
    ASSERT_EQ(imported.exit_code, 0) << imported.output;
    EXPECT_NE(imported.output.find("14 kept packed, 0 dequantised"), std::string::npos) << imported.output;

    SafetensorsFile golden(peers(scheme + "_logits.safetensors"));
    ArrowEngine direct(folder, packed(EngineOptions::Activations::F32));
    ArrowEngine from_import(d / scheme, packed(EngineOptions::Activations::F32));
    // FP8 weights have f32-activation kernels only.
    ArrowEngine int8(folder, packed(fp8 ? EngineOptions::Activations::F32 : EngineOptions::Activations::Int8));
    for (int i = 0; i < 2; ++i) {
      const auto ids = tensor_values<int32_t>(golden, "ids_" + std::to_string(i));
      const auto want = tensor_values<float>(golden, "logits_" + std::to_string(i));
      const auto got = direct.logits(ids);
      EXPECT_LE(rel_error(got, want), 2e-5) << scheme << " input " << i;
      EXPECT_EQ(from_import.logits(ids), got) << scheme << " input " << i;
      const double e8 = rel_error(int8.logits(ids), want);  // int8 activations: W8A8 as it is meant to run
      EXPECT_LE(e8, fp8 ? 2e-5 : 0.05) << scheme << " input " << i;
      printf("%s input %d: f32 activations %.2e, %s activations %.2e of the largest logit\n", scheme.c_str(), i,
             rel_error(got, want), fp8 ? "f32 (again)" : "int8", e8);
    }
  }
}
