#include "arrowquant/diffusion.h"

#include <filesystem>
#include <optional>

#include "arrowquant/error.h"
#include "io/json_file.h"
#include "kernels/dense_ops.h"
#include "model/diffusion_scheduler.h"
#include "model/dit_sampler.h"
#include "model/dit_transformer.h"
#include "model/modality.h"
#include "model/model_weights.h"

namespace fs = std::filesystem;

namespace arrowquant {

namespace {

std::string model_folder(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) ? path : fs::path(path).parent_path().string();
}

// A clear refusal for diffusion models that are recognisable but not runnable here yet.
void refuse_unsupported_modality(const std::string& path) {
  const fs::path dir(model_folder(path));
  std::error_code ec;
  std::optional<nlohmann::json> idx, cfg;
  if (fs::is_regular_file(dir / "model_index.json", ec)) idx = read_json_file((dir / "model_index.json").string());
  if (fs::is_regular_file(dir / "config.json", ec)) cfg = read_json_file((dir / "config.json").string());
  refuse_unsupported_diffusion(idx ? &*idx : nullptr, cfg ? &*cfg : nullptr, path);
}

}  // namespace

Modality detect_modality(const std::string& path) {
  refuse_unsupported_modality(path);
  return DiffusionPipeline::is_diffusion_model(path) ? Modality::ImageDiffusion : Modality::Text;
}

struct DiffusionPipeline::Impl {
  std::string path;
  std::unique_ptr<ModelWeights> weights;
  std::unique_ptr<DitTransformer> dit;
  NoiseSchedule schedule;
  std::vector<std::string> class_names;
  bool packed = false;
  std::string runs_as;
};

bool DiffusionPipeline::is_diffusion_model(const std::string& path) {
  const fs::path dir(model_folder(path));
  std::error_code ec;
  if (fs::is_regular_file(dir / "model_index.json", ec) || !NoiseSchedule::find_config(dir.string()).empty()) return true;
  if (!fs::is_regular_file(dir / "config.json", ec)) return false;
  try {
    return DitConfig::is_dit(read_json_file((dir / "config.json").string()));
  } catch (const Error&) {
    return false;
  }
}

DiffusionPipeline::DiffusionPipeline(const std::string& path, EngineOptions opts) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.path = path;
  refuse_unsupported_modality(path);
  m.weights = std::make_unique<ModelWeights>(path);
  const nlohmann::json& cfg = m.weights->config();
  if (!DitConfig::is_dit(cfg))
    throw FormatError(path + ": not a diffusion transformer (config.json \"_class_name\" is " +
                      (cfg.contains("_class_name") ? cfg["_class_name"].dump() : std::string("missing")) +
                      "; supported: DiTTransformer2DModel)");
  const std::string sched = NoiseSchedule::find_config(m.weights->folder());
  if (sched.empty())
    throw FormatError(path + ": no scheduler_config.json (expected in " + m.weights->folder() + " or its scheduler/)");
  m.schedule = NoiseSchedule::from_json(read_json_file(sched), sched);
  // Packed weights run the fused kernels (f32 activations unless int8 is asked for); float weights
  // are dequantised once at load, the default: a small DiT's float32 weights fit in cache.
  using W = EngineOptions::Weights;
  using A = EngineOptions::Activations;
  if (opts.static_activations && opts.activations == A::Int8)
    throw ValueError("static activations and --activations int8 both choose how inputs are rounded: give one");
  m.packed = opts.weights == W::Packed || opts.weights == W::PackedCopy || opts.activations == A::Int8;
  if (m.packed && opts.weights == W::Float) throw ValueError("int8 activations need packed weights, not float");
  m.weights->set_packed_kernels(m.packed, opts.weights == W::PackedCopy);
  KernelRequest req;
  req.activation = opts.activations == A::Int8 ? Activation::Int8 : Activation::F32;
  if (opts.kernel_fallback != A::Auto) {
    req.has_fallback = true;
    req.fallback = opts.kernel_fallback == A::Int8 ? Activation::Int8 : Activation::F32;
  }
  m.weights->set_kernel_request(req);
  m.dit = std::make_unique<DitTransformer>(*m.weights, opts.threads);
  int64_t static_groups = 0;
  if (opts.static_activations) {
    const TimeGroupClips clips = m.weights->time_groups();
    if (clips.empty())
      throw ValueError(path + ": no static activation clips in the file (quantise the model with --time-groups N "
                              "--calibration trajectory)");
    if (clips.train_timesteps != m.schedule.train_steps)
      throw FormatError(path + ": metadata key time_groups is for " + std::to_string(clips.train_timesteps) +
                        " timesteps, the scheduler has " + std::to_string(m.schedule.train_steps));
    m.dit->use_static_activations(clips, m.weights->path());
    static_groups = clips.groups;
  }
  m.runs_as = std::string(m.packed ? "packed" : "float") + " weights, " +
              (opts.static_activations ? "static int8 activations (" + std::to_string(static_groups) +
                                             " timestep groups)"
               : opts.activations == A::Int8 ? "int8 activations"
                                             : "f32 activations");
  const int64_t classes = m.dit->config().num_classes;
  m.class_names.resize(size_t(classes));
  for (int64_t i = 0; i < classes; ++i) m.class_names[size_t(i)] = "class " + std::to_string(i);
  const fs::path idx = fs::path(m.weights->folder()) / "model_index.json";
  std::error_code ec;
  if (fs::is_regular_file(idx, ec)) {
    const nlohmann::json j = read_json_file(idx.string());
    if (const nlohmann::json* labels = json_object_field(j, "id2label", idx.string()))
      for (int64_t i = 0; i < classes; ++i)
        m.class_names[size_t(i)] = json_string(*labels, std::to_string(i).c_str(), m.class_names[size_t(i)], idx.string());
  }
}

DiffusionPipeline::~DiffusionPipeline() = default;
DiffusionPipeline::DiffusionPipeline(DiffusionPipeline&&) noexcept = default;

int64_t DiffusionPipeline::num_classes() const { return impl_->dit->config().num_classes; }
std::vector<std::string> DiffusionPipeline::class_names() const { return impl_->class_names; }
int64_t DiffusionPipeline::channels() const { return impl_->dit->config().in_channels; }
int64_t DiffusionPipeline::image_size() const { return impl_->dit->config().sample_size; }
int64_t DiffusionPipeline::train_steps() const { return impl_->schedule.train_steps; }
bool DiffusionPipeline::packed_weights() const { return impl_->packed; }
std::string DiffusionPipeline::runs_as() const { return impl_->runs_as; }
std::vector<std::string> DiffusionPipeline::kernel_notes() const { return impl_->weights->kernel_notes(); }

std::vector<float> DiffusionPipeline::predict_noise(const float* x, int64_t batch, const std::vector<float>& timesteps,
                                                    const std::vector<int32_t>& labels) const {
  return impl_->dit->forward(x, batch, timesteps, labels);
}

std::vector<float> DiffusionPipeline::guided_noise(const float* x, int64_t batch, float t,
                                                   const std::vector<int32_t>& labels, float guidance) const {
  return dit_guided_noise(*impl_->dit, x, batch, t, labels, guidance);
}

std::vector<int64_t> DiffusionPipeline::timesteps(int64_t steps) const { return impl_->schedule.timesteps(steps); }

Images DiffusionPipeline::sample(const std::vector<int32_t>& labels, const SampleOptions& opts) const {
  return dit_sample(*impl_->dit, impl_->schedule, labels, opts);
}

}  // namespace arrowquant
