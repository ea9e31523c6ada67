// Calibrated quantisation from input statistics recorded outside ArrowQuant (quantize --calibration
// FILE.safetensors, pipeline/recorded_inputs.h), through the CLI: GPTQ, the --min-accuracy ladder and
// analyze (what --target-bpw allocates by) work from the recorded Hessians, weights without a recording are rounded to nearest, and every bad
// recording or setting is refused with a clear error before anything is written. The weights are
// stories260K's real q_proj and gate_proj; the Hessian is E[x·xᵀ] of inputs x = z·A (z standard
// normal) with A mixing the channels and a few loud ones, exact rather than sampled.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "arrowquant/tensor_source.h"
#include "io/safetensors_writer.h"
#include "test_util.h"

using namespace arrowquant;

namespace {

using aqtest::run_cli;

const char* kQ = "model.layers.0.self_attn.q_proj.weight";
const char* kGate = "model.layers.0.mlp.gate_proj.weight";
const char* kNorm = "model.layers.0.input_layernorm.weight";

struct Fixture {
  aqtest::TempDir tmp;
  std::string model = tmp / "model.safetensors";
  std::vector<float> hessian;  // [64, 64]
  Fixture() {
    auto src = open_tensor_source(aqtest::stories_dir() + "/stories260K.bin");
    std::vector<FloatTensor> ts;
    for (const char* n : {kQ, kGate, kNorm}) ts.push_back(src->read_f32(n));
    std::vector<SafetensorsWriteItem> items;
    for (const auto& t : ts) items.push_back({t.name, DType::F32, t.shape, t.values.data()});
    write_safetensors(model, items);
    const int d = 64;
    std::mt19937 rng(7);
    std::normal_distribution<float> n01;
    std::vector<float> a(size_t(d * d));
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j) a[size_t(i * d + j)] = (i == j ? 1.0f : 0.0f) + 0.3f * n01(rng) * (j % 9 == 0 ? 8.0f : 1.0f);
    hessian.assign(size_t(d * d), 0.0f);  // AᵀA
    for (int i = 0; i < d; ++i)
      for (int j = 0; j < d; ++j) {
        double s = 0;
        for (int k = 0; k < d; ++k) s += double(a[size_t(k * d + i)]) * a[size_t(k * d + j)];
        hessian[size_t(i * d + j)] = float(s);
      }
  }
  // A recording of the named tensors, each with `h` (the Hessian by default) and `shape`.
  std::string recording(const std::string& leaf, const std::vector<std::string>& names, std::vector<float> h = {},
                        Shape shape = {64, 64}) const {
    if (h.empty()) h = hessian;
    std::vector<SafetensorsWriteItem> items;
    for (const auto& n : names) items.push_back({n, DType::F32, shape, h.data()});
    write_safetensors(tmp / leaf, items);
    return tmp / leaf;
  }
  nlohmann::json quantize(const std::string& rec, const std::string& flags, std::string* output = nullptr) const {
    auto r = run_cli("quantize " + model + " -o " + (tmp / "out") + " --force --json " + (tmp / "r.json") +
                     " --calibration " + rec + " " + flags);
    if (output) *output = r.output;
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return nlohmann::json::parse(aqtest::slurp(tmp / "r.json"));
  }
  void expect_refused(const std::string& rec, const std::string& flags, const std::string& message) const {
    auto r = run_cli("quantize " + model + " -o " + (tmp / "refused") + " --calibration " + rec + " " + flags);
    EXPECT_NE(r.exit_code, 0) << flags;
    EXPECT_NE(r.output.find(message), std::string::npos) << flags << "\n" << r.output;
    for (const auto& e : tmp.entries()) EXPECT_EQ(e.find("refused"), std::string::npos) << e << " left after " << flags;
  }
};

const nlohmann::json& tensor(const nlohmann::json& report, const std::string& name) {
  for (const auto& t : report["tensors"])
    if (t["name"] == name) return t;
  static const nlohmann::json none;
  ADD_FAILURE() << name << " not in the report";
  return none;
}

}  // namespace

