#include <cstdio>

#include "arrowquant/engine.h"
#include "arrowquant/error.h"
#include "arrowquant/perplexity.h"
#include "util/files.h"
#include "cli/commands.h"
#include "cli/engine_args.h"
#include "cli/progress.h"

namespace arrowquant::cli {

Runner add_ppl(CLI::App& app) {
  struct Opts {
    EngineArgs engine;
    std::string model, file, base;
    ReportArgs report;
    PerplexityOptions p;
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
  o->engine.add_to(app, EngineArgs::kDecoder);
  add_report_options(app, o->report);
  app.add_flag("-q,--quiet", o->quiet, "No progress on stderr");
  return [o]() {
    std::string text = read_text_file(o->file);
    if (text.empty()) throw ValueError(o->file + ": empty file");
    PerplexityOptions p = o->p;
    o->engine.resolve();
    p.kv = o->engine.kv();  // the evaluated model's; the base always runs an fp32 cache
    const EngineOptions eo = o->engine.options();
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
