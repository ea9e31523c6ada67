// End-to-end: the CLI on the real all-MiniLM-L6-v2 and stories260K models.
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/safetensors_reader.h"
#include "io/safetensors_writer.h"
#include "quant/weight_error.h"
#include "util/files.h"
#include "arrowquant/weight_loader.h"
#include "test_util.h"

using namespace arrowquant;
using aqtest::run_cli;

namespace {
nlohmann::json quantize_json(const aqtest::TempDir& dir, const std::string& model, const std::string& out,
                             const std::string& flags) {
  auto r = run_cli("quantize " + model + " -o " + (dir / out) + " -q --json " + (dir / (out + ".json")) + " " + flags);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return nlohmann::json::parse(read_text_file(dir / (out + ".json")));
}

bool no_partial_left(const aqtest::TempDir& dir) {
  for (const auto& e : dir.entries())
    if (e.find("partial") != std::string::npos) return false;
  return true;
}
}  // namespace

TEST(CliE2E, MiniLMSizesAndErrorsMeetTargets) {
  aqtest::TempDir dir;
  auto j2 = quantize_json(dir, aqtest::minilm_dir(), "int2", "--bits 2 --group-size 128 --embedding-bits 4");
  auto j4 = quantize_json(dir, aqtest::minilm_dir(), "int4", "--bits 4 --group-size 128");
  auto j8 = quantize_json(dir, aqtest::minilm_dir(), "int8", "--bits 8 --group-size 128");
  EXPECT_LE(j2["file_bytes"].get<double>(), 12e6);
  EXPECT_LE(j4["file_bytes"].get<double>(), 20e6);
  // Linear weights at INT2 g128 against FP16.
  double fp16 = 0, stored = 0;
  for (const auto& t : j2["tensors"])
    if (t["format"] == "int2_asym") { fp16 += 2.0 * t["num_params"].get<double>(); stored += t["bytes"].get<double>(); }
  EXPECT_GE(fp16 / stored, 7.0);
  for (const auto& t : j8["tensors"])
    if (t.contains("cosine")) { EXPECT_GE(t["cosine"].get<double>(), 0.9999) << t["name"]; }
  for (const auto& t : j4["tensors"])
    if (t.contains("cosine")) { EXPECT_GE(t["cosine"].get<double>(), 0.99) << t["name"]; }
  // The folder is a complete model: config and tokenizer travel with the weights.
  for (const char* f : {"model.parquet", "metadata.json", "config.json", "vocab.txt", "tokenizer.json"})
    EXPECT_TRUE(std::filesystem::exists(dir / ("int2/" + std::string(f)))) << f;
  auto meta = nlohmann::json::parse(read_text_file(dir / "int2/metadata.json"));
  EXPECT_EQ(meta["format_version"], "2");
  EXPECT_EQ(meta["config"]["bits"], 2);
}

