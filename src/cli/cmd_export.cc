#include <cstdio>

#include "arrowquant/error.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "interop/gguf_export.h"
#include "interop/hf_export.h"
#include "util/units.h"

namespace arrowquant::cli {

namespace {

struct ExportOpts {
  std::string model, out, to;
  double max_shard_gb = double(kDefaultMaxShardBytes) / double(1 << 30);
  ReportArgs report;
};

int export_to_hf(const ExportOpts& o, HfTarget target) {
  const char* name = target == HfTarget::Gptq ? "GPTQ" : "compressed-tensors";
  Progress bar("export");
  const HfExportReport r = export_hf_quantized(o.model, o.out, target, size_t(o.max_shard_gb * double(1 << 30)),
                                               [&](size_t i, size_t n, const std::string& t) {
                                                 if (i < n) bar.update(i, n, t);
                                               });
  bar.finish();
  nlohmann::json j = {{"output", o.out}, {"format", o.to},    {"bytes", r.file_bytes},
                      {"schemes", r.schemes}, {"files", r.files}, {"dense_linears", r.ignore},
                      {"tensors", nlohmann::json::array()}};
  std::string md = "| tensor | here | written | exact | rel. RMSE |\n|---|---|---|---|---:|\n";
  size_t exact = 0;
  for (const auto& t : r.tensors) {
    j["tensors"].push_back({{"name", t.name}, {"source", t.source}, {"written", t.written}, {"exact", t.exact},
                            {"rel_rmse", t.rel_rmse}});
    char line[400];
    snprintf(line, sizeof line, "| %s | %s | %s | %s | %.5f |\n", t.name.c_str(), t.source.c_str(), t.written.c_str(),
             t.exact ? "yes" : "no", t.rel_rmse);
    md += line;
    exact += t.exact;
  }
  char summary[400];
  snprintf(summary, sizeof summary, "\nwrote %s (%s, %s in %zu file%s): %zu tensors, %zu exact, %d weight scheme%s\n",
           o.out.c_str(), name, human_bytes(double(r.file_bytes)).c_str(), r.files.size(), r.files.size() == 1 ? "" : "s",
           r.tensors.size(), exact, r.schemes, r.schemes == 1 ? "" : "s");
  md += summary;
  emit_report(j, md, o.report);
  return 0;
}

}  // namespace

Runner add_export(CLI::App& app) {
  using Opts = ExportOpts;
  auto o = std::make_shared<Opts>();
  app.add_option("MODEL", o->model, "An ArrowQuant model folder (or its model.parquet)")->required();
  app.add_option("-o,--output", o->out,
                 "What to write: a .gguf file, or a new folder for compressed-tensors and GPTQ (atomically: "
                 "nothing under this name until it is whole)")
      ->required();
  app.add_option("--to", o->to, "Target format: gguf (llama.cpp), compressed-tensors (transformers, vLLM) or gptq")
      ->required()
      ->check(CLI::IsMember({"gguf", "compressed-tensors", "gptq"}));
  app.add_option("--max-shard-size", o->max_shard_gb,
                 "compressed-tensors and GPTQ: largest safetensors file in GiB; beyond it the weights are sharded "
                 "with a model.safetensors.index.json, as transformers writes them")
      ->check(CLI::PositiveNumber);
  add_report_options(app, o->report);
  app.footer("GGUF (llama.cpp):\n" + gguf_export_rules() + "\n\n" + hf_export_rules(HfTarget::CompressedTensors) +
             "\n\n" + hf_export_rules(HfTarget::Gptq) +
             "\n\nThe report lists every tensor: its format here, the ggml type written, and whether the file\n"
             "decodes to exactly our values (else the relative RMSE of the re-encoding).");
  return [o]() {
    if (o->to == "gptq") return export_to_hf(*o, HfTarget::Gptq);
    if (o->to == "compressed-tensors") return export_to_hf(*o, HfTarget::CompressedTensors);
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
