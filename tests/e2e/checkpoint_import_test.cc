// Quantised checkpoints of other libraries read as they are and imported (io/quantized_checkpoint,
// `arrowquant import`): our models exported to compressed-tensors and GPTQ (mixed widths, affine and
// symmetric, sharded) come back bit for bit; an AWQ GEMM checkpoint built here from the same codes
// does too; corrupt or inconsistent checkpoints are clear errors that leave nothing behind.
// (tests/goldens/peers/ holds checkpoints made by the compressed-tensors library itself:
// peer_checkpoint_test.cc.)
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "arrowquant/tensor_source.h"
#include "format/pack.h"
#include "io/safetensors_writer.h"
#include "test_util.h"

using namespace arrowquant;
using aqtest::run_cli;
namespace fs = std::filesystem;

namespace {

std::string tiny_llama() { return aqtest::source_dir() + "/tests/goldens/tiny/llama"; }
const char* kText = "/tests/goldens/stories260k/calibration.txt";

// A quantised tensor's packed data, contiguous.
struct Packed {
  std::string format;
  int64_t group = 0;
  std::vector<uint8_t> codes, scales, zeros;
};

Packed packed_of(const TensorSource& s, const std::string& name) {
  Packed p;
  for (const PackedRows& c : s.read_packed(name)) {
    const PackedView& v = c.view;
    p.format = std::string(v.format->name);
    p.group = v.geom.group_size;
    const size_t groups = size_t(v.geom.groups_per_row() * v.geom.rows);
    p.codes.insert(p.codes.end(), v.codes, v.codes + packed_row_bytes(v.geom.cols, v.format->bits) * size_t(v.geom.rows));
    p.scales.insert(p.scales.end(), v.scales, v.scales + 2 * groups);
    if (v.zero_points) p.zeros.insert(p.zeros.end(), v.zero_points, v.zero_points + groups);
  }
  return p;
}

// Every Linear of `ours` is packed in `other` with the same format, group, codes, scales and zeros.
void expect_same_linears(const std::string& ours, const std::string& other, size_t expected_linears) {
  auto a = open_tensor_source(ours), b = open_tensor_source(other);
  size_t n = 0;
  for (const auto& t : a->tensors()) {
    if (!t.format || t.name.find("_proj.weight") == std::string::npos) continue;
    const Packed x = packed_of(*a, t.name), y = packed_of(*b, t.name);
    ASSERT_FALSE(y.codes.empty()) << other << ": " << t.name << " is not packed";
    EXPECT_EQ(x.format, y.format) << t.name;
    EXPECT_EQ(x.group, y.group) << t.name;
    EXPECT_TRUE(x.codes == y.codes) << t.name;
    EXPECT_TRUE(x.scales == y.scales) << t.name;
    EXPECT_TRUE(x.zeros == y.zeros) << t.name;
    ++n;
  }
  EXPECT_EQ(n, expected_linears);
}

std::string ppl(const std::string& model) {
  auto r = run_cli("ppl " + model + " --ctx 64 --chunks 2 -f " + aqtest::source_dir() + kText);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const size_t at = r.output.find("| perplexity |");
  return at == std::string::npos ? "" : r.output.substr(at, r.output.find('\n', at) - at);
}

// A mixed model: int4 affine g32, down_proj int8, one q_proj int3.
void quantize_mixed(const aqtest::TempDir& d, const std::string& extra = "") {
  auto q = run_cli("quantize " + tiny_llama() + " -o " + (d / "q") +
                   " --bits 4 --group-size 32 --rotation none --pin '*.mlp.down_proj.*=8' "
                   "--pin '*.layers.1.self_attn.q_proj*=3' " + extra);
  ASSERT_EQ(q.exit_code, 0) << q.output;
}

}  // namespace

