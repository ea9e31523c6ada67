// The DiT runtime against diffusers itself (scripts/goldens/make_dit_goldens.py): the predicted noise
// on fixed inputs, and a DDIM run with classifier-free guidance from the same starting noise; for a
// tiny random DiT (patch 2, 8x8, learned everything) and for the Fashion-MNIST DiT trained here
// (scripts/goldens/train_fashion_dit.py). Then the `sample` command and its errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "arrowquant/diffusion.h"
#include "arrowquant/error.h"
#include "golden_logits.h"
#include "io/json_file.h"
#include "io/safetensors_reader.h"
#include "model/diffusion_scheduler.h"
#include "model/dit_transformer.h"
#include "model/model_weights.h"
#include "pipeline/scale_search.h"
#include "test_util.h"
#include "util/files.h"

using namespace arrowquant;
namespace fs = std::filesystem;
using aqtest::run_cli;
using aqtest::tensor_values;

namespace {

std::string goldens(const std::string& leaf) { return aqtest::source_dir() + "/tests/goldens/diffusion/" + leaf; }

// ‖a − b‖ / ‖b‖
double rel_l2(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) num += double(a[i] - b[i]) * (a[i] - b[i]), den += double(b[i]) * b[i];
  return std::sqrt(num / std::max(den, 1e-30));
}

// A state halfway along a 10-step guided run of the float model (one image per class, seeded), its
// timestep, and the float model's guided noise there: where the tests compare quantised models' noise.
struct MidState {
  std::vector<int32_t> labels = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<float> x;
  float t = 0;
  std::vector<float> reference;
  // The relative error of `q`'s guided noise at this state against the float model's.
  double noise_error(const DiffusionPipeline& q) const {
    const auto e = q.guided_noise(x.data(), int64_t(labels.size()), t, labels, 2.0f);
    return rel_l2(e.data(), reference.data(), reference.size());
  }
};

MidState mid_state(const DiffusionPipeline& fp, uint64_t seed) {
  MidState m;
  SampleOptions opts;
  opts.steps = 10;
  opts.seed = seed;
  opts.on_step = [&](int64_t step, int64_t, int64_t count, const float* x) {
    if (step == opts.steps / 2) m.x.assign(x, x + count * fp.channels() * fp.image_size() * fp.image_size());
  };
  fp.sample(m.labels, opts);
  m.t = float(fp.timesteps(opts.steps)[size_t(opts.steps / 2)]);
  m.reference = fp.guided_noise(m.x.data(), int64_t(m.labels.size()), m.t, m.labels, 2.0f);
  return m;
}

void check_against_diffusers(const std::string& model, const std::string& golden, double eps_tol, double sample_tol) {
  SafetensorsFile g(golden);
  DiffusionPipeline pipe(model);
  const auto x = tensor_values<float>(g, "x"), eps = tensor_values<float>(g, "eps");
  const auto t = tensor_values<float>(g, "timesteps");
  const auto labels = tensor_values<int32_t>(g, "labels");
  const std::vector<float> got = pipe.predict_noise(x.data(), int64_t(labels.size()), t, labels);
  ASSERT_EQ(got.size(), eps.size());
  const size_t per = eps.size() / labels.size();
  for (size_t i = 0; i < labels.size(); ++i)
    EXPECT_LT(rel_l2(got.data() + i * per, eps.data() + i * per, per), eps_tol) << "image " << i << " t=" << t[i];

  // DDIM with guidance from diffusers' starting noise visits diffusers' timesteps and ends where it ended.
  const auto sample_labels = tensor_values<int32_t>(g, "sample_labels");
  const auto want = tensor_values<float>(g, "sample");
  const auto ts = tensor_values<int32_t>(g, "sample_timesteps");
  SampleOptions o;
  o.steps = int64_t(ts.size());
  o.guidance = std::stof(g.metadata().at("guidance"));
  o.initial_noise = tensor_values<float>(g, "x_T");
  EXPECT_EQ(pipe.timesteps(o.steps), std::vector<int64_t>(ts.begin(), ts.end()));
  const Images im = pipe.sample(sample_labels, o);
  ASSERT_EQ(im.values.size(), want.size());
  for (size_t i = 0; i < sample_labels.size(); ++i)
    EXPECT_LT(rel_l2(im.image(int64_t(i)), want.data() + i * per, per), sample_tol) << "sample " << i;
}

}  // namespace

