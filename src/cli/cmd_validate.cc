#include <cstdio>

#include "arrowquant/engine.h"
#include "arrowquant/error.h"

#include "arrowquant/validate.h"
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
  o->engine.add_to(app, EngineArgs::kEncoder);
  add_report_options(app, o->report);
  app.add_flag("-q,--quiet", o->quiet, "No progress on stderr");
  app.footer("Both models run on the same token ids. Embedding cosine: per sentence, original vs quantised.\n"
             "Layer cosine: per valid token, after the embeddings and after each encoder layer.\n"
             "STS-B: Spearman correlation of each model's pair cosines with the gold scores.");
  return [o]() {
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
