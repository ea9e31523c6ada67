#include "reports/diffusion_report.h"

#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "arrowquant/error.h"
#include "io/safetensors_reader.h"
#include "model/mlp_classifier.h"
#include "model/model_weights.h"
#include "reports/image_grid.h"
#include "util/clock.h"

namespace fs = std::filesystem;

namespace arrowquant {

namespace {

// Eigenvalues (ascending) and, in a, the eigenvectors as columns of a symmetric d×d matrix.
std::vector<double> symmetric_eigen(std::vector<double>& a, int64_t d) {
  std::vector<double> w(static_cast<size_t>(d));
  if (LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', int(d), a.data(), int(d), w.data()) != 0)
    throw ValueError("the covariance eigendecomposition did not converge");
  return w;
}

int64_t weight_bytes(const std::string& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return int64_t(fs::file_size(path, ec));
  int64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(path, ec))
    if (e.is_regular_file() && (e.path().extension() == ".parquet" || e.path().extension() == ".safetensors"))
      total += int64_t(e.file_size());
  return total;
}

std::vector<double> read_f64(const SafetensorsFile& f, const std::string& name, size_t expected) {
  const TensorView* v = f.find(name);
  if (!v || size_t(num_elements(v->shape)) != expected)
    throw FormatError(f.mapping().path() + ": tensor " + name + " missing or not of " + std::to_string(expected) + " values");
  std::vector<float> tmp(expected);
  convert_to_f32(v->dtype, v->data, expected, tmp.data());
  return std::vector<double>(tmp.begin(), tmp.end());
}

}  // namespace

void feature_statistics(const std::vector<float>& x, int64_t n, int64_t d, std::vector<double>& mu, std::vector<double>& cov) {
  if (n < 2) throw ValueError("feature statistics need at least 2 samples");
  mu.assign(size_t(d), 0.0);
  cov.assign(size_t(d * d), 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < d; ++j) mu[size_t(j)] += x[size_t(r * d + j)];
  for (auto& m : mu) m /= double(n);
  std::vector<double> c(static_cast<size_t>(d));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < d; ++j) c[size_t(j)] = x[size_t(r * d + j)] - mu[size_t(j)];
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j) cov[size_t(i * d + j)] += c[size_t(i)] * c[size_t(j)];
  }
  for (auto& v : cov) v /= double(n - 1);
}

double frechet_distance(const std::vector<double>& mu1, const std::vector<double>& cov1, const std::vector<double>& mu2,
                        const std::vector<double>& cov2, int64_t d) {
  // Σ₁^½ from Σ₁'s eigenvectors (negative round-off eigenvalues clamped to 0), then the eigenvalues of
  // the symmetric Σ₁^½ Σ₂ Σ₁^½, whose square roots sum to tr (Σ₁ Σ₂)^½.
  std::vector<double> v = cov1;
  const std::vector<double> w = symmetric_eigen(v, d);
  std::vector<double> root(size_t(d * d), 0.0), tmp(size_t(d * d), 0.0), m(size_t(d * d), 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) {
      double s = 0;
      for (int64_t k = 0; k < d; ++k) s += v[size_t(i * d + k)] * std::sqrt(std::max(w[size_t(k)], 0.0)) * v[size_t(j * d + k)];
      root[size_t(i * d + j)] = s;
    }
  for (int64_t i = 0; i < d; ++i)
    for (int64_t k = 0; k < d; ++k)
      for (int64_t j = 0; j < d; ++j) tmp[size_t(i * d + j)] += root[size_t(i * d + k)] * cov2[size_t(k * d + j)];
  for (int64_t i = 0; i < d; ++i)
    for (int64_t k = 0; k < d; ++k)
      for (int64_t j = 0; j < d; ++j) m[size_t(i * d + j)] += tmp[size_t(i * d + k)] * root[size_t(k * d + j)];
  for (int64_t i = 0; i < d; ++i)  // symmetrise the round-off
    for (int64_t j = 0; j < i; ++j) m[size_t(i * d + j)] = m[size_t(j * d + i)] = 0.5 * (m[size_t(i * d + j)] + m[size_t(j * d + i)]);
  double trace_root = 0;
  for (double e : symmetric_eigen(m, d)) trace_root += std::sqrt(std::max(e, 0.0));
  double dist = 0;
  for (int64_t i = 0; i < d; ++i) {
    dist += (mu1[size_t(i)] - mu2[size_t(i)]) * (mu1[size_t(i)] - mu2[size_t(i)]);
    dist += cov1[size_t(i * d + i)] + cov2[size_t(i * d + i)];
  }
  return dist - 2 * trace_root;
}

