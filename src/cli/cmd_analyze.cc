#include "arrowquant/error.h"
#include "arrowquant/quant_config.h"
#include "arrowquant/quant_format.h"
#include "arrowquant/sensitivity.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/settings_options.h"
#include "reports/sensitivity_chart.h"
#include "util/clock.h"

namespace arrowquant::cli {

Runner add_analyze(CLI::App& app) {
  struct Args {
    std::string model, widths = int_list_text(format_widths()), png;
    QuantConfig defaults;
    std::shared_ptr<SettingOptions> settings;
    ReportArgs report;
    bool quiet = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("MODEL", a->model, "Model to analyse (any input quantize accepts)")->required();
  // The quantisation settings analysis depends on, declared once in QuantConfig::visit. With
  // --calibration, each layer's output error on real inputs is measured; without it only weight statistics.
  a->settings = std::make_shared<SettingOptions>(
      app, [a](SettingVisitor& v) { a->defaults.visit(v); },
      std::set<std::string>{"calibration", "samples", "seq_len", "group_size", "sym", "clip", "threads", "time_groups"});
  a->settings->option("calibration")->check(calibration_file_or_trajectory());
  app.add_option("--widths", a->widths, "Code widths to try (default " + a->widths + ")");
  add_report_options(app, a->report);
  app.add_option("--png", a->png, "Write a chart of error per tensor and width to this PNG file");
  app.add_flag("-q,--quiet", a->quiet, "No progress on stderr");
  app.footer(
      "Ranks every tensor the quantiser would touch (embeddings included; norms and biases stay float) by\n"
      "its error at the narrowest width. Columns: weight entropy (bits, 256-bin histogram), relative\n"
      "weight error, and layer output cosine on the calibration data. A diffusion model with --calibration\n"
      "trajectory --time-groups N also gets the model divergence of each tensor per group of timesteps.");
  return [a]() {
    QuantConfig cfg = resolve_quant_config("", {}, a->settings->given());
    cfg.embedding_bits = cfg.bits;  // analyse embeddings too
    const std::vector<int> widths = parse_int_list(a->widths, "--widths");
    const double t0 = now_seconds();
    SensitivityReport r = analyze_sensitivity(a->model, cfg, widths, [&](const std::string& line) {
      if (!a->quiet) fprintf(stderr, "%s\n", line.c_str());
    });
    nlohmann::json j = r.to_json();
    j["seconds"] = now_seconds() - t0;
    std::string md = "## Sensitivity of " + a->model + "\n\n" + r.to_markdown();
    emit_report(j, md, a->report);
    if (!a->png.empty()) {
      write_sensitivity_png(r, a->png);
      if (!a->quiet) fprintf(stderr, "chart written to %s\n", a->png.c_str());
    }
    return 0;
  };
}

}  // namespace arrowquant::cli