TEST(CliE2E, InspectAndDequantizeRoundTrip) {
  aqtest::TempDir dir;
  quantize_json(dir, aqtest::minilm_dir(), "m", "--bits 4 --group-size 64");
  auto r = run_cli("inspect " + (dir / "m") + " --verify");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("encoder.layer.5.output.dense.weight"), std::string::npos);
  EXPECT_NE(r.output.find("int4_asym"), std::string::npos);
  EXPECT_NE(r.output.find("checksums ok"), std::string::npos);
  auto rj = run_cli("inspect " + (dir / "m/model.parquet") + " --json");
  ASSERT_EQ(rj.exit_code, 0) << rj.output;
  auto j = nlohmann::json::parse(rj.output);
  EXPECT_EQ(j["tensors"].size(), 104u);

  r = run_cli("dequantize " + (dir / "m") + " -o " + (dir / "back.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  SafetensorsFile back(dir / "back.safetensors");
  SafetensorsFile orig(aqtest::minilm_dir() + "/model.safetensors");
  auto w = WeightLoader::open(dir / "m");
  ASSERT_EQ(back.tensors().size(), orig.tensors().size());
  for (const auto& t : orig.tensors()) {
    const TensorView* b = back.find(t.name);
    ASSERT_NE(b, nullptr) << t.name;
    EXPECT_EQ(b->shape, t.shape);
    if (t.dtype != DType::F32) {  // int64 position ids come back byte for byte
      EXPECT_EQ(b->dtype, t.dtype);
      EXPECT_EQ(std::memcmp(b->data, t.data, t.nbytes), 0);
      continue;
    }
    const size_t n = size_t(num_elements(t.shape));
    auto e = weight_error(reinterpret_cast<const float*>(t.data), reinterpret_cast<const float*>(b->data), n);
    EXPECT_GE(e.cosine, 0.99) << t.name;
    // Equal to what the loader dequantises, bit for bit.
    auto f = w->dequantize(t.name);
    EXPECT_EQ(std::memcmp(f.values.data(), b->data, n * 4), 0) << t.name;
  }
}

TEST(CliE2E, Stories260KEveryWidth) {
  aqtest::TempDir dir;
  for (int bits : format_widths()) {
    for (int gs : {32, 64}) {
      const std::string out = "s" + std::to_string(bits) + "_" + std::to_string(gs);
      auto j = quantize_json(dir, aqtest::stories_dir(), out, "--bits " + std::to_string(bits) +
                                                                   " --group-size " + std::to_string(gs));
      EXPECT_EQ(j["source_kind"], "llama2c");
      auto w = WeightLoader::open(dir / out);
      EXPECT_EQ(w->tensors().size(), 47u);
      EXPECT_EQ(w->model_config()["hidden_size"], 64);
      EXPECT_TRUE(std::filesystem::exists(dir / (out + "/tok512.bin")));
      for (const auto& t : w->tensors()) EXPECT_EQ(w->dequantize(t.name).values.size(), size_t(t.num_params));
    }
  }
}

TEST(CliE2E, ShardedSafetensorsGiveTheSameResult) {
  aqtest::TempDir dir;
  SafetensorsFile orig(aqtest::minilm_dir() + "/model.safetensors");
  std::vector<SafetensorsWriteItem> a, b;
  nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
  for (size_t i = 0; i < orig.tensors().size(); ++i) {
    const auto& t = orig.tensors()[i];
    (i % 2 ? a : b).push_back({t.name, t.dtype, t.shape, t.data});
    index["weight_map"][t.name] = i % 2 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  std::filesystem::create_directories(dir / "sharded");
  write_safetensors(dir / "sharded/model-00001-of-00002.safetensors", a);
  write_safetensors(dir / "sharded/model-00002-of-00002.safetensors", b);
  write_text_file(dir / "sharded/model.safetensors.index.json", index.dump());
  std::filesystem::copy_file(aqtest::minilm_dir() + "/config.json", dir / "sharded/config.json");
  auto js = quantize_json(dir, dir / "sharded", "from_shards", "--bits 3 --group-size 64");
  auto j1 = quantize_json(dir, aqtest::minilm_dir(), "from_single", "--bits 3 --group-size 64");
  EXPECT_EQ(js["source_kind"], "safetensors-sharded");
  auto ws = WeightLoader::open(dir / "from_shards"), w1 = WeightLoader::open(dir / "from_single");
  for (const auto& t : w1->tensors())
    if (t.format || dtype_is_float(t.dtype)) {
      EXPECT_EQ(ws->dequantize(t.name).values, w1->dequantize(t.name).values) << t.name;
    }

  // An index naming a tensor that no shard holds.
  index["weight_map"]["ghost.weight"] = "model-00001-of-00002.safetensors";
  write_text_file(dir / "sharded/model.safetensors.index.json", index.dump());
  auto r = run_cli("quantize " + (dir / "sharded") + " -o " + (dir / "ghost") + " -q");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("ghost.weight"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "ghost"));
}

TEST(CliE2E, NonFiniteWeightsAreRefusedAndNothingIsWritten) {
  aqtest::TempDir dir;
  std::vector<float> w = aqtest::random_floats(64 * 64, 3), bias(64, 0.0f);
  w[1000] = NAN;
  std::filesystem::create_directories(dir / "nan");
  write_safetensors(dir / "nan/model.safetensors", {{"layer.weight", DType::F32, {64, 64}, w.data()},
                                                     {"layer.bias", DType::F32, {64}, bias.data()}});
  auto r = run_cli("quantize " + (dir / "nan") + " -o " + (dir / "out") + " -q");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("layer.weight"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("non-finite"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out.checkpoint"));  // a failed run is not resumable work
  EXPECT_TRUE(no_partial_left(dir));
  // Opting in replaces them by zero and records the decision.
  r = run_cli("quantize " + (dir / "nan") + " -o " + (dir / "out") + " -q --allow-nonfinite");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto meta = nlohmann::json::parse(read_text_file(dir / "out/metadata.json"));
  ASSERT_EQ(meta["decisions"].size(), 1u);
  EXPECT_EQ(meta["decisions"][0]["tensor"], "layer.weight");
  // A quantised model is no input for the quantiser: quantising twice compounds the error silently.
  r = run_cli("quantize " + (dir / "out") + " -o " + (dir / "twice") + " -q");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("already quantised"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "twice"));
  EXPECT_FALSE(std::filesystem::exists(dir / "twice.checkpoint"));
}

TEST(CliE2E, BadInputsGiveClearErrors) {
  aqtest::TempDir dir;
  std::ofstream(dir / "junk.bin") << "definitely not weights";
  auto r = run_cli("quantize " + (dir / "junk.bin") + " -o " + (dir / "o1") + " -q");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown model format"), std::string::npos) << r.output;

  // Truncated safetensors.
  std::ifstream in(aqtest::minilm_dir() + "/model.safetensors", std::ios::binary);
  std::string head(200000, '\0');
  in.read(head.data(), std::streamsize(head.size()));
  std::filesystem::create_directories(dir / "trunc");
  std::ofstream(dir / "trunc/model.safetensors", std::ios::binary) << head;
  r = run_cli("quantize " + (dir / "trunc") + " -o " + (dir / "o2") + " -q");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "o2"));

  // Output whose parent is a file, and one the system will not let us create.
  std::ofstream(dir / "afile") << "x";
  r = run_cli("quantize " + aqtest::stories_dir() + " -o " + (dir / "afile/out") + " -q");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("cannot write"), std::string::npos) << r.output;
  r = run_cli("quantize " + aqtest::stories_dir() + " -o /proc/arrowquant-out -q");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("/proc"), std::string::npos) << r.output;

  // An existing output is never replaced silently.
  std::filesystem::create_directories(dir / "keep");
  std::ofstream(dir / "keep/precious.txt") << "mine";
  r = run_cli("quantize " + aqtest::stories_dir() + " -o " + (dir / "keep") + " -q");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--force"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "keep/precious.txt"));

  r = run_cli("quantize " + aqtest::stories_dir() + " -o " + (dir / "o3") + " --bits 7");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("bits must be"), std::string::npos) << r.output;
  r = run_cli("quantize " + aqtest::stories_dir() + " -o " + (dir / "o3") + " --bits 2 --codebook nf");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("has no 2-bit format"), std::string::npos) << r.output;
  r = run_cli("quantize " + aqtest::stories_dir() + " -o " + (dir / "o3") + " --bits 2 --codebook gauss --half");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("give one"), std::string::npos) << r.output;
  r = run_cli("quantize " + aqtest::stories_dir() + " -o " + (dir / "o3") + " --codebook kmeans");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("gauss"), std::string::npos) << r.output;  // names the choices
  EXPECT_TRUE(no_partial_left(dir));

  r = run_cli("inspect " + (dir / "junk.bin"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown model format"), std::string::npos) << r.output;
}

TEST(CliE2E, EnvironmentVariablesApply) {
  aqtest::TempDir dir;
  auto r = run_cli("quantize " + aqtest::stories_dir() + " -o " + (dir / "e") + " -q --json " + (dir / "e.json"));
  ASSERT_EQ(r.exit_code, 0);
  setenv("ARROW_QUANT_BITS", "3", 1);
  setenv("ARROW_QUANT_GROUP_SIZE", "32", 1);
  r = run_cli("quantize " + aqtest::stories_dir() + " -o " + (dir / "e3") + " -q --json " + (dir / "e3.json"));
  unsetenv("ARROW_QUANT_BITS");
  unsetenv("ARROW_QUANT_GROUP_SIZE");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(read_text_file(dir / "e3.json"));
  EXPECT_EQ(j["config"]["bits"], 3);
  EXPECT_EQ(j["config"]["group_size"], 32);
}

TEST(CliE2E, HelpOnEveryCommand) {
  for (const char* c : {"", "quantize", "inspect", "dequantize", "encode", "validate", "bench", "bench load"}) {
    auto r = run_cli(std::string(c) + " --help");
    EXPECT_EQ(r.exit_code, 0) << c;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << c << r.output;
  }
}

TEST(CliE2E, InterruptedRunLeavesNothingThatLooksComplete) {
  aqtest::TempDir dir;
  // SIGINT while the word embeddings are being quantised: the run stops between tensors, removes
  // its temporary folder and exits non-zero.
  std::string cmd = "sh -c '" + aqtest::cli_path() + " quantize " + aqtest::minilm_dir() + " -o " + (dir / "out") +
                    " -q --threads 1 & pid=$!; sleep 0.4; kill -INT $pid; wait $pid; echo exit=$?' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  EXPECT_NE(out.find("interrupted"), std::string::npos) << out;
  EXPECT_EQ(out.find("exit=0"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
  EXPECT_TRUE(no_partial_left(dir));
}