DiffusionReport validate_diffusion(const DiffusionPipeline& reference, const std::string& reference_path,
                                   const DiffusionPipeline& model, const std::string& model_path,
                                   const DiffusionValidateOptions& opts) {
  if (opts.classifier.empty()) throw ValueError("a diffusion report needs a classifier folder (--classifier)");
  if (opts.samples < 2) throw ValueError("at least 2 samples per model");
  if (reference.num_classes() != model.num_classes() || reference.image_size() != model.image_size() ||
      reference.channels() != model.channels())
    throw ValueError(model_path + " and " + reference_path + " are not the same model (classes or image size differ)");
  const ModelWeights cw(opts.classifier);
  const MlpClassifier classifier(cw, 0);
  const int64_t per = model.channels() * model.image_size() * model.image_size();
  if (classifier.input_size() != per)
    throw FormatError(opts.classifier + ": the classifier reads " + std::to_string(classifier.input_size()) +
                      " pixels, the model makes " + std::to_string(per));
  const std::string ref_stats = (fs::path(opts.classifier) / "test_features.safetensors").string();
  const SafetensorsFile stats(ref_stats);
  const int64_t F = classifier.feature_size();
  const std::vector<double> real_mu = read_f64(stats, "mean", size_t(F)), real_cov = read_f64(stats, "covariance", size_t(F * F));

  DiffusionReport r;
  r.samples = opts.samples;
  r.steps = opts.sample.steps;
  r.sampler = opts.sample.sampler == SamplerKind::Ddim ? "ddim" : "ddpm";
  r.guidance = opts.sample.guidance;
  r.timesteps = model.timesteps(opts.sample.steps);
  if (cw.config().contains("frechet_noise_floor")) r.noise_floor = cw.config()["frechet_noise_floor"];
  std::vector<int32_t> labels;
  for (int64_t i = 0; i < opts.samples; ++i) labels.push_back(int32_t(i % model.num_classes()));

  const int64_t traj = std::min(opts.trajectory_images, opts.samples);
  const int64_t steps = int64_t(r.timesteps.size());
  std::vector<float> trajectory(size_t(traj * steps * per));  // [step, image, ...] of the reference
  const size_t work_total = size_t(2 * opts.samples * steps + traj * steps);
  size_t work_done = 0;
  auto score = [&](const DiffusionPipeline& p, const std::string& path, bool record, DiffusionModelScore& s) {
    SampleOptions so = opts.sample;
    so.progress = [&](int64_t, int64_t) {
      work_done += size_t(std::min(so.batch_size, opts.samples));
      if (opts.progress) opts.progress(std::min(work_done, work_total), work_total);
    };
    if (record)
      so.on_step = [&](int64_t step, int64_t first, int64_t count, const float* x) {
        for (int64_t i = first; i < std::min(first + count, traj); ++i)
          std::copy(x + (i - first) * per, x + (i - first + 1) * per, trajectory.begin() + (step * traj + i) * per);
      };
    const double t0 = now_seconds();
    const Images im = p.sample(labels, so);
    s.seconds = now_seconds() - t0;
    s.path = path;
    s.runs_as = p.runs_as();
    s.file_bytes = weight_bytes(path);
    const MlpClassifier::Output out = classifier.run(im.values.data(), im.count);
    int64_t right = 0;
    for (size_t i = 0; i < labels.size(); ++i) right += out.predicted[i] == labels[i];
    s.accuracy = double(right) / double(labels.size());
    std::vector<double> mu, cov;
    feature_statistics(out.features, im.count, F, mu, cov);
    s.frechet = frechet_distance(mu, cov, real_mu, real_cov, F);
    return im;
  };
  score(reference, reference_path, true, r.reference);
  const Images mine = score(model, model_path, false, r.model);
  if (!opts.png.empty()) {
    Images grid = mine;
    grid.count = std::min<int64_t>(mine.count, 10 * model.num_classes());
    grid.values.resize(size_t(grid.count * per));
    write_image_grid_png(opts.png, grid, model.num_classes(), 2);
  }
  // Paired per-timestep error: both models' guided noise on the reference's own x_t.
  const std::vector<int32_t> traj_labels(labels.begin(), labels.begin() + traj);
  for (int64_t step = 0; step < steps; ++step) {
    const float* x = trajectory.data() + step * traj * per;
    const float t = float(r.timesteps[size_t(step)]);
    const std::vector<float> a = reference.guided_noise(x, traj, t, traj_labels, opts.sample.guidance);
    const std::vector<float> b = model.guided_noise(x, traj, t, traj_labels, opts.sample.guidance);
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) num += double(b[i] - a[i]) * (b[i] - a[i]), den += double(a[i]) * a[i];
    r.noise_error.push_back(std::sqrt(num / std::max(den, 1e-30)));
    work_done += size_t(traj);
    if (opts.progress) opts.progress(std::min(work_done, work_total), work_total);
  }
  return r;
}