TEST(Diffusion, TinyDitMatchesDiffusers) {
  check_against_diffusers(goldens("tiny_dit"), goldens("tiny_dit_golden.safetensors"), 1e-5, 1e-4);
}

TEST(Diffusion, FashionDitMatchesDiffusers) {
  check_against_diffusers(goldens("fashion_dit"), goldens("fashion_dit_golden.safetensors"), 1e-4, 1e-3);
}

TEST(Diffusion, SchedulesFollowDiffusers) {
  // diffusers' set_timesteps(10) for 1000 training steps: leading (+offset 1), trailing, linspace.
  NoiseSchedule s = NoiseSchedule::from_json({{"steps_offset", 1}}, "cfg");
  EXPECT_EQ(s.timesteps(10), (std::vector<int64_t>{901, 801, 701, 601, 501, 401, 301, 201, 101, 1}));
  s = NoiseSchedule::from_json({{"timestep_spacing", "trailing"}}, "cfg");
  EXPECT_EQ(s.timesteps(10), (std::vector<int64_t>{999, 899, 799, 699, 599, 499, 399, 299, 199, 99}));
  s = NoiseSchedule::from_json({{"timestep_spacing", "linspace"}}, "cfg");
  EXPECT_EQ(s.timesteps(4), (std::vector<int64_t>{999, 666, 333, 0}));
  EXPECT_NEAR(s.alphas_cumprod[999], 4.0358e-05, 1e-8);  // diffusers' linear 1e-4..0.02
  EXPECT_THROW(s.timesteps(0), ValueError);
  EXPECT_THROW(s.timesteps(1001), ValueError);
  EXPECT_THROW(NoiseSchedule::from_json({{"prediction_type", "v_prediction"}}, "cfg"), FormatError);
  EXPECT_THROW(NoiseSchedule::from_json({{"beta_schedule", "sigmoid"}}, "cfg"), FormatError);
  EXPECT_THROW(NoiseSchedule::from_json({{"num_train_timesteps", 0}}, "cfg"), FormatError);
  EXPECT_THROW(NoiseSchedule::from_json({{"timestep_spacing", 3}}, "cfg"), FormatError);
}

TEST(Diffusion, SeededNoiseIsPerImage) {
  // Image i of a seed starts from the same noise whatever the batch size (the products' round-off
  // differs a little with the batch's row count), and seeds differ.
  DiffusionPipeline pipe(goldens("tiny_dit"));
  SampleOptions a, b;
  a.steps = b.steps = 4;
  b.batch_size = 1;
  const Images x = pipe.sample({0, 1, 2}, a), y = pipe.sample({0, 1, 2}, b);
  EXPECT_LT(rel_l2(y.values.data(), x.values.data(), x.values.size()), 1e-5);
  b.seed = 2;
  EXPECT_NE(pipe.sample({0, 1, 2}, b).values, x.values);
  b.sampler = SamplerKind::Ddpm;
  const Images d1 = pipe.sample({1}, b), d2 = pipe.sample({1}, b);
  EXPECT_EQ(d1.values, d2.values);
  // Standard normal: mean ~0, variance ~1.
  std::vector<float> v(100000);
  gaussian_noise(5, 0, v.data(), int64_t(v.size()));
  double m = 0, s2 = 0;
  for (float f : v) m += f, s2 += double(f) * f;
  m /= double(v.size());
  EXPECT_NEAR(m, 0.0, 0.02);
  EXPECT_NEAR(s2 / double(v.size()) - m * m, 1.0, 0.02);
}

