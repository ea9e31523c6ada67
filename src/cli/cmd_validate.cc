#include <cstdio>
#include <filesystem>

#include "arrowquant/engine.h"
#include "arrowquant/error.h"

#include "arrowquant/diffusion.h"
#include "arrowquant/validate.h"
#include "reports/diffusion_report.h"
#include "cli/commands.h"
#include "cli/engine_args.h"
#include "cli/progress.h"
#include "eval/sts.h"

namespace arrowquant::cli {

Runner add_validate(CLI::App& app) {
  struct Opts {
    EngineArgs engine;
    std::string original, quantized, sentences, stsb;
    ReportArgs report;
    bool no_stsb = false, quiet = false;
    size_t max_pairs = 0;
    int batch = 32;
    DiffusionValidateOptions diffusion;
    std::string sampler = "ddim";
  };
  auto o = std::make_shared<Opts>();
  app.add_option("ORIGINAL", o->original, "The unquantised model (folder or file)")->required();
  app.add_option("QUANTIZED", o->quantized, "The quantised model (ArrowQuant folder, Parquet file)")->required();
  app.add_option("--sentences", o->sentences,
                 "Text file, one sentence per line, for the embedding and layer cosines (default: STS-B sentences)");
  auto* stsb = app.add_option("--stsb", o->stsb, "STS Benchmark TSV (default: ../shared/data/stsb/sts-test.csv)");
  app.add_flag("--no-stsb", o->no_stsb, "Skip the STS-B Spearman correlation")->excludes(stsb);
  app.add_option("--max-pairs", o->max_pairs, "Use only the first N STS-B pairs (0 = all)");
  app.add_option("--batch-size", o->batch, "Sentences per forward pass")->check(CLI::Range(1, 4096));
  CLI::App* dif = &app;  // the options below are listed under their own heading
  dif->add_option("--classifier", o->diffusion.classifier,
                  "Classifier folder whose features give the Fréchet distance and whose argmax the class accuracy "
                  "(default: fashion_classifier beside ORIGINAL)")->group("Diffusion models (DiT pipelines)");
  dif->add_option("--samples", o->diffusion.samples, "Images per model, the classes in turn")
      ->check(CLI::Range(int64_t(2), int64_t(1000000)))->group("Diffusion models (DiT pipelines)");
  dif->add_option("--steps", o->diffusion.sample.steps, "Denoising steps")->check(CLI::Range(int64_t(1), int64_t(100000)))->group("Diffusion models (DiT pipelines)");
  dif->add_option("--sampler", o->sampler, "ddim or ddpm")->check(CLI::IsMember({"ddim", "ddpm"}))->group("Diffusion models (DiT pipelines)");
  dif->add_option("--guidance", o->diffusion.sample.guidance, "Classifier-free guidance scale")->check(CLI::Range(0.0, 100.0))->group("Diffusion models (DiT pipelines)");
  dif->add_option("--seed", o->diffusion.sample.seed, "Seed of the starting noise (both models draw the same)")->group("Diffusion models (DiT pipelines)");
  dif->add_option("--trajectory-images", o->diffusion.trajectory_images,
                  "Images whose reference trajectory gives the per-timestep noise error")
      ->check(CLI::Range(int64_t(1), int64_t(100000)))->group("Diffusion models (DiT pipelines)");
  dif->add_option("--png", o->diffusion.png, "Grid of QUANTIZED's first images, a column per class")->group("Diffusion models (DiT pipelines)");
  o->engine.add_to(app, EngineArgs::kEncoder | EngineArgs::kImages);
  add_report_options(app, o->report);
  app.add_flag("-q,--quiet", o->quiet, "No progress on stderr");
  app.footer("Both models run on the same token ids. Embedding cosine: per sentence, original vs quantised.\n"
             "Layer cosine: per valid token, after the embeddings and after each encoder layer.\n"
             "STS-B: Spearman correlation of each model's pair cosines with the gold scores.\n"
             "Diffusion models: both sample the same classes from the same seeds; Fréchet distance of the\n"
             "classifier's features against the real test set, class accuracy, and the guided noise error of\n"
             "QUANTIZED on ORIGINAL's own trajectory at every timestep.");
  return [o]() {
    if (DiffusionPipeline::is_diffusion_model(o->original)) {
      o->engine.resolve();
      EngineOptions eo = o->engine.options();
      if (eo.weights == EngineOptions::Weights::Auto) eo.weights = EngineOptions::Weights::Float;
      EngineOptions as_stored = eo;  // the reference runs as it is: its file has no clips to round to
      as_stored.static_activations = false;
      DiffusionPipeline reference(o->original, as_stored), quantized(o->quantized, eo);
      DiffusionValidateOptions d = o->diffusion;
      d.sample.sampler = o->sampler == "ddpm" ? SamplerKind::Ddpm : SamplerKind::Ddim;
      if (d.classifier.empty()) {
        std::filesystem::path p = std::filesystem::path(o->original).lexically_normal();
        if (!p.has_filename()) p = p.parent_path();  // "model/"
        d.classifier = (p.parent_path() / "fashion_classifier").string();
      }
      Progress bar("validate");
      if (!o->quiet) d.progress = [&](size_t done, size_t n) { bar.completed(done, n); };
      const DiffusionReport r = validate_diffusion(reference, o->original, quantized, o->quantized, d);
      bar.finish();
      emit_report(r.to_json(), r.to_markdown(), o->report);
      return 0;
    }
    ValidateOptions vo;
    vo.batch_size = o->batch;
    if (!o->sentences.empty()) {
      vo.sentences = read_lines(o->sentences, true);
      if (vo.sentences.empty()) throw ValueError(o->sentences + ": no sentences");
    }
    if (!o->no_stsb) {
      vo.stsb_path = o->stsb.empty() ? default_stsb_path() : o->stsb;
      if (vo.stsb_path.empty()) {
        if (vo.sentences.empty())
          throw IoError("no STS-B file found (set --stsb, ARROWQUANT_DATA, or give --sentences with --no-stsb)");
        fprintf(stderr, "note: no STS-B file found; skipping the Spearman correlation\n");
      }
    }
    vo.max_pairs = o->max_pairs;
    o->engine.resolve();
    const EngineOptions eo = o->engine.options();
    ArrowEngine original(o->original, eo);
    ArrowEngine quantized(o->quantized, eo);
    Progress bar("validate");
    if (!o->quiet) vo.progress = [&](size_t d, size_t n) { bar.completed(d, n); };
    ValidateReport r = validate_encoders(original, quantized, vo);
    bar.finish();
    emit_report(r.to_json(), r.to_markdown(), o->report);
    return 0;
  };
}

}  // namespace arrowquant::cli
