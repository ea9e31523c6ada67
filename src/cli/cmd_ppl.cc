#include <cstdio>

#include "arrowquant/engine.h"
#include "arrowquant/error.h"
#include "arrowquant/perplexity.h"
#include "util/files.h"
#include "cli/commands.h"
#include "cli/progress.h"

namespace arrowquant::cli {

Runner add_ppl(CLI::App& app) {
  struct Opts {
    std::string activations = "auto", fallback;
    std::string weights = "auto";
    std::string model, file, base, kv = "f32";
    ReportArgs report;
    PerplexityOptions p;
    int64_t kv_block = 0;
    std::string kv_scales = "f32";
    int threads = 0;
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("MODEL", o->model, "Decoder model (any format ArrowQuant reads)")->required();
  app.add_option("-f,--file", o->file, "Text file to score (e.g. ../shared/data/wikitext2/wiki.test.raw)")->required();
  app.add_option("--ctx", o->p.ctx, "Tokens per evaluation window")->check(CLI::Range(2, 1 << 20));
  app.add_option("--stride", o->p.stride,
                 "Slide windows by S tokens and score the last S of each (default 0: llama.cpp's chunks)");
  app.add_option("--chunks", o->p.max_chunks, "Evaluate only the first N windows (0 = all)");
  app.add_option("--kl-base", o->base, "The unquantised model: adds KL divergence, top-1 agreement, perplexity change");
  app.add_option("--kv-cache", o->kv, "KV cache type of MODEL: f32, f16, int8, fp8")
      ->check(CLI::IsMember({"f32", "f16", "int8", "fp8"}));
  app.add_option("--kv-block", o->kv_block, "Elements per KV scale for int8/fp8 (default: one head)");
  app.add_option("--kv-scales", o->kv_scales, "Precision of the int8/fp8 KV scales: f32 (default) or f16")
      ->check(CLI::IsMember({"f32", "f16"}));
  add_weights_option(app, o->weights);
  add_kernel_options(app, o->activations, o->fallback);
  app.add_option("--threads", o->threads, "Threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  add_report_options(app, o->report);
  app.add_flag("-q,--quiet", o->quiet, "No progress on stderr");
  return [o]() {
    std::string text = read_text_file(o->file);
    if (text.empty()) throw ValueError(o->file + ": empty file");
    PerplexityOptions p = o->p;
    p.kv = KVQuantPlan::parse(o->kv, o->kv_block, o->kv_scales == "f16");
    EngineOptions eo = engine_options(o->threads, 0, o->weights, o->activations, o->fallback);
    ArrowEngine model(o->model, eo);
    for (const auto& n : model.kernel_notes()) fprintf(stderr, "note: %s\n", n.c_str());
    std::unique_ptr<ArrowEngine> base;
    if (!o->base.empty()) base = std::make_unique<ArrowEngine>(o->base, eo);
    Progress bar("ppl");
    if (!o->quiet) p.progress = [&](size_t d, size_t n) { bar.completed(d, n); };
    PerplexityReport r = perplexity(model, text, p, base.get());
    bar.finish();
    emit_report(r.to_json(), r.to_markdown(), o->report);
    return 0;
  };
}

}  // namespace arrowquant::cli