TEST(CheckpointImport, CompressedTensorsAndGptqRoundTripBitForBit) {
  aqtest::TempDir d;
  quantize_mixed(d);
  for (const std::string to : {"compressed-tensors", "gptq"}) {
    auto e = run_cli("export " + (d / "q") + " -o " + (d / to) + " --to " + to);
    ASSERT_EQ(e.exit_code, 0) << e.output;
    expect_same_linears(d / "q", d / to, 14);  // read in place
    auto i = run_cli("import " + (d / to) + " -o " + (d / (to + "-imported")) + " --format json");
    ASSERT_EQ(i.exit_code, 0) << i.output;
    const auto j = nlohmann::json::parse(i.output.substr(i.output.find('{')));
    EXPECT_EQ(j["source_kind"], to);
    expect_same_linears(d / "q", d / (to + "-imported"), 14);
    EXPECT_EQ(ppl(d / to), ppl(d / (to + "-imported")));
  }
  const auto gptq = nlohmann::json::parse(aqtest::slurp(d / "gptq/config.json"))["quantization_config"];
  EXPECT_EQ(gptq["checkpoint_format"], "gptq_v2");  // affine: v1 cannot hold a zero point of 0
  EXPECT_EQ(gptq["bits"], 4);
  EXPECT_EQ(gptq["dynamic"].size(), 3u);  // two down_proj at 8 bits, one q_proj at 3
}

