#include <cstdio>

#include <nlohmann/json.hpp>

#include "arrowquant/diffusion.h"
#include "arrowquant/error.h"
#include "io/npy_writer.h"
#include "reports/image_grid.h"
#include "util/clock.h"
#include "util/files.h"
#include "cli/commands.h"
#include "cli/engine_args.h"
#include "cli/progress.h"

namespace arrowquant::cli {

Runner add_sample(CLI::App& app) {
  struct Opts {
    EngineArgs engine;
    SampleOptions sample;
    std::string model, png, npy, sampler = "ddim";
    std::vector<int> classes;
    int64_t count = 16, columns = 0;
    int scale = 3;
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("MODEL", o->model, "A diffusers DiT pipeline folder (model_index.json, transformer/, scheduler/) or "
                                    "an ArrowQuant folder quantised from one")->required();
  app.add_option("-c,--class", o->classes, "Class label(s) to draw (repeatable; default: every class in turn; "
                                           "the class count = unconditional)");
  app.add_option("-n,--count", o->count, "Images per class given (or in all, when no class is given)")
      ->check(CLI::Range(int64_t(1), int64_t(100000)));
  app.add_option("--steps", o->sample.steps, "Denoising steps")->check(CLI::Range(int64_t(1), int64_t(100000)));
  app.add_option("--sampler", o->sampler, "ddim (deterministic, eta = 0) or ddpm (ancestral)")
      ->check(CLI::IsMember({"ddim", "ddpm"}));
  app.add_option("--guidance", o->sample.guidance, "Classifier-free guidance scale (1 = conditional model alone)")
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--seed", o->sample.seed, "Seed of the starting (and DDPM's per-step) noise: image i of a seed is "
                                           "drawn the same whatever the batch size");
  app.add_option("--batch-size", o->sample.batch_size, "Images per forward pass")->check(CLI::Range(int64_t(1), int64_t(4096)));
  app.add_option("--png", o->png, "Write the images as one PNG grid (a row per class)");
  app.add_option("--columns", o->columns, "Images per PNG row (default: -n)")->check(CLI::Range(int64_t(1), int64_t(1000)));
  app.add_option("--scale", o->scale, "PNG pixels per image pixel")->check(CLI::Range(1, 16));
  app.add_option("--npy", o->npy, "Write the images as float32 [n, C, H, W] in [-1, 1]");
  o->engine.add_to(app, EngineArgs::kImages);
  app.add_flag("-q,--quiet", o->quiet, "No progress on stderr");
  app.footer("Example: arrowquant sample tests/goldens/diffusion/fashion_dit --class 3 -n 16 --steps 50 --seed 1 --png grid.png");
  return [o]() {
    if (o->png.empty() && o->npy.empty()) throw ValueError("nothing to write: give --png FILE and/or --npy FILE");
    o->engine.resolve();
    EngineOptions eo = o->engine.options();
    if (eo.weights == EngineOptions::Weights::Auto) eo.weights = EngineOptions::Weights::Float;
    DiffusionPipeline pipe(o->model, eo);
    o->sample.sampler = o->sampler == "ddpm" ? SamplerKind::Ddpm : SamplerKind::Ddim;
    std::vector<int32_t> labels;
    if (o->classes.empty()) {
      for (int64_t i = 0; i < o->count; ++i) labels.push_back(int32_t(i % pipe.num_classes()));
    } else {
      for (int c : o->classes)
        for (int64_t i = 0; i < o->count; ++i) labels.push_back(c);
    }
    Progress bar("sample");
    if (!o->quiet) o->sample.progress = [&](int64_t d, int64_t n) { bar.completed(size_t(d), size_t(n)); };
    const double t0 = now_seconds();
    const Images images = pipe.sample(labels, o->sample);
    const double secs = now_seconds() - t0;
    bar.finish();
    if (!o->png.empty())
      write_image_grid_png(o->png, images, o->columns ? o->columns : (o->classes.empty() ? images.count : o->count), o->scale);
    if (!o->npy.empty())
      write_text_file(o->npy, npy_bytes_f32({images.count, images.channels, images.height, images.width}, images.values.data()));
    if (!o->quiet) {
      std::string names;
      for (int c : o->classes)
        names += (names.empty() ? "" : ", ") + (c < pipe.num_classes() ? pipe.class_names()[size_t(c)] : "unconditional");
      fprintf(stderr, "%lld images (%s) in %.2f s (%.2f images/s, %lld %s steps, guidance %.2f, %s weights)%s%s\n",
              (long long)images.count, names.empty() ? "every class" : names.c_str(), secs, double(images.count) / secs,
              (long long)o->sample.steps, o->sampler.c_str(), double(o->sample.guidance),
              pipe.packed_weights() ? "packed" : "float", o->png.empty() ? "" : (" -> " + o->png).c_str(),
              o->npy.empty() ? "" : (" -> " + o->npy).c_str());
    }
    return 0;
  };
}

}  // namespace arrowquant::cli
