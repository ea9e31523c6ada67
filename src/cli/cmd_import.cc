#include <cstdio>

#include "cli/commands.h"
#include "cli/progress.h"
#include "interop/checkpoint_import.h"
#include "util/units.h"

namespace arrowquant::cli {

Runner add_import(CLI::App& app) {
  struct Opts {
    std::string checkpoint, out;
    ReportArgs report;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("CHECKPOINT", o->checkpoint,
                 "A quantised Hugging Face folder — compressed-tensors (pack-quantized, int-quantized, float-quantized "
                 "FP8), GPTQ (v1, v2), AWQ (GEMM) or AngelSlim w4a8_awq (int4 pairs and FP8 blocks), told from its "
                 "config.json — or a GGUF file (Q4_0, Q5_0, Q8_0 and AngelSlim's Q2_0C tensors kept), or a float "
                 "model holding AngelSlim's fake-quantised SEQ 2-bit weights (found in the values)")
      ->required();
  app.add_option("-o,--output", o->out, "A new model folder (atomically: nothing under this name until it is whole)")
      ->required();
  add_report_options(app, o->report);
  app.footer(
      "Every quantised Linear is stored in the format of our table that holds it exactly (int2/3/4/8, symmetric\n"
      "or affine, its group size; FP8 E4M3 with its per-tensor, per-channel or block scales), its codes, scales and zero points copied, not requantised; the rest as the\n"
      "checkpoint stores it. GPTQ act-order tensors (g_idx not i / group) and GGUF types other than Q4_0, Q5_0,\n"
      "Q8_0 and Q2_0C (Q4_1, K-quants) have no exact form here: they are stored dequantised, and the report says so\n"
      "(quantise such a GGUF with `arrowquant quantize` instead). The checkpoint also runs as it is: `arrowquant ppl\n"
      "CHECKPOINT ...` reads it directly, packed.");
  return [o]() {
    Progress bar("import");
    const ImportReport r = import_checkpoint(o->checkpoint, o->out, [&](size_t i, size_t n, const std::string& t) {
      if (i < n) bar.update(i, n, t);
    });
    bar.finish();
    nlohmann::json j = {{"output", o->out}, {"source_kind", r.source_kind}, {"source_bytes", r.source_bytes},
                        {"bytes", r.file_bytes}, {"max_snap_difference", r.max_snap_difference},
                        {"tensors", nlohmann::json::array()}};
    std::string md = "| tensor | in the checkpoint | stored here | packed |\n|---|---|---|---|\n";
    size_t packed = 0, dequantised = 0;
    for (const auto& t : r.tensors) {
      j["tensors"].push_back({{"name", t.name}, {"source", t.source}, {"stored", t.stored}, {"packed", t.packed},
                              {"dequantised", t.dequantised}});
      md += "| " + t.name + " | " + t.source + " | " + t.stored + " | " + (t.packed ? "yes" : "no") + " |\n";
      packed += t.packed;
      dequantised += t.dequantised;
    }
    char summary[400];
    snprintf(summary, sizeof summary, "\nimported %s (%s, %s) into %s (%s): %zu tensors, %zu kept packed, %zu dequantised\n",
             o->checkpoint.c_str(), r.source_kind.c_str(), human_bytes(double(r.source_bytes)).c_str(), o->out.c_str(),
             human_bytes(double(r.file_bytes)).c_str(), r.tensors.size(), packed, dequantised);
    md += summary;
    emit_report(j, md, o->report);
    return 0;
  };
}

}  // namespace arrowquant::cli
