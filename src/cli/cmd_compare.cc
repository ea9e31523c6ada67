#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "arrowquant/compare.h"
#include "arrowquant/error.h"
#include "arrowquant/quant_format.h"
#include "util/files.h"
#include "arrowquant/validate.h"
#include "cli/commands.h"
#include "cli/settings_options.h"
#include "eval/sts.h"

namespace fs = std::filesystem;

namespace arrowquant::cli {

Runner add_compare(CLI::App& app) {
  struct Args {
    std::string model, methods = "rtn,gptq,awq", bits = int_list_text(format_widths()), eval, keep, png;
    QuantConfig defaults;
    std::shared_ptr<SettingOptions> settings;
    ReportArgs report;
    int64_t ctx = 256;
    size_t chunks = 0, max_sentences = 0;
    bool quiet = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("MODEL", a->model, "Original (float) model")->required();
  app.add_option("--methods", a->methods, "Methods to compare (default rtn,gptq,awq; also smoothquant at 8 bits)");
  app.add_option("--bits", a->bits, "Widths to compare (default " + a->bits + ")");
  // The settings shared by every run of the comparison (method and bits vary), declared once in
  // QuantConfig::visit; --calibration is for gptq, awq and smoothquant.
  a->settings = std::make_shared<SettingOptions>(
      app, [a](SettingVisitor& v) { a->defaults.visit(v); },
      std::set<std::string>{"calibration", "samples", "seq_len", "group_size", "sym", "half", "rotation", "clip",
                            "embedding_bits", "act_order", "threads"});
  a->settings->option("calibration")->check(CLI::ExistingFile);
  app.add_option("--eval", a->eval,
                 "Evaluation text: sentences, one per line, for encoders (default: the STS-B sentences); text "
                 "for perplexity and KL for decoders (required)")
      ->check(CLI::ExistingFile);
  app.add_option("--max-sentences", a->max_sentences, "Encoders: use only the first N sentences (0 = all)");
  app.add_option("--ctx", a->ctx, "Decoders: perplexity context (default 256)");
  app.add_option("--chunks", a->chunks, "Decoders: score only the first N chunks (0 = all)");
  app.add_option("--keep", a->keep, "Keep the quantised models in this folder (default: a temporary folder, removed)");
  add_report_options(app, a->report);
  app.add_option("--png", a->png, "Plot quality against bits per weight to this PNG file");
  app.add_flag("-q,--quiet", a->quiet, "No progress on stderr");
  app.footer(
      "Every cell is measured in this run: file size of model.parquet, bits per weight over the whole file,\n"
      "compression and memory saving against FP32 weights, quality against the FP32 model (embedding\n"
      "cosine for encoders; perplexity, KL and top-1 agreement for decoders) and quantisation time.");
  return [a]() {
    CompareOptions o;
    o.base = resolve_quant_config("", {}, a->settings->given());
    std::stringstream ms(a->methods);
    o.methods.clear();
    for (std::string m; std::getline(ms, m, ',');) {
      QuantConfig probe = o.base;
      set_option(probe, "method", m, "--methods");
      if (probe.method == Method::SmoothQuant) probe.bits = 8;
      validate(probe);  // a calibrated method without --calibration: fail now
      o.methods.push_back(probe.method);
    }
    o.bits = parse_int_list(a->bits, "--bits");
    for (int b : o.bits)
      if (!is_format_width(b)) throw ValueError("--bits: " + std::to_string(b) + " is not " + format_widths_text());
    o.threads = o.base.threads;
    o.ctx = a->ctx;
    o.max_chunks = a->chunks;
    o.keep = !a->keep.empty();
    o.workdir = o.keep ? a->keep
                       : (fs::temp_directory_path() / ("arrowquant-compare-" + std::to_string(::getpid()))).string();
    if (!a->eval.empty()) {
      o.eval_text = read_text_file(a->eval);
      o.sentences = read_lines(a->eval, true);
    } else if (std::string stsb = default_stsb_path(); !stsb.empty()) {
      for (const auto& p : read_sts_tsv(stsb)) { o.sentences.push_back(p.a); o.sentences.push_back(p.b); }
    }
    if (a->max_sentences && o.sentences.size() > a->max_sentences) o.sentences.resize(a->max_sentences);
    if (!a->quiet) o.log = [](const std::string& s) { fprintf(stderr, "%s\n", s.c_str()); };
    CompareReport r;
    try {
      r = compare_methods(a->model, o);
    } catch (...) {
      if (!o.keep) { std::error_code ec; fs::remove_all(o.workdir, ec); }
      throw;
    }
    if (!o.keep) { std::error_code ec; fs::remove_all(o.workdir, ec); }
    emit_report(r.to_json(), r.to_markdown(), a->report);
    if (!a->png.empty()) r.write_png(a->png);
    return 0;
  };
}

}  // namespace arrowquant::cli
