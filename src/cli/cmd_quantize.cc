#include <algorithm>
#include <cstdio>

#include "arrowquant/quantization_manager.h"
#include "util/files.h"
#include "util/units.h"
#include "cli/commands.h"
#include "cli/progress.h"

namespace arrowquant::cli {

namespace {
struct QuantizeArgs {
  std::string model, output, config_file, json_out;
  std::string profile, method, clip, group_size, calibration;
  int64_t samples = 0, seq_len = 0;
  double damp = 0, min_accuracy = 0, target_bpw = 0, target_size = 0, smooth_alpha = 0;
  bool act_order = false, static_groups = false, resume = false;
  std::string bias_correction, float_targets;
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
  settings.push_back({"method", app.add_option("--method", a->method,
                                               "rtn (round to nearest; default), gptq (error-compensating, needs "
                                               "--calibration), awq (activation-aware scales folded into the previous "
                                               "op), smoothquant (W8A8: int8 weights, int8 activations at run time)")});
  settings.push_back({"calibration", app.add_option("--calibration", a->calibration,
                                                    "Calibration text: .txt (one document per line) or .jsonl "
                                                    "({\"text\": ...} per line)")
                                         ->check(CLI::ExistingFile)->group("Calibration")});
  settings.push_back({"samples", app.add_option("--samples", a->samples, "Calibration sequences (default 128)")
                                     ->group("Calibration")});
  settings.push_back({"seq_len", app.add_option("--seq-len", a->seq_len,
                                                "Tokens per calibration sequence (default: 128 for encoders, 256 "
                                                "for decoders, never more than the model's context)")
                                     ->group("Calibration")});
  settings.push_back({"damp", app.add_option("--damp", a->damp, "GPTQ damping, fraction of the mean Hessian "
                                                                 "diagonal (default 0.01)")->group("Calibration")});
  settings.push_back({"act_order", app.add_flag("--act-order", a->act_order,
                                                "GPTQ: quantise columns by decreasing activation energy (implies "
                                                "--static-groups)")->group("Calibration")});
  settings.push_back({"static_groups", app.add_flag("--static-groups", a->static_groups,
                                                    "GPTQ: group scales from the original weights")->group("Calibration")});
  settings.push_back({"bias_correction", app.add_option("--bias-correction", a->bias_correction,
                                                        "Calibrated runs: move each layer's mean output error "
                                                        "into its bias, when it has one (on|off; default on)")
                                             ->group("Calibration")});
  settings.push_back({"float_targets", app.add_option("--float-targets", a->float_targets,
                                                      "GPTQ: fit each layer to the float model's output on its "
                                                      "float inputs, so it absorbs the error of the layers before "
                                                      "it (on|off; default off: it overfits the calibration text when that differs from what the model later sees)")
                                           ->group("Calibration")});
  settings.push_back({"smooth_alpha", app.add_option("--smooth-alpha", a->smooth_alpha,
                                                     "SmoothQuant migration strength in [0, 1] (default 0.5)")
                                          ->group("Calibration")});
  settings.push_back({"min_accuracy", app.add_option("--min-accuracy", a->min_accuracy,
                                                     "Redo a layer at INT4, then INT8, when its output cosine on the "
                                                     "calibration data falls below this (e.g. 0.99)")
                                          ->group("Calibration")});
  settings.push_back({"target_bpw", app.add_option("--target-bpw", a->target_bpw,
                                                   "Allocate widths (2/3/4/8) per tensor by measured sensitivity to "
                                                   "reach this many bits per weight overall")->group("Calibration")});
  settings.push_back({"target_size", app.add_option("--target-size", a->target_size,
                                                    "The same, to a model.parquet of about this many MB")
                                         ->group("Calibration")});
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
  app.add_flag("--resume", a->resume,
               "Continue a run that was stopped, from OUTPUT.checkpoint/ (same settings); the result is the "
               "same file an uninterrupted run makes");
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
      const bool is_flag = key == "sym" || key == "allow_nonfinite" || key == "act_order" || key == "static_groups";
      flags.push_back({key, is_flag ? "true" : res.back()});
    }
    QuantConfig cfg = resolve_quant_config(a->config_file, quant_env_from_process(), flags);
    QuantizationManager mgr(cfg);
    Progress bar("quantize");
    ProgressFn fn = nullptr;
    if (!a->quiet) fn = [&](const ProgressEvent& e) { bar.update(e.index, e.total, e.tensor); };
    LogFn log = [&](const std::string& line) {
      if (!a->quiet) bar.message(line);
    };
    QuantizeReport r = mgr.quantize(a->model, a->output, a->force, fn, a->resume, log);
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
    if (!r.calibration.is_null()) {
      int64_t n = 0, better = 0;
      double worst_out = 1;
      for (const auto& t : r.tensors)
        if (t.output_cosine >= 0) {
          ++n;
          worst_out = std::min(worst_out, t.output_cosine);
          if (t.rtn_output_rel_mse >= 0 && t.output_rel_mse <= t.rtn_output_rel_mse) ++better;
        }
      printf("  method %s on %lld calibration tokens: %lld layers, worst layer output cosine %.5f", cfg.method.c_str(),
             (long long)r.calibration.value("tokens", int64_t(0)), (long long)n, worst_out);
      if (cfg.method == "gptq") printf(", %lld/%lld at or below RTN's output error", (long long)better, (long long)n);
      printf("\n");
      if (int rb = r.calibration.value("resumed_blocks", 0)) printf("  resumed %d finished blocks from the checkpoint\n", rb);
    }
    if (!a->json_out.empty()) write_text_file(a->json_out, j.dump(2) + "\n");
    return 0;
  };
}

}  // namespace arrowquant::cli
