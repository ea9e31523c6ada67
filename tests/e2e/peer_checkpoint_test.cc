// Checkpoints made by real peer libraries (the compressed-tensors library's own quantisation and
// ModelCompressor: scripts/goldens/make_peer_checkpoints.py; GPTQModel's own GPTQ:
// scripts/goldens/make_gptqmodel_checkpoints.py) run here as they are and after
// `arrowquant import`, with the logits of the library's own dequantisation, their Linears packed at
// the checkpoint's size: int4 symmetric and affine (pack-quantized), int8 W8A8 (int-quantized), FP8
// per channel and in blocks (float-quantized).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "arrowquant/engine.h"
#include "arrowquant/error.h"
#include "arrowquant/tensor_source.h"
#include "golden_logits.h"
#include "test_util.h"

using namespace arrowquant;
namespace fs = std::filesystem;
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

TEST(PeerCheckpoint, AngelSlimW4a8AwqGivesItsDequantisedLogits) {
  // AngelSlim's own bf16_to_int4_pack and create_fp8_quantized_param (scripts/goldens/make_angelslim_checkpoint.py):
  // MLP Linears int4 g32 in int8 pairs, attention FP8 E4M3 in 32x32 blocks with float32 scales.
  const std::string folder = peers("angelslim_w4a8_awq");
  auto src = open_tensor_source(folder);
  EXPECT_EQ(src->kind(), "w4a8_awq");
  size_t int4 = 0, fp8 = 0;
  for (const auto& t : src->tensors())
    if (t.format) {
      ASSERT_FALSE(src->read_packed(t.name).empty()) << t.name;
      (t.format->float8() ? fp8 : int4) += 1;
      EXPECT_EQ(t.format->name, t.format->float8() ? "fp8_e4m3" : "int4_sym") << t.name;
    }
  EXPECT_EQ(int4, 6u);
  EXPECT_EQ(fp8, 8u);
  aqtest::TempDir d;
  auto imported = run_cli("import " + folder + " -o " + (d / "imported"));
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  EXPECT_NE(imported.output.find("14 kept packed, 0 dequantised"), std::string::npos) << imported.output;

  SafetensorsFile golden(peers("angelslim_w4a8_awq_logits.safetensors"));
  ArrowEngine direct(folder, packed(EngineOptions::Activations::F32));
  ArrowEngine from_import(d / "imported", packed(EngineOptions::Activations::F32));
  for (int i = 0; i < 2; ++i) {
    const auto ids = tensor_values<int32_t>(golden, "ids_" + std::to_string(i));
    const auto got = direct.logits(ids);
    // The FP8 layers' float32 block scales become float16 (up to 4e-4 relative, as inspect reports).
    const double err = rel_error(got, tensor_values<float>(golden, "logits_" + std::to_string(i)));
    EXPECT_LE(err, 1e-3) << "input " << i;
    EXPECT_EQ(from_import.logits(ids), got) << "input " << i;
    printf("angelslim w4a8_awq input %d: %.2e of the largest logit\n", i, err);
  }
}

TEST(PeerCheckpoint, AngelSlimW4a8AwqInconsistentFilesAreClearErrors) {
  aqtest::TempDir d;
  const std::string folder = peers("angelslim_w4a8_awq");
  auto copy_with_config = [&](const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
    const fs::path dir = d / name;
    fs::create_directories(dir);
    for (const auto& f : fs::directory_iterator(folder)) fs::copy_file(f.path(), dir / f.path().filename());
    nlohmann::json cfg = nlohmann::json::parse(aqtest::slurp((dir / "config.json").string()));
    edit(cfg);
    std::ofstream(dir / "config.json") << cfg.dump();
    return dir.string();
  };
  auto error_of = [](const std::string& path) {
    try {
      open_tensor_source(path);
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string group = copy_with_config("group", [](nlohmann::json& c) { c["quantization_config"]["weight_group_size"] = 128; });
  EXPECT_NE(error_of(group).find("weight_group_size says 128"), std::string::npos) << error_of(group);
  const std::string blocks = copy_with_config("blocks", [](nlohmann::json& c) {
    c["quantization_config"]["ignored_quantization_config"].erase("weight_block_size");
  });
  EXPECT_NE(error_of(blocks).find("no ignored_quantization_config.weight_block_size"), std::string::npos) << error_of(blocks);
  const std::string wrong = copy_with_config("wrong", [](nlohmann::json& c) {
    c["quantization_config"]["ignored_quantization_config"]["weight_block_size"] = {16, 16};
  });
  EXPECT_NE(error_of(wrong).find("not the 16 x 16 blocks"), std::string::npos) << error_of(wrong);
}