TEST(RecordedInputs, GptqFromARecordingBeatsRoundingOnTheRecordedInputs) {
  Fixture f;
  std::string out;
  const auto j = f.quantize(f.recording("rec.safetensors", {kQ, kGate}), "--bits 3 --group-size 32 --method gptq", &out);
  EXPECT_NE(out.find("method gptq on recorded input statistics"), std::string::npos) << out;
  EXPECT_EQ(j["calibration"]["recorded_inputs"], 2);
  double gain = 0;
  for (const char* n : {kQ, kGate}) {
    const auto& t = tensor(j, n);
    EXPECT_EQ(t["method"], "gptq") << t.dump();
    EXPECT_LE(t["output_rel_mse"].get<double>(), t["rtn_output_rel_mse"].get<double>());
    gain = std::max(gain, t["rtn_output_rel_mse"].get<double>() / t["output_rel_mse"].get<double>());
  }
  EXPECT_GT(gain, 1.2) << "GPTQ should use the recorded correlations";
  EXPECT_EQ(tensor(j, kNorm)["format"], "float32");
}

TEST(RecordedInputs, MinAccuracyWidensLayersAndUnrecordedWeightsAreRounded) {
  Fixture f;
  std::string out;
  const auto j = f.quantize(f.recording("rec.safetensors", {kQ}), "--bits 2 --group-size 32 --method gptq --min-accuracy 0.9999", &out);
  EXPECT_NE(out.find("1 quantised weights without a recording are rounded to nearest"), std::string::npos) << out;
  EXPECT_NE(out.find("redoing at INT4"), std::string::npos) << out;
  EXPECT_NE(tensor(j, kQ)["format"], "int2_asym");
  EXPECT_FALSE(tensor(j, kGate).contains("method"));  // round to nearest, outside the calibrated set
  bool recorded = false;
  for (const auto& d : j["decisions"]) recorded = recorded || (d.value("tensor", "") == kQ && d.contains("to_bits"));
  EXPECT_TRUE(recorded) << j["decisions"].dump();
}

TEST(RecordedInputs, BadRecordingsAndSettingsAreRefusedAndLeaveNothing) {
  Fixture f;
  const std::string good = f.recording("good.safetensors", {kQ});
  const std::string gptq = "--bits 4 --method gptq";
  f.expect_refused(f.recording("shape.safetensors", {kQ}, std::vector<float>(32 * 32, 1.0f), {32, 32}), gptq,
                   "expected [64, 64]");
  std::vector<float> h = f.hessian;
  h[5] = NAN;
  f.expect_refused(f.recording("nan.safetensors", {kQ}, h), gptq, "non-finite value at flat index 5");
  h = f.hessian;
  h[1] += 100.0f;
  f.expect_refused(f.recording("asym.safetensors", {kQ}, h), gptq, "not symmetric");
  h = f.hessian;
  h[0] = -1.0f;
  f.expect_refused(f.recording("neg.safetensors", {kQ}, h), gptq, "negative diagonal");
  f.expect_refused(f.recording("other.safetensors", {"model.layers.9.mlp.up_proj.weight"}), gptq,
                   "which the model does not have");
  f.expect_refused(f.recording("norm.safetensors", {kNorm}, std::vector<float>(64, 1.0f), {64}), gptq,
                   "records the inputs of none of the weights");
  std::ofstream(f.tmp / "garbage.safetensors") << "not a safetensors file at all";
  f.expect_refused(f.tmp / "garbage.safetensors", gptq, "garbage.safetensors");
  f.expect_refused(good, "--bits 4 --method awq", "needs a model ArrowQuant runs");
  f.expect_refused(good, "--bits 4 --method gptq --time-groups 4", "activation clips need the model's runs");
  f.expect_refused(good, "--bits 4 --method gptq --tune-epochs 2", "block tuning runs the model's blocks");
}

TEST(RecordedInputs, AnalyzeMeasuresEachRecordedLayersOutputError) {
  // What --target-bpw allocates by: each recorded layer's output error at each width, from its Hessian.
  Fixture f;
  auto r = run_cli("analyze " + f.model + " --calibration " + f.recording("rec.safetensors", {kQ, kGate}) +
                   " --widths 2,4 --group-size 32 --json " + (f.tmp / "an.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("recorded input statistics of 2 weight matrices"), std::string::npos) << r.output;
  const auto j = nlohmann::json::parse(aqtest::slurp(f.tmp / "an.json"));
  int measured = 0;
  for (const auto& t : j["tensors"]) {
    const auto& w = t["widths"];
    if (!w[0].contains("output_cosine")) continue;
    ++measured;
    EXPECT_LT(w[0]["output_cosine"].get<double>(), w[1]["output_cosine"].get<double>()) << t["name"];  // INT2 < INT4
    EXPECT_GT(w[1]["output_cosine"].get<double>(), 0.9) << t["name"];
  }
  EXPECT_EQ(measured, 2);
}