TEST(CheckpointImport, SymmetricGptqIsV1AndShardsComeBack) {
  aqtest::TempDir d;
  quantize_mixed(d, "--sym");
  auto e = run_cli("export " + (d / "q") + " -o " + (d / "gptq") + " --to gptq --max-shard-size 0.0001");
  ASSERT_EQ(e.exit_code, 0) << e.output;
  const auto qc = nlohmann::json::parse(aqtest::slurp(d / "gptq/config.json"))["quantization_config"];
  EXPECT_EQ(qc["checkpoint_format"], "gptq");
  EXPECT_EQ(qc["sym"], true);
  ASSERT_TRUE(fs::exists(d / "gptq/model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(d / "gptq/model.safetensors"));
  const auto index = nlohmann::json::parse(aqtest::slurp(d / "gptq/model.safetensors.index.json"));
  std::set<std::string> files;
  for (const auto& [tensor, file] : index["weight_map"].items()) files.insert(file.get<std::string>());
  EXPECT_GT(files.size(), 2u);
  for (const auto& f : files) EXPECT_LE(fs::file_size(fs::path(d / "gptq") / f), 200000u) << f;
  expect_same_linears(d / "q", d / "gptq", 14);
  // A v1 checkpoint stores zero − 1: the symmetric centre 8 is stored as 7.
  auto src = open_tensor_source(d / "gptq");
  EXPECT_EQ(src->kind(), "gptq");
  for (const auto& t : src->tensors())
    if (t.name == "model.layers.0.self_attn.k_proj.weight") EXPECT_EQ(std::string(t.format->name), "int4_sym");
}

TEST(CheckpointImport, AwqGemmReadsItsNibbleOrder) {
  // An AWQ GEMM checkpoint of an int4 affine model, packed here by AutoAWQ's rules: qweight [in, out/8]
  // with output column order[k] in nibble k, qzeros [groups, out/8] likewise, scales [groups, out].
  aqtest::TempDir d;
  auto q = run_cli("quantize " + tiny_llama() + " -o " + (d / "q") + " --bits 4 --group-size 32 --rotation none");
  ASSERT_EQ(q.exit_code, 0) << q.output;
  auto ours = open_tensor_source(d / "q");
  static const int kOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  std::vector<std::vector<uint8_t>> keep;
  std::vector<SafetensorsWriteItem> items;
  size_t linears = 0;
  for (const auto& t : ours->tensors()) {
    if (t.format && t.name.find("_proj.weight") != std::string::npos) {
      const Packed p = packed_of(*ours, t.name);
      const int64_t rows = t.shape[0], cols = t.shape[1], groups = cols / 32;
      std::vector<uint32_t> qw(size_t(cols * rows / 8), 0), qz(size_t(groups * rows / 8), 0);
      std::vector<uint8_t> codes(static_cast<size_t>(cols));
      for (int64_t r = 0; r < rows; ++r) {
        unpack_row(p.codes.data() + size_t(r * cols / 2), cols, 4, codes.data());
        const int nib = int(std::find(kOrder, kOrder + 8, int(r % 8)) - kOrder);
        for (int64_t c = 0; c < cols; ++c) qw[size_t(c * rows / 8 + r / 8)] |= uint32_t(codes[size_t(c)]) << (4 * nib);
        for (int64_t g = 0; g < groups; ++g) qz[size_t(g * rows / 8 + r / 8)] |= uint32_t(p.zeros[size_t(r * groups + g)]) << (4 * nib);
      }
      std::vector<uint8_t> sc(size_t(groups * rows * 2));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t g = 0; g < groups; ++g) std::memcpy(&sc[size_t((g * rows + r) * 2)], &p.scales[size_t((r * groups + g) * 2)], 2);
      const std::string pre = t.name.substr(0, t.name.size() - 7);
      keep.emplace_back(reinterpret_cast<uint8_t*>(qw.data()), reinterpret_cast<uint8_t*>(qw.data() + qw.size()));
      items.push_back({pre + ".qweight", DType::I32, {cols, rows / 8}, keep.back().data()});
      keep.emplace_back(reinterpret_cast<uint8_t*>(qz.data()), reinterpret_cast<uint8_t*>(qz.data() + qz.size()));
      items.push_back({pre + ".qzeros", DType::I32, {groups, rows / 8}, keep.back().data()});
      keep.push_back(sc);
      items.push_back({pre + ".scales", DType::F16, {groups, rows}, keep.back().data()});
      ++linears;
      continue;
    }
    const FloatTensor f = ours->read_f32(t.name);
    keep.emplace_back(f.values.size() * 2);
    convert_from_f32(DType::F16, f.values.data(), f.values.size(), keep.back().data());
    items.push_back({t.name, DType::F16, t.shape, keep.back().data()});
  }
  // `keep` grew while items pointed into it: point them again, now that it is final.
  for (size_t i = 0; i < items.size(); ++i) items[i].data = keep[i].data();
  fs::create_directories(d / "awq");
  write_safetensors(d / "awq/model.safetensors", items);
  nlohmann::json cfg = nlohmann::json::parse(aqtest::slurp(tiny_llama() + "/config.json"));
  cfg["quantization_config"] = {{"quant_method", "awq"}, {"bits", 4}, {"group_size", 32}, {"zero_point", true}, {"version", "gemm"}};
  std::ofstream(d / "awq/config.json") << cfg.dump(2);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(tiny_llama() + "/" + f, d / ("awq/" + std::string(f)));
  EXPECT_EQ(linears, 14u);
  expect_same_linears(d / "q", d / "awq", 14);
  auto i = run_cli("import " + (d / "awq") + " -o " + (d / "awq-imported"));
  ASSERT_EQ(i.exit_code, 0) << i.output;
  expect_same_linears(d / "q", d / "awq-imported", 14);
}

TEST(CheckpointImport, CorruptCheckpointsAreClearErrorsAndLeaveNothing) {
  aqtest::TempDir d;
  quantize_mixed(d);
  ASSERT_EQ(run_cli("export " + (d / "q") + " -o " + (d / "gptq") + " --to gptq").exit_code, 0);
  // Rewrites the checkpoint with one tensor changed (or its config), imports it, expects `message`.
  auto expect_refused = [&](const std::string& label, const std::function<void(std::string&, DType&, Shape&, std::vector<uint8_t>&)>& edit,
                            const std::function<void(nlohmann::json&)>& edit_config, const std::string& message) {
    const std::string bad = d / ("bad-" + label);
    fs::create_directories(bad);
    std::vector<std::vector<uint8_t>> bytes;
    std::vector<SafetensorsWriteItem> items;
    // Raw tensors of the file, not the checkpoint's view of them: read it as plain safetensors.
    fs::copy_file(d / "gptq/model.safetensors", bad + "/raw.safetensors");
    auto raw = open_tensor_source(bad + "/raw.safetensors");  // no config.json beside it yet: plain
    for (const auto& t : raw->tensors()) {
      std::string name = t.name;
      DType dt = t.dtype;
      Shape shape = t.shape;
      bytes.push_back(raw->read_raw(t.name));
      edit(name, dt, shape, bytes.back());
      items.push_back({name, dt, shape, nullptr});
    }
    for (size_t i = 0; i < items.size(); ++i) items[i].data = bytes[i].data();
    raw.reset();
    fs::remove(bad + "/raw.safetensors");
    write_safetensors(bad + "/model.safetensors", items);
    nlohmann::json cfg = nlohmann::json::parse(aqtest::slurp(d / "gptq/config.json"));
    edit_config(cfg);
    std::ofstream(bad + "/config.json") << cfg.dump(2);
    auto r = run_cli("import " + bad + " -o " + (d / ("out-" + label)));
    EXPECT_NE(r.exit_code, 0) << label;
    EXPECT_NE(r.output.find(message), std::string::npos) << label << ": " << r.output;
    EXPECT_FALSE(fs::exists(d / ("out-" + label))) << label;
  };
  const auto same = [](std::string&, DType&, Shape&, std::vector<uint8_t>&) {};
  const auto keep_config = [](nlohmann::json&) {};
  expect_refused("method", same, [](nlohmann::json& c) { c["quantization_config"]["quant_method"] = "bitsandbytes"; },
                 "quant_method 'bitsandbytes' cannot be read");
  expect_refused("qzeros",
                 [](std::string& n, DType&, Shape& s, std::vector<uint8_t>& b) {
                   if (n == "model.layers.0.self_attn.k_proj.qzeros") s = {s[0] * 2, s[1] / 2};
                   (void)b;
                 },
                 keep_config, "model.layers.0.self_attn.k_proj.qzeros has shape [4, 2], expected [2, 4]");
  expect_refused("g_idx",
                 [](std::string& n, DType&, Shape&, std::vector<uint8_t>& b) {
                   if (n == "model.layers.0.mlp.up_proj.g_idx") b[4 * 5] = 99;
                 },
                 keep_config, "sends column 5 to group 99, outside [0, 2)");
  expect_refused("missing",
                 [](std::string& n, DType&, Shape&, std::vector<uint8_t>&) {
                   if (n == "model.layers.1.mlp.gate_proj.scales") n = "model.layers.1.mlp.gate_proj.scales_renamed";
                 },
                 keep_config, "model.layers.1.mlp.gate_proj.scales is missing");
  expect_refused("bits", same, [](nlohmann::json& c) { c["quantization_config"]["bits"] = 5; }, "5-bit weights cannot be read");
}

TEST(CheckpointImport, ExportCompatibleVllmAllocatesWhatVllmFuses) {
  // An allocation for vLLM: widths 4 or 8 only, q/k/v and gate/up of a layer one width, then exported.
  aqtest::TempDir d;
  auto q = run_cli("quantize " + tiny_llama() + " -o " + (d / "q") + " --target-bpw 10 --group-size 32 --calibration " +
                   aqtest::source_dir() + kText + " --samples 4 --seq-len 64 --export-compatible vllm --tensor-parallel 2");
  ASSERT_EQ(q.exit_code, 0) << q.output;
  auto src = open_tensor_source(d / "q");
  std::map<std::string, std::string> fused;
  std::set<int> widths;
  for (const auto& t : src->tensors()) {
    if (!t.format || t.name.find("_proj.weight") == std::string::npos) continue;
    EXPECT_TRUE(t.format->bits == 4 || t.format->bits == 8) << t.name << " " << t.format->name;
    widths.insert(t.format->bits);
    const bool mlp = t.name.find("gate_proj") != std::string::npos || t.name.find("up_proj") != std::string::npos;
    if (t.name.find("o_proj") != std::string::npos || t.name.find("down_proj") != std::string::npos) continue;
    const std::string key = t.name.substr(0, t.name.find(mlp ? ".mlp." : ".self_attn.")) + (mlp ? " gate_up" : " qkv");
    auto [it, first] = fused.emplace(key, std::string(t.format->name));
    EXPECT_EQ(it->second, std::string(t.format->name)) << t.name;
  }
  EXPECT_EQ(fused.size(), 4u);
  auto e = run_cli("export " + (d / "q") + " -o " + (d / "ct") + " --to compressed-tensors");
  ASSERT_EQ(e.exit_code, 0) << e.output;
  auto bad = run_cli("quantize " + tiny_llama() + " -o " + (d / "bad") + " --group-size 32 --export-compatible vllm --tensor-parallel 4");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("each GPU's 16 input columns are not whole groups of 32"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(d / "bad"));
}

TEST(CheckpointImport, GgufQ4_0AndQ8_0ComeBackPacked) {
  // Our symmetric g32 formats exported to GGUF are Q4_0 / Q8_0 code for code; reading the GGUF gives
  // them back packed (llama.cpp's Q/K row order undone), and `import` keeps them so.
  // (The bundled SmolLM2: a GGUF export needs the model's GGUF vocabulary.)
  aqtest::TempDir d;
  auto q = run_cli("quantize " + aqtest::source_dir() + "/models/smollm2-135m -o " + (d / "q") +
                   " --bits 4 --sym --group-size 32 --rotation none --pin '*.mlp.down_proj.*=8' --threads 2");
  ASSERT_EQ(q.exit_code, 0) << q.output;
  auto e = run_cli("export " + (d / "q") + " -o " + (d / "m.gguf") + " --to gguf");
  ASSERT_EQ(e.exit_code, 0) << e.output;
  expect_same_linears(d / "q", d / "m.gguf", 30 * 7);
  auto i = run_cli("import " + (d / "m.gguf") + " -o " + (d / "imported"));
  ASSERT_EQ(i.exit_code, 0) << i.output;
  EXPECT_NE(i.output.find("0 dequantised"), std::string::npos) << i.output;
  expect_same_linears(d / "q", d / "imported", 30 * 7);
  EXPECT_EQ(ppl(d / "q"), ppl(d / "imported"));
}

TEST(CheckpointImport, GptqActOrderIsDequantisedWithItsGroupIndex) {
  // A g_idx that is not i / group (GPTQ's desc_act) has no exact form in our table: the tensor is offered
  // in float, each column dequantised with its own group's scale and zero point, and import says so.
  aqtest::TempDir d;
  quantize_mixed(d);
  ASSERT_EQ(run_cli("export " + (d / "q") + " -o " + (d / "gptq") + " --to gptq").exit_code, 0);
  const std::string p = "model.layers.0.mlp.up_proj";  // int4 affine g32, 64 columns: 2 groups
  fs::create_directories(d / "act");
  fs::copy_file(d / "gptq/model.safetensors", d / "act/raw.safetensors");
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<SafetensorsWriteItem> items;
  {
    auto raw = open_tensor_source(d / "act/raw.safetensors");  // no config.json beside it: plain tensors
    for (const auto& t : raw->tensors()) {
      bytes.push_back(raw->read_raw(t.name));
      if (t.name == p + ".g_idx")  // columns alternate between the two groups
        for (int32_t c = 0; c < 64; ++c) {
          const int32_t g = c % 2;
          std::memcpy(bytes.back().data() + 4 * c, &g, 4);
        }
      items.push_back({t.name, t.dtype, t.shape, nullptr});
    }
  }
  for (size_t i = 0; i < items.size(); ++i) items[i].data = bytes[i].data();
  fs::remove(d / "act/raw.safetensors");
  write_safetensors(d / "act/model.safetensors", items);
  fs::copy_file(d / "gptq/config.json", d / "act/config.json");
  fs::copy_file(d / "gptq/tokenizer.json", d / "act/tokenizer.json");

  auto src = open_tensor_source(d / "act");
  const SourceTensorInfo* info = nullptr;
  for (const auto& t : src->tensors())
    if (t.name == p + ".weight") info = &t;
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->format, nullptr);
  EXPECT_NE(info->stored_type.find("act-order (dequantised)"), std::string::npos) << info->stored_type;
  EXPECT_TRUE(src->read_packed(p + ".weight").empty());
  // By GPTQ's rule, from the raw tensors: w[r][c] = scale[g][r] · (q[r][c] − zero[g][r]), g = g_idx[c].
  auto plain = open_tensor_source(d / "gptq/model.safetensors");
  const auto q = plain->read_raw(p + ".qweight"), z = plain->read_raw(p + ".qzeros"), s = plain->read_raw(p + ".scales");
  const FloatTensor w = src->read_f32(p + ".weight");
  ASSERT_EQ(w.shape, (Shape{128, 64}));
  auto word = [](const std::vector<uint8_t>& b, size_t i) {
    uint32_t v;
    std::memcpy(&v, b.data() + 4 * i, 4);
    return v;
  };
  for (int64_t r = 0; r < 128; ++r)
    for (int64_t c = 0; c < 64; ++c) {
      const int64_t g = c % 2;
      const uint32_t code = (word(q, size_t((c / 8) * 128 + r)) >> (4 * (c % 8))) & 15;
      const uint32_t zero = (word(z, size_t(g * 16 + r / 8)) >> (4 * (r % 8))) & 15;  // v2: as stored
      uint16_t h;
      std::memcpy(&h, s.data() + 2 * (g * 128 + r), 2);
      ASSERT_EQ(w.values[size_t(r * 64 + c)], f16_to_f32(h) * (float(code) - float(zero))) << r << ", " << c;
    }
  auto i = run_cli("import " + (d / "act") + " -o " + (d / "imported"));
  ASSERT_EQ(i.exit_code, 0) << i.output;
  EXPECT_NE(i.output.find("13 kept packed, 1 dequantised"), std::string::npos) << i.output;
}

