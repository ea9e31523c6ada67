#include "arrowquant/error.h"
#include "arrowquant/quant_config.h"
#include "arrowquant/quant_format.h"
#include "arrowquant/sensitivity.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "reports/sensitivity_chart.h"
#include "util/clock.h"

namespace arrowquant::cli {

Runner add_analyze(CLI::App& app) {
  struct Args {
    std::string model, widths = int_list_text(format_widths()), group_size, clip, png;
    CalibrationArgs calib;
    ReportArgs report;
    int threads = 0;
    bool sym = false, quiet = false;
  };
  auto a = std::make_shared<Args>();
  app.add_option("MODEL", a->model, "Model to analyse (any input quantize accepts)")->required();
  add_calibration_options(app, a->calib,
                          "adds each layer's output error on real inputs; without it only weight statistics");
  app.add_option("--widths", a->widths, "Code widths to try (default " + a->widths + ")");
  app.add_option("--group-size", a->group_size, "Weights per scale (default 128; 0 = per channel)");
  app.add_flag("--sym", a->sym, "Symmetric codes");
  app.add_option("--clip", a->clip, "minmax or mse (default)");
  app.add_option("--threads", a->threads, "Worker threads (0 = all cores)");
  add_report_options(app, a->report);
  app.add_option("--png", a->png, "Write a chart of error per tensor and width to this PNG file");
  app.add_flag("-q,--quiet", a->quiet, "No progress on stderr");
  app.footer(
      "Ranks every tensor the quantiser would touch (embeddings included; norms and biases stay float) by\n"
      "its error at the narrowest width. Columns: weight entropy (bits, 256-bin histogram), relative\n"
      "weight error, and layer output cosine on the calibration data.");
  return [a]() {
    std::vector<std::pair<std::string, std::string>> flags;
    a->calib.append_to(flags);
    if (!a->group_size.empty()) flags.push_back({"group_size", a->group_size});
    if (a->sym) flags.push_back({"sym", "true"});
    if (!a->clip.empty()) flags.push_back({"clip", a->clip});
    if (a->threads) flags.push_back({"threads", std::to_string(a->threads)});
    QuantConfig cfg = resolve_quant_config("", {}, flags);
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