TEST(Diffusion, SampleCommandWritesPngAndRefusesBadInput) {
  aqtest::TempDir tmp;
  const std::string model = goldens("tiny_dit");
  auto r = run_cli("sample " + model + " --class 1 -n 3 --steps 5 --seed 3 --png " + tmp / "g.png" + " --npy " + tmp / "g.npy");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::file_size(tmp / "g.png") > 100);
  EXPECT_EQ(fs::file_size(tmp / "g.npy"), size_t(128 + 3 * 64 * 4));
  r = run_cli("sample " + model + " --class 9 --png " + tmp / "bad.png");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("out of range"), std::string::npos) << r.output;
  r = run_cli("sample " + aqtest::minilm_dir() + " --png " + tmp / "bad.png");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("not a diffusion transformer"), std::string::npos) << r.output;
  r = run_cli("sample " + model + " --steps 5000 --png " + tmp / "bad.png");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("between 1 and 1000"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "bad.png"));

  // A copy without its scheduler config, and a UNet pipeline: clear errors.
  fs::copy(model, tmp / "noschedule", fs::copy_options::recursive);
  fs::remove_all(tmp / "noschedule/scheduler");
  r = run_cli("sample " + tmp / "noschedule" + " --png " + tmp / "bad.png");
  EXPECT_NE(r.output.find("no scheduler_config.json"), std::string::npos) << r.output;
  fs::create_directories(tmp / "unet/unet");
  write_text_file(tmp / "unet/model_index.json", R"({"_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"]})");
  r = run_cli("sample " + tmp / "unet" + " --png " + tmp / "bad.png");
  EXPECT_NE(r.output.find("UNet diffusion pipeline"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "bad.png"));
}