TEST(CheckpointImport, W8a8AndFp8ExportAsIntAndFloatQuantized) {
  // A model calibrated for int8 activations (SmoothQuant) exports as int-quantized W8A8, FP8 weights as
  // float-quantized; read back, the Linears are ours bit for bit (the compressed-tensors library's own
  // decompressors agree exactly: scripts/peers/check_compressed_tensors.py, docs/BENCHMARKS.md).
  aqtest::TempDir d;
  const std::string cal = aqtest::source_dir() + kText;
  ASSERT_EQ(run_cli("quantize " + tiny_llama() + " -o " + (d / "sq") + " --method smoothquant --bits 8 --group-size 0 "
                    "--calibration " + cal + " --samples 4 --seq-len 64").exit_code, 0);
  ASSERT_EQ(run_cli("quantize " + tiny_llama() + " -o " + (d / "f8") + " --codebook e4m3 --bits 8 --group-size 0").exit_code, 0);
  for (const std::string m : {"sq", "f8"}) {
    auto e = run_cli("export " + (d / m) + " -o " + (d / (m + "-ct")) + " --to compressed-tensors");
    ASSERT_EQ(e.exit_code, 0) << e.output;
    const auto qc = nlohmann::json::parse(aqtest::slurp(d / (m + "-ct/config.json")))["quantization_config"];
    EXPECT_EQ(qc["format"], m == "sq" ? "int-quantized" : "float-quantized");
    const auto& g = qc["config_groups"]["group_0"];
    EXPECT_EQ(g["weights"]["type"], m == "sq" ? "int" : "float");
    EXPECT_EQ(g["input_activations"].is_null(), m == "f8");  // W8A8 declares its int8 activations
    expect_same_linears(d / m, d / (m + "-ct"), 14);
    auto src = open_tensor_source(d / (m + "-ct"));
    EXPECT_EQ(src->calibrated_activations(), m == "sq" ? "int8" : "");
  }
}

