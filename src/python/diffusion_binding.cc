// DiffusionPipeline: sampling (a NumPy array owning the C++ images), the noise prediction, and the
// diffusion validation report. Each call releases the GIL while the model runs.
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "arrowquant/diffusion.h"
#include "arrowquant/error.h"
#include "python/bindings.h"
#include "reports/diffusion_report.h"

namespace aqpy {

using namespace arrowquant;

namespace {

struct PyDiffusion {
  std::string path;
  std::unique_ptr<DiffusionPipeline> pipe;
};

SampleOptions sample_options(int64_t steps, const std::string& sampler, float guidance, uint64_t seed, int64_t batch) {
  SampleOptions o;
  o.steps = steps, o.guidance = guidance, o.seed = seed, o.batch_size = batch;
  o.sampler = option_named<SamplerKind>(kSamplerNames, sampler, "sampler");
  return o;
}

// progress(fraction, message) from a (done, total) count; Ctrl-C and False stop the work.
std::function<void(int64_t, int64_t)> counted(ProgressCallback& cb, const char* what) {
  return [&cb, what](int64_t done, int64_t total) {
    if (!cb(total ? double(done) / double(total) : 1.0, what, done == total)) throw Interrupted("cancelled");
  };
}

}  // namespace

void bind_diffusion(nb::module_& m) {
  nb::class_<PyDiffusion>(m, "Diffusion", "A diffusion model opened for sampling (see arrowquant.DiffusionPipeline)")
      .def(
          "__init__",
          [](PyDiffusion* self, const std::string& path, const std::string& weights, const std::string& activations,
             const std::string& kernel_fallback, int threads, bool static_activations) {
            EngineOptions o = engine_options(weights, activations, kernel_fallback, threads);
            if (o.weights == EngineOptions::Weights::Auto) o.weights = EngineOptions::Weights::Float;
            o.static_activations = static_activations;
            new (self) PyDiffusion{path, call_released("ModelFormatError", [&] { return std::make_unique<DiffusionPipeline>(path, o); })};
          },
          nb::arg("path"), nb::arg("weights") = "auto", nb::arg("activations") = "auto",
          nb::arg("kernel_fallback") = "auto", nb::arg("threads") = 0, nb::arg("static_activations") = false)
      .def_prop_ro("num_classes", [](const PyDiffusion& d) { return d.pipe->num_classes(); })
      .def_prop_ro("class_names", [](const PyDiffusion& d) { return d.pipe->class_names(); })
      .def_prop_ro("channels", [](const PyDiffusion& d) { return d.pipe->channels(); })
      .def_prop_ro("image_size", [](const PyDiffusion& d) { return d.pipe->image_size(); })
      .def_prop_ro("packed_weights", [](const PyDiffusion& d) { return d.pipe->packed_weights(); })
      .def(
          "sample",
          [](const PyDiffusion& d, const std::vector<int32_t>& labels, int64_t steps, const std::string& sampler,
             float guidance, uint64_t seed, int64_t batch_size, nb::object progress) {
            ProgressCallback cb(std::move(progress));
            SampleOptions o = sample_options(steps, sampler, guidance, seed, batch_size);
            o.progress = counted(cb, "sample");
            Images im = call_released("ValidationError", [&] { return d.pipe->sample(labels, o); });
            if (cb.interrupted()) raise_keyboard_interrupt();
            return owned_array(std::move(im.values), {size_t(im.count), size_t(im.channels), size_t(im.height), size_t(im.width)});
          },
          nb::arg("labels"), nb::arg("steps") = 50, nb::arg("sampler") = "ddim", nb::arg("guidance") = 2.0f,
          nb::arg("seed") = 1, nb::arg("batch_size") = 64, nb::arg("progress") = nb::none(),
          "Images [len(labels), C, H, W] in [-1, 1], float32 (the C++ result, not copied)")
      .def(
          "predict_noise",
          [](const PyDiffusion& d, nb::ndarray<const float, nb::ndim<4>, nb::c_contig> x, const std::vector<float>& timesteps,
             const std::vector<int32_t>& labels) {
            const int64_t n = int64_t(x.shape(0)), c = d.pipe->channels(), s = d.pipe->image_size();
            if (int64_t(x.shape(1)) != c || int64_t(x.shape(2)) != s || int64_t(x.shape(3)) != s)
              raise_error("ShapeMismatchError", "x must be [n, " + std::to_string(c) + ", " + std::to_string(s) + ", " +
                                                    std::to_string(s) + "]");
            std::vector<float> eps =
                call_released("ValidationError", [&] { return d.pipe->predict_noise(x.data(), n, timesteps, labels); });
            return owned_array(std::move(eps), {size_t(n), size_t(c), size_t(s), size_t(s)});
          },
          nb::arg("x"), nb::arg("timesteps"), nb::arg("labels"), "The predicted noise for x at one timestep per image");

  m.def(
      "detect_modality",
      [](const std::string& path) {
        try {
          return std::string(detect_modality(path) == arrowquant::Modality::ImageDiffusion ? "diffusion" : "text");
        } catch (...) {
          raise_current("ValidationError");
        }
      },
      nb::arg("path"),
      "\"diffusion\" for a diffusers DiT folder, \"text\" otherwise; raises for diffusion models not supported yet");
  m.def(
      "validate_diffusion",
      [](const PyDiffusion& reference, const PyDiffusion& model, const std::string& classifier, int64_t samples,
         int64_t steps, const std::string& sampler, float guidance, uint64_t seed, int64_t trajectory_images,
         const std::string& png, nb::object progress) {
        ProgressCallback cb(std::move(progress));
        DiffusionValidateOptions o;
        o.classifier = classifier, o.samples = samples, o.trajectory_images = trajectory_images, o.png = png;
        o.sample = sample_options(steps, sampler, guidance, seed, 64);
        o.progress = [&](size_t done, size_t total) {
          if (!cb(total ? double(done) / double(total) : 1.0, "validate", done == total)) throw Interrupted("cancelled");
        };
        std::string r = call_released("ValidationError", [&] {
          return validate_diffusion(*reference.pipe, reference.path, *model.pipe, model.path, o).to_json().dump();
        });
        if (cb.interrupted()) raise_keyboard_interrupt();
        return r;
      },
      nb::arg("reference"), nb::arg("model"), nb::arg("classifier"), nb::arg("samples") = 500, nb::arg("steps") = 50,
      nb::arg("sampler") = "ddim", nb::arg("guidance") = 2.0f, nb::arg("seed") = 1, nb::arg("trajectory_images") = 32,
      nb::arg("png") = "", nb::arg("progress") = nb::none(),
      "The diffusion report (Fréchet distance, class accuracy, per-timestep noise error) as JSON");
}

}  // namespace aqpy