nlohmann::json DiffusionReport::to_json() const {
  auto model_json = [](const DiffusionModelScore& s) {
    return nlohmann::json{{"path", s.path}, {"runs_as", s.runs_as}, {"frechet_distance", s.frechet}, {"class_accuracy", s.accuracy},
                          {"sample_seconds", s.seconds}, {"weight_bytes", s.file_bytes}};
  };
  nlohmann::json steps = nlohmann::json::array();
  for (size_t i = 0; i < timesteps.size(); ++i) steps.push_back({{"t", timesteps[i]}, {"noise_rel_error", noise_error[i]}});
  return {{"kind", "diffusion"}, {"samples", samples}, {"steps", steps.size()}, {"sampler", sampler},
          {"guidance", guidance}, {"reference", model_json(reference)}, {"model", model_json(model)},
          {"max_noise_rel_error", noise_error.empty() ? 0.0 : *std::max_element(noise_error.begin(), noise_error.end())},
          {"frechet_noise_floor", noise_floor}, {"per_timestep", steps}};
}

std::string DiffusionReport::to_markdown() const {
  char buf[512];
  std::string s = "| model | runs as | Fréchet distance | class accuracy | weight bytes | sampling s |\n"
                  "|---|---|---:|---:|---:|---:|\n";
  for (const DiffusionModelScore* m : {&reference, &model}) {
    snprintf(buf, sizeof buf, "| %s | %s | %.2f | %.1f %% | %lld | %.1f |\n", m->path.c_str(), m->runs_as.c_str(),
             m->frechet, 100 * m->accuracy, (long long)m->file_bytes, m->seconds);
    s += buf;
  }
  snprintf(buf, sizeof buf, "\n%lld images per model, %lld %s steps, guidance %.2f.", (long long)samples,
           (long long)timesteps.size(), sampler.c_str(), guidance);
  s += buf;
  if (noise_floor.is_object() && noise_floor.contains(std::to_string(samples)))
    s += " Noise floor (real test images at this count): " + noise_floor[std::to_string(samples)].dump() + " (mean, std).";
  s += "\n\nGuided noise prediction, relative error against the reference on the reference's trajectory:\n\n"
       "| t | rel. error |\n|---:|---:|\n";
  for (size_t i = 0; i < timesteps.size(); ++i) {
    if (timesteps.size() > 12 && i % (timesteps.size() / 10) != 0 && i + 1 != timesteps.size()) continue;
    snprintf(buf, sizeof buf, "| %lld | %.5f |\n", (long long)timesteps[i], noise_error[i]);
    s += buf;
  }
  return s;
}

}  // namespace arrowquant
