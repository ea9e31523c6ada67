#include <algorithm>
#include <cstdio>

#include "arrowquant/diffusion.h"
#include "arrowquant/quantization_manager.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/settings_options.h"
#include "util/files.h"
#include "util/units.h"

namespace arrowquant::cli {

namespace {
struct QuantizeArgs {
  std::string model, output, config_file, json_out;
  bool force = false, resume = false, quiet = false;
  QuantConfig defaults;  // what the options show as defaults (the local profile)
  std::shared_ptr<SettingOptions> settings;
};

void print_summary(const QuantizeReport& r, const QuantConfig& cfg) {
  int64_t quantised = 0;
  double worst_cos = 1, sum_rel = 0;
  for (const auto& t : r.tensors)
    if (t.rel_rmse >= 0) { ++quantised; sum_rel += t.rel_rmse; worst_cos = std::min(worst_cos, t.cosine); }
  const auto j = r.to_json();
  printf("quantised %s (%s) -> %s\n", r.source.c_str(), r.source_kind.c_str(), r.output.c_str());
  const QuantFormat* grid = cfg.format_for(cfg.bits);  // names the codebook or half grid too
  printf("  profile %s%s, %d-bit %s, group %lld, embeddings %d-bit, clip %s\n", cfg.profile.c_str(),
         cfg.modality == Modality::Text ? "" : (std::string(" (") + modality_name(cfg.modality) + ")").c_str(), cfg.bits,
         grid ? std::string(grid->name).c_str() : (cfg.symmetric ? "symmetric" : "affine"), (long long)cfg.group_size,
         cfg.embedding_bits, clip_name(cfg.clip).c_str());
  printf("  %zu tensors (%lld quantised), %s, %.3f bits/weight, %.2fx smaller than FP16, %.2f s\n", r.tensors.size(),
         (long long)quantised, human_bytes(double(r.file_bytes)).c_str(), j["bits_per_weight"].get<double>(),
         j.value("compression_vs_fp16", 0.0), r.seconds);
  if (quantised) printf("  weight error: mean relative RMSE %.4f, worst cosine %.5f\n", sum_rel / double(quantised), worst_cos);
  if (r.calibration.is_null()) return;
  int64_t n = 0, better = 0;
  double worst_out = 1;
  for (const auto& t : r.tensors)
    if (t.output_cosine >= 0) {
      ++n;
      worst_out = std::min(worst_out, t.output_cosine);
      if (t.rtn_output_rel_mse >= 0 && t.output_rel_mse <= t.rtn_output_rel_mse) ++better;
    }
  const std::string on = r.calibration.contains("recorded_inputs")
                             ? "recorded input statistics (" + cfg.calibration + ")"
                             : std::to_string(r.calibration.value("tokens", int64_t(0))) + " calibration tokens";
  printf("  method %s on %s: %lld layers, worst layer output cosine %.5f", method_name(cfg.method).c_str(), on.c_str(),
         (long long)n, worst_out);
  if (cfg.method == Method::Gptq) printf(", %lld/%lld at or below RTN's output error", (long long)better, (long long)n);
  printf("\n");
  if (int rb = r.calibration.value("resumed_blocks", 0)) printf("  resumed %d finished blocks from the checkpoint\n", rb);
}
}  // namespace

Runner add_quantize(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  app.add_option("MODEL", a->model,
                 "Model to quantise: a Hugging Face folder (config.json + model.safetensors or a sharded "
                 "index), a .safetensors file, a GGUF (llama, qwen2), a llama2.c .bin checkpoint, a Parquet V1 table, "
                 "or a diffusers DiT pipeline folder")
      ->required();
  app.add_option("-o,--output", a->output, "Output model folder (model.parquet, metadata.json, tokenizer files)")
      ->required();
  // Every setting of QuantConfig, as declared in QuantConfig::visit.
  a->settings = std::make_shared<SettingOptions>(app, [a](SettingVisitor& v) { a->defaults.visit(v); });
  a->settings->option("calibration")->check(calibration_file_or_trajectory());
  app.add_option("--config", a->config_file, "YAML file of settings (the same keys as the flags, e.g. group_size: 64)")
      ->check(CLI::ExistingFile);
  app.add_flag("--force", a->force, "Replace the output folder if it exists");
  app.add_flag("--resume", a->resume,
               "Continue a run that was stopped, from OUTPUT.checkpoint/ (same settings); the result is the "
               "same file an uninterrupted run makes");
  app.add_option("--json", a->json_out, "Also write the per-tensor report as JSON to this file");
  app.add_flag("-q,--quiet", a->quiet, "No progress output");
  app.footer(
      "Settings precedence: defaults < --profile < --config YAML < ARROW_QUANT_* environment variables "
      "(ARROW_QUANT_BITS, ARROW_QUANT_GROUP_SIZE, ...) < flags.\nNorms and biases always stay float; "
      "integer tensors are stored unchanged.");

  return [a]() {
    // The model decides which values a profile gives; a diffusion model we cannot run yet is refused
    // here, before anything is written, rather than quantised as if it were a text model.
    const Modality modality = detect_modality(a->model);
    const QuantConfig cfg =
        resolve_quant_config(a->config_file, quant_env_from_process(), a->settings->given(), modality);
    QuantizationManager mgr(cfg);
    Progress bar("quantize");
    ProgressFn fn = nullptr;
    if (!a->quiet) fn = [&](const ProgressEvent& e) { bar.update(e.index, e.total, e.tensor); };
    LogFn log = [&](const std::string& line) {
      if (!a->quiet) bar.message(line);
    };
    if (cfg.modality != Modality::Text)
      log("profile " + profile_summary(cfg.profile, cfg.modality) + " (then your settings)");
    QuantizeReport r = mgr.quantize(a->model, a->output, a->force, fn, a->resume, log);
    bar.finish();
    print_summary(r, cfg);
    if (!a->json_out.empty()) write_text_file(a->json_out, r.to_json().dump(2) + "\n");
    return 0;
  };
}

}  // namespace arrowquant::cli