TEST(CheckpointImport, AngelSlimSeqFakeQuantisedWeightsBecomeInt2Half) {
  // A bfloat16 model whose Linears lie on AngelSlim's SEQ grid, scale · {±0.25, ±0.75} per group of 32
  // (made here from the tiny Llama as its QAT exports them: q·s rounded to bfloat16), imported: every
  // Linear stored as int2_half g32, the inner levels exact, the outer within bfloat16's rounding.
  aqtest::TempDir d;
  auto src = open_tensor_source(tiny_llama());
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<SafetensorsWriteItem> items;
  std::map<std::string, std::vector<float>> fake;  // the bfloat16 values, as floats
  for (const auto& t : src->tensors()) {
    FloatTensor f = src->read_f32(t.name);
    if (t.name.find("_proj.weight") != std::string::npos) {
      for (size_t g = 0; g < f.values.size(); g += 32) {
        float mx = 0;
        for (size_t i = g; i < g + 32; ++i) mx = std::max(mx, std::fabs(f.values[i]));
        const float s = mx / 0.75f;
        for (size_t i = g; i < g + 32; ++i) {
          const float q = std::clamp(std::round(f.values[i] / s * 2 - 0.5f) + 0.5f, -1.5f, 1.5f) / 2;  // ±0.25, ±0.75
          f.values[i] = q * s;
        }
      }
    }
    bytes.emplace_back(f.values.size() * 2);
    convert_from_f32(DType::BF16, f.values.data(), f.values.size(), bytes.back().data());
    if (t.name.find("_proj.weight") != std::string::npos) {
      auto& v = fake[t.name];
      v.resize(f.values.size());
      convert_to_f32(DType::BF16, bytes.back().data(), v.size(), v.data());
    }
    items.push_back({t.name, DType::BF16, t.shape, nullptr});
  }
  for (size_t i = 0; i < items.size(); ++i) items[i].data = bytes[i].data();
  fs::create_directories(d / "seq");
  write_safetensors(d / "seq/model.safetensors", items);
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(tiny_llama() + "/" + f, d / ("seq/" + std::string(f)));
  auto i = run_cli("import " + (d / "seq") + " -o " + (d / "imported") + " --format json");
  ASSERT_EQ(i.exit_code, 0) << i.output;
  const auto j = nlohmann::json::parse(i.output.substr(i.output.find('{')));
  EXPECT_LE(j["max_snap_difference"].get<double>(), 1.0 / 128);
  auto imported = open_tensor_source(d / "imported");
  size_t linears = 0;
  for (const auto& t : imported->tensors()) {
    if (t.name.find("_proj.weight") == std::string::npos) continue;
    ASSERT_NE(t.format, nullptr) << t.name;
    EXPECT_EQ(std::string(t.format->name), "int2_half") << t.name;
    const FloatTensor w = imported->read_f32(t.name);
    const auto& want = fake[t.name];
    for (size_t k = 0; k < want.size(); ++k)
      ASSERT_LE(std::fabs(w.values[k] - want[k]), std::fabs(want[k]) / 128) << t.name << " [" << k << "]";
    ++linears;
  }
  EXPECT_EQ(linears, 14u);
  // A float model off any such grid is still refused.
  auto plain = run_cli("import " + tiny_llama() + " -o " + (d / "plain"));
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_NE(plain.output.find("no quantised tensor here"), std::string::npos) << plain.output;
  EXPECT_FALSE(fs::exists(d / "plain"));
}
