#include <cstdio>

#include "arrowquant/error.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "interop/gguf_export.h"
#include "util/units.h"

namespace arrowquant::cli {

Runner add_export(CLI::App& app) {
  struct Opts {
    std::string model, out, to;
    ReportArgs report;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("MODEL", o->model, "An ArrowQuant model folder (or its model.parquet)")->required();
  app.add_option("-o,--output", o->out, "The file to write (atomically: nothing under this name until it is whole)")
      ->required();
  app.add_option("--to", o->to, "Target format: gguf (compressed-tensors and gptq are not written yet)")
      ->required()
      ->check(CLI::IsMember({"gguf", "compressed-tensors", "gptq"}));
  add_report_options(app, o->report);
  app.footer("GGUF (llama.cpp):\n" + gguf_export_rules() +
             "\n\nThe report lists every tensor: its format here, the ggml type written, and whether the file\n"
             "decodes to exactly our values (else the relative RMSE of the re-encoding).");
  return [o]() {
    if (o->to != "gguf")
      throw ValueError("export --to " + o->to + " is not implemented yet (issue 16); --to gguf is");
    Progress bar("export");
    const GgufExportReport r = export_gguf(o->model, o->out, [&](size_t i, size_t n, const std::string& name) {
      if (i < n) bar.update(i, n, name);
    });
    bar.finish();
    nlohmann::json j = {{"output", o->out}, {"format", "gguf"}, {"architecture", r.architecture},
                        {"bytes", r.file_bytes}, {"tensors", nlohmann::json::array()}};
    size_t exact = 0;
    double worst = 0;
    std::string worst_name;
    std::string md = "| tensor | here | GGUF | exact | rel. RMSE |\n|---|---|---|---|---:|\n";
    for (const auto& t : r.tensors) {
      j["tensors"].push_back({{"name", t.name}, {"gguf_name", t.gguf_name}, {"source", t.source}, {"type", t.type},
                              {"exact", t.exact}, {"rel_rmse", t.rel_rmse}, {"bytes", t.bytes}});
      char line[400];
      snprintf(line, sizeof line, "| %s | %s | %s | %s | %.5f |\n", t.gguf_name.c_str(), t.source.c_str(), t.type.c_str(),
               t.exact ? "yes" : "no", t.rel_rmse);
      md += line;
      exact += t.exact;
      if (t.rel_rmse > worst) worst = t.rel_rmse, worst_name = t.gguf_name;
    }
    char summary[400];
    snprintf(summary, sizeof summary, "\nwrote %s (%s, %s): %zu tensors, %zu exact, %zu re-encoded%s%s\n", o->out.c_str(),
             r.architecture.c_str(), human_bytes(double(r.file_bytes)).c_str(), r.tensors.size(), exact,
             r.tensors.size() - exact, worst > 0 ? ", worst relative RMSE " : "",
             worst > 0 ? (std::to_string(worst) + " (" + worst_name + ")").c_str() : "");
    md += summary;
    j["exact"] = exact;
    emit_report(j, md, o->report);
    return 0;
  };
}

}  // namespace arrowquant::cli