TEST(Diffusion, QuantisedDitRunsFromItsFolder) {
  // `quantize` takes the pipeline folder; its output carries the scheduler config and runs as the
  // original does (8-bit: close to it).
  aqtest::TempDir tmp;
  const std::string model = goldens("tiny_dit");
  auto r = run_cli("quantize " + model + " -o " + tmp / "q8" + " --bits 8 --group-size 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("image diffusion"), std::string::npos) << "no profile named: plain settings\n" << r.output;
  EXPECT_TRUE(fs::exists(tmp / "q8/scheduler_config.json"));
  DiffusionPipeline fp(model), q(tmp / "q8");
  SafetensorsFile g(goldens("tiny_dit_golden.safetensors"));
  const auto x = tensor_values<float>(g, "x");
  const auto t = tensor_values<float>(g, "timesteps");
  const auto labels = tensor_values<int32_t>(g, "labels");
  const auto a = fp.predict_noise(x.data(), 8, t, labels), b = q.predict_noise(x.data(), 8, t, labels);
  const double e = rel_l2(b.data(), a.data(), a.size());
  EXPECT_GT(e, 0.0);
  EXPECT_LT(e, 0.02);
}

TEST(Diffusion, TrajectoryCalibrationLowersLateNoiseErrorAndRefusesText) {
  // GPTQ on states along the float model's own guided trajectories (--calibration trajectory) against
  // plain rounding at 3 bits. Measured (docs/BENCHMARKS.md): it lowers the noise error of the last,
  // least noisy steps, where rounding is worst, and raises it a little at the noisiest ones; checked
  // here on the states of the float model's last step.
  aqtest::TempDir tmp;
  const std::string model = goldens("fashion_dit");
  const std::string common = " --bits 3 --group-size 32 --pin '*norm1.emb.*=8' --pin '*norm1.linear*=8' --pin 'proj_out_1*=8'";
  auto r = run_cli("quantize " + model + " -o " + tmp / "rtn" + common);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_cli("quantize " + model + " -o " + tmp / "traj" + common + " --method gptq --calibration trajectory --samples 128");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("128 sequences"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("diffusion, method gptq"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bias correction: off"), std::string::npos) << r.output;

  DiffusionPipeline fp(model), rtn(tmp / "rtn"), traj(tmp / "traj");
  SampleOptions opts;
  opts.steps = 10;
  opts.seed = 7;
  std::vector<float> last;
  opts.on_step = [&](int64_t step, int64_t, int64_t count, const float* x) {
    if (step == opts.steps - 1) last.assign(x, x + count * fp.channels() * fp.image_size() * fp.image_size());
  };
  const std::vector<int32_t> labels = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  fp.sample(labels, opts);
  const float t = float(fp.timesteps(opts.steps).back());
  const auto ref = fp.guided_noise(last.data(), 10, t, labels, 2.0f);
  const auto a = rtn.guided_noise(last.data(), 10, t, labels, 2.0f), b = traj.guided_noise(last.data(), 10, t, labels, 2.0f);
  const double e_rtn = rel_l2(a.data(), ref.data(), ref.size()), e_traj = rel_l2(b.data(), ref.data(), ref.size());
  std::printf("late-step noise error at t=%g: rtn %.4f, trajectory gptq %.4f\n", t, e_rtn, e_traj);
  EXPECT_LT(e_traj, 0.9 * e_rtn) << "t " << t << ": rtn " << e_rtn << ", trajectory gptq " << e_traj;

  // Text calibration means nothing to a diffusion model: a clear error, nothing written.
  write_text_file(tmp / "cal.txt", "some text\n");
  r = run_cli("quantize " + model + " -o " + tmp / "text" + " --bits 4 --method gptq --calibration " + tmp / "cal.txt");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--calibration trajectory"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "text"));
}

TEST(Diffusion, ScaleFoldsIntoAdaLnAreExact) {
  // AWQ / SmoothQuant scales folded into the adaLN modulation (attention and MLP inputs) and the value
  // rows (attention output): the model computes the same function.
  ModelWeights w(goldens("tiny_dit"));
  DitTransformer dit(w, 1);
  SafetensorsFile g(goldens("tiny_dit_golden.safetensors"));
  const auto x = tensor_values<float>(g, "x");
  const auto t = tensor_values<float>(g, "timesteps");
  const auto labels = tensor_values<int32_t>(g, "labels");
  const int64_t n = int64_t(labels.size());
  const auto before = dit.forward(x.data(), n, t, labels);
  int64_t folds = 0;
  for (int64_t b = 0; b < dit.config().layers; ++b)
    for (ScaleFold& f : dit.block_folds(b)) {
      FoldScales s;
      for (int64_t c = 0; c < f.consumers[0]->in; ++c) s.consumer.push_back(0.5f + 1.5f * float((c * 37 + b * 11) % 17) / 16.0f);
      s.producer = s.consumer;
      apply_fold(f, s);
      ++folds;
    }
  EXPECT_EQ(folds, 3 * dit.config().layers);
  const auto after = dit.forward(x.data(), n, t, labels);
  EXPECT_LT(rel_l2(after.data(), before.data(), before.size()), 1e-5);
}

TEST(Diffusion, TimeGroupClipsAreStoredAndRoundTheInputsOfTheirGroup) {
  // --time-groups stores a static int8 clip per block Linear and timestep group, chosen on the
  // trajectory states; --static-activations rounds each Linear's input to its image's group's clip.
  aqtest::TempDir tmp;
  const std::string model = goldens("fashion_dit");
  auto r = run_cli("quantize " + model + " -o " + tmp / "q" +
                   " --bits 8 --group-size 0 --calibration trajectory --samples 50 --time-groups 5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  {
    ModelWeights w(tmp / "q");
    const TimeGroupClips clips = w.time_groups();
    EXPECT_EQ(clips.groups, 5);
    EXPECT_EQ(clips.train_timesteps, 1000);
    EXPECT_TRUE(clips.clips.count("transformer_blocks.0.attn1.to_q"));
    EXPECT_TRUE(clips.clips.count("transformer_blocks.5.ff.net.2"));
    EXPECT_EQ(clips.clips.size(), 6u * 9u);  // every quantised block Linear
  }
  DiffusionPipeline fp(model), dynamic_rounding(tmp / "q");
  EngineOptions o;
  o.static_activations = true;
  DiffusionPipeline static_rounding(tmp / "q", o);
  const MidState mid = mid_state(fp, 3);
  const double e_weights = mid.noise_error(dynamic_rounding), e_static = mid.noise_error(static_rounding);
  std::printf("noise error at t=%g: 8-bit weights %.4f, and static int8 inputs %.4f\n", mid.t, e_weights, e_static);
  EXPECT_GT(e_static, e_weights);  // the rounding happened
  EXPECT_LT(e_static, 0.1);        // measured 0.02-0.03 (docs/BENCHMARKS.md)

  // Clear errors, nothing written: clips asked of a model without them, --time-groups for a text
  // model, static activations with int8 ones.
  r = run_cli("sample " + model + " --class 1 -n 1 --steps 2 --static-activations --npy " + tmp / "x.npy");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("no static activation clips"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "x.npy"));
  r = run_cli("sample " + tmp / "q" + " --class 1 -n 1 --steps 2 --static-activations --activations int8 --npy " +
              tmp / "x.npy");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("give one"), std::string::npos) << r.output;
  write_text_file(tmp / "cal.txt", "Once upon a time there was a cat.\n");
  r = run_cli("quantize " + aqtest::stories_dir() + " -o " + tmp / "text" + " --bits 8 --calibration " + tmp / "cal.txt" +
              " --time-groups 4");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--time-groups is for diffusion models"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "text"));
}

TEST(Diffusion, MinAccuracyHoldsTheNoisePredictionCosine) {
  // --min-accuracy on a DiT measures the noise prediction's cosine with the layers quantised so far
  // (not a layer's own output cosine): below it a layer is redone at INT4, then INT8, each decision
  // logged and recorded; the model's noise prediction ends closer to the float model's.
  aqtest::TempDir tmp;
  const std::string model = goldens("fashion_dit");
  const std::string args = "quantize " + model + " --bits 2 --group-size 32 --pin '*norm1.emb.*=8' --pin "
                           "'*norm1.linear*=8' --method gptq --calibration trajectory --samples 64 -o ";
  auto plain = run_cli(args + tmp / "plain");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  auto held = run_cli(args + tmp / "held" + " --min-accuracy 0.99 --json " + tmp / "held.json");
  ASSERT_EQ(held.exit_code, 0) << held.output;
  EXPECT_NE(held.output.find("noise-prediction cosine"), std::string::npos) << held.output;
  const nlohmann::json j = read_json_file(tmp / "held.json");
  int redone = 0;
  for (const auto& d : j["decisions"]) {
    if (!d.contains("to_bits")) continue;
    ++redone;
    EXPECT_EQ(d["measured"], "noise-prediction cosine");
    EXPECT_LT(d["accuracy"].get<double>(), 0.99);
  }
  EXPECT_GT(redone, 2);

  DiffusionPipeline fp(model), q_plain(tmp / "plain"), q_held(tmp / "held");
  const MidState mid = mid_state(fp, 5);
  const double e_plain = mid.noise_error(q_plain), e_held = mid.noise_error(q_held);
  std::printf("noise error at t=%g: 2-bit %.4f, with --min-accuracy 0.99 %.4f (%d layers redone)\n", mid.t, e_plain,
              e_held, redone);
  EXPECT_LT(e_held, e_plain);
}

TEST(Diffusion, TimeGroupClipsSurviveAResume) {
  // Each finished block's clips are in its checkpoint piece: a run killed after two blocks and resumed
  // writes the file an uninterrupted run writes, clips included (and the --min-accuracy probe, advanced
  // past the resumed blocks, takes the same decisions).
  aqtest::TempDir tmp;
  const std::string args = "quantize " + goldens("fashion_dit") +
                           " --bits 2 --group-size 64 --method gptq --calibration trajectory --samples 128 "
                           "--time-groups 5 --min-accuracy 0.995 -q -o ";
  auto full = run_cli(args + (tmp / "full"));
  ASSERT_EQ(full.exit_code, 0) << full.output;
  const std::string out = tmp / "part";
  aqtest::kill_after_second_block(args + out, out);
  auto resumed = run_cli(args + out + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(aqtest::slurp(out + "/model.parquet"), aqtest::slurp(tmp / "full/model.parquet"));
  EXPECT_EQ(ModelWeights(out).time_groups().clips.size(), 6u * 9u);
}

TEST(Diffusion, ProfilesFollowTheModalityAndUnsupportedKindsAreRefused) {
  // A profile named for a DiT folder gives the seed's diffusion values (trajectory calibration, time
  // groups, min_accuracy), says so, and records them; settings still apply on top.
  aqtest::TempDir tmp;
  auto r = run_cli("quantize " + goldens("tiny_dit") + " -o " + tmp / "edge" + " --profile edge --samples 8 --json " +
                   tmp / "edge.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("profile edge (image diffusion): bits 2, group_size 256"), std::string::npos) << r.output;
  const nlohmann::json j = read_json_file(tmp / "edge.json");
  EXPECT_EQ(j["config"]["modality"], "image diffusion");
  EXPECT_EQ(j["config"]["calibration"]["time_groups"], 5);
  EXPECT_EQ(j["config"]["calibration"]["samples"], 8);
  EXPECT_DOUBLE_EQ(j["config"]["calibration"]["min_accuracy"].get<double>(), 0.65);
  EXPECT_EQ(DiffusionPipeline(tmp / "edge").runs_as(), "float weights, f32 activations");
  EXPECT_EQ(detect_modality(goldens("tiny_dit")), Modality::ImageDiffusion);
  EXPECT_EQ(detect_modality(aqtest::source_dir() + "/tests/goldens/tiny/llama"), Modality::Text);

  // Diffusion models we cannot run yet are named and refused before anything is written.
  fs::create_directories(tmp / "audio");
  write_text_file(tmp / "audio/model_index.json",
                  R"({"_class_name": "AudioLDMPipeline", "unet": ["diffusers", "UNet2DConditionModel"], "vocoder": ["transformers", "SpeechT5HifiGan"]})");
  fs::create_directories(tmp / "llada");
  write_text_file(tmp / "llada/config.json", R"({"model_type": "llada", "architectures": ["LLaDAModelLM"]})");
  fs::create_directories(tmp / "unet");
  write_text_file(tmp / "unet/model_index.json", R"({"_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"]})");
  for (const auto& [folder, kind] : {std::pair{"audio", "an audio diffusion pipeline (AudioLDMPipeline)"},
                                     std::pair{"llada", "a text diffusion language model (model_type 'llada')"},
                                     std::pair{"unet", "a UNet diffusion pipeline (DDPMPipeline)"}}) {
    r = run_cli("quantize " + tmp / folder + " -o " + tmp / (std::string(folder) + "-q") + " --profile edge");
    EXPECT_NE(r.exit_code, 0) << folder;
    EXPECT_NE(r.output.find(kind), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("not supported yet"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(tmp / (std::string(folder) + "-q"))) << folder;
    EXPECT_THROW(detect_modality(tmp / folder), FormatError) << folder;
  }
}

TEST(Diffusion, AnalyzeSplitsEachTensorsDivergenceByTimeGroup) {
  // `analyze --calibration trajectory --time-groups N`: every quantisable tensor's model divergence
  // (alone at INT4) per group of timesteps.
  aqtest::TempDir tmp;
  auto r = run_cli("analyze " + goldens("fashion_dit") + " --calibration trajectory --samples 64 --time-groups 4 "
                   "--widths 2,4 --json " + tmp / "an.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Model divergence per time group"), std::string::npos) << r.output;
  const nlohmann::json j = read_json_file(tmp / "an.json");
  EXPECT_EQ(j["time_groups"], 4);
  int64_t probed = 0, late_worst = 0;
  for (const auto& t : j["tensors"]) {
    if (!t.contains("probe_divergence_by_time_group")) continue;
    ++probed;
    const auto g = t["probe_divergence_by_time_group"].get<std::vector<double>>();
    ASSERT_EQ(g.size(), 4u) << t["name"];
    for (double d : g) EXPECT_GE(d, 0) << t["name"];  // every group has states
    const double worst = *std::max_element(g.begin(), g.end());
    EXPECT_GE(worst, t["probe_divergence"].get<double>() * 0.999) << t["name"];
    if (worst == g[0]) ++late_worst;
  }
  EXPECT_GT(probed, 30);
  std::printf("%lld of %lld tensors hurt the least noisy group most\n", (long long)late_worst, (long long)probed);
  // The float model's input entropy per group (bits of the int8 |x| code, at most 7) for every block
  // Linear, and how both entropies rank the tensors against the measured divergence.
  EXPECT_NE(r.output.find("Input entropy per time group"), std::string::npos) << r.output;
  int64_t with_entropy = 0;
  for (const auto& t : j["tensors"]) {
    if (!t.contains("input_entropy_by_time_group")) continue;
    ++with_entropy;
    const auto e = t["input_entropy_by_time_group"].get<std::vector<double>>();
    ASSERT_EQ(e.size(), 4u) << t["name"];
    for (double v : e) {
      EXPECT_GT(v, 0.5) << t["name"];  // real activations use more than one code
      EXPECT_LE(v, 7.0) << t["name"];
    }
  }
  EXPECT_EQ(with_entropy, probed);
  const auto& corr = j["entropy_vs_divergence_rank_correlation"];
  for (const char* k : {"weight_entropy", "input_entropy"}) {
    ASSERT_TRUE(corr.contains(k)) << corr.dump();
    EXPECT_GE(corr[k].get<double>(), -1.0);
    EXPECT_LE(corr[k].get<double>(), 1.0);
  }

  // Time groups mean nothing to a text model: a clear error.
  r = run_cli("analyze " + aqtest::source_dir() + "/tests/goldens/tiny/llama --calibration " + goldens("tiny_dit/model_index.json") +
              " --time-groups 4");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--time-groups is for diffusion models"), std::string::npos) << r.output;
}
