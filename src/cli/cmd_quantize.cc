#include <cstdio>

#include "arrowquant/quantization_manager.h"
#include "arrowquant/util.h"
#include "cli/commands.h"
#include "cli/progress.h"

namespace arrowquant::cli {

namespace {
struct QuantizeArgs {
  std::string model, output, config_file, json_out;
  std::string profile, method, clip, group_size;
  int bits = 0, embedding_bits = 0, threads = 0;
  int64_t chunk_bytes = 0;
  std::vector<std::string> pins;
  bool sym = false, allow_nonfinite = false, force = false, quiet = false;
};
}  // namespace

Runner add_quantize(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  app.add_option("MODEL", a->model,
                 "Model to quantise: a Hugging Face folder (config.json + model.safetensors or a sharded "
                 "index), a .safetensors file, a llama2.c .bin checkpoint, or a Parquet V1 table")
      ->required();
  app.add_option("-o,--output", a->output, "Output model folder (model.parquet, metadata.json, tokenizer files)")
      ->required();
  std::vector<std::pair<std::string, CLI::Option*>> settings;
  settings.push_back({"bits", app.add_option("--bits", a->bits, "Code width of weight matrices: 2, 3, 4 or 8")});
  settings.push_back({"group_size", app.add_option("--group-size", a->group_size,
                                                   "Weights per scale along a row: 32, 64, 128, 256, or 0 / channel "
                                                   "for one scale per output channel")});
  settings.push_back({"sym", app.add_flag("--sym", a->sym, "Symmetric codes (no zero points) instead of affine")});
  settings.push_back({"method", app.add_option("--method", a->method, "Quantisation method (rtn)")});
  settings.push_back({"clip", app.add_option("--clip", a->clip,
                                             "Range per group: minmax, or mse (search the clip that minimises "
                                             "squared error; default)")});
  settings.push_back({"embedding_bits", app.add_option("--embedding-bits", a->embedding_bits,
                                                       "Width for embeddings and LM head (2/3/4/8; 16 or 32 keep them float)")});
  settings.push_back({"pin", app.add_option("--pin", a->pins,
                                            "Pin tensors matching a glob to a width: 'PATTERN=8' or "
                                            "'PATTERN=float' (repeatable; first match wins)")});
  settings.push_back({"profile", app.add_option("--profile", a->profile,
                                                "Preset: edge (2-bit, g64, 4-bit embeddings), local (4-bit, g128, "
                                                "8-bit embeddings; default), cloud (8-bit)")});
  settings.push_back({"threads", app.add_option("--threads", a->threads, "Worker threads (0 = all cores)")});
  settings.push_back({"allow_nonfinite", app.add_flag("--allow-nonfinite", a->allow_nonfinite,
                                                      "Replace NaN/Inf weights by 0 instead of refusing (recorded in metadata)")});
  settings.push_back({"chunk_bytes", app.add_option("--chunk-bytes", a->chunk_bytes,
                                                    "Largest data value per Parquet row; bigger tensors are split by rows")
                                         ->group("Advanced")});
  app.add_option("--config", a->config_file, "YAML file of settings (same keys as the flags, e.g. group_size: 64)")
      ->check(CLI::ExistingFile);
  app.add_flag("--force", a->force, "Replace the output folder if it exists");
  app.add_option("--json", a->json_out, "Also write the per-tensor report as JSON to this file");
  app.add_flag("-q,--quiet", a->quiet, "No progress output");
  app.footer(
      "Settings precedence: defaults < --profile < --config YAML < ARROW_QUANT_* environment variables "
      "(ARROW_QUANT_BITS, ARROW_QUANT_GROUP_SIZE, ...) < flags.\nNorms and biases always stay float; "
      "integer tensors are stored unchanged.");

  return [a, settings]() {
    std::vector<std::pair<std::string, std::string>> flags;
    for (const auto& [key, opt] : settings) {
      if (opt->count() == 0) continue;
      if (key == "pin") { for (const auto& p : a->pins) flags.push_back({"pin", p}); continue; }
      std::vector<std::string> res = opt->results();
      flags.push_back({key, (key == "sym" || key == "allow_nonfinite") ? "true" : res.back()});
    }
    QuantConfig cfg = resolve_quant_config(a->config_file, quant_env_from_process(), flags);
    QuantizationManager mgr(cfg);
    Progress bar("quantize");
    ProgressFn fn = nullptr;
    if (!a->quiet) fn = [&](const ProgressEvent& e) { bar.update(e.index, e.total, e.tensor); };
    QuantizeReport r = mgr.quantize(a->model, a->output, a->force, fn);
    bar.finish();
    int64_t quantised = 0;
    double worst_cos = 1, sum_rel = 0;
    for (const auto& t : r.tensors)
      if (t.rel_rmse >= 0) { ++quantised; sum_rel += t.rel_rmse; worst_cos = std::min(worst_cos, t.cosine); }
    auto j = r.to_json();
    printf("quantised %s (%s) -> %s\n", r.source.c_str(), r.source_kind.c_str(), r.output.c_str());
    printf("  profile %s, %d-bit %s, group %lld, embeddings %d-bit, clip %s\n", cfg.profile.c_str(), cfg.bits,
           cfg.symmetric ? "symmetric" : "affine", (long long)cfg.group_size, cfg.embedding_bits, cfg.clip.c_str());
    printf("  %zu tensors (%lld quantised), %s, %.3f bits/weight, %.2fx smaller than FP16, %.2f s\n",
           r.tensors.size(), (long long)quantised, human_bytes(double(r.file_bytes)).c_str(),
           j["bits_per_weight"].get<double>(), j.value("compression_vs_fp16", 0.0), r.seconds);
    if (quantised)
      printf("  weight error: mean relative RMSE %.4f, worst cosine %.5f\n", sum_rel / double(quantised), worst_cos);
    if (!a->json_out.empty()) write_text_file(a->json_out, j.dump(2) + "\n");
    return 0;
  };
}

}  // namespace arrowquant::cli
