#include <algorithm>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "arrowquant/engine.h"
#include "arrowquant/error.h"
#include "kernels/kernel_clock.h"
#include "util/files.h"
#include "util/clock.h"
#include "util/units.h"
#include "util/interrupt.h"
#include "util/memory_usage.h"
#include "util/thread_pool.h"
#include "arrowquant/validate.h"
#include "cli/commands.h"
#include "cli/engine_args.h"

namespace arrowquant::cli {

Runner add_bench_decode(CLI::App& app) {
  struct Opts {
    EngineArgs engine;
    std::vector<std::string> models;
    std::string prompt = "Once upon a time", json_out;
    int tokens = 128, repeat = 3;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("MODELS", o->models, "Decoder models; the first is the baseline for the ratios")->required();
  app.add_option("-p,--prompt", o->prompt, "Prompt to decode from");
  app.add_option("-n,--tokens", o->tokens, "Tokens to generate per run (EOS is ignored)")->check(CLI::Range(1, 1 << 20));
  app.add_option("--repeat", o->repeat, "Timed runs per model (the best is reported)")->check(CLI::Range(1, 100));
  o->engine.add_to(app, EngineArgs::kDecoder);
  app.add_option("--json", o->json_out, "Also write the results as JSON to this file");
  app.footer("Greedy decoding of a fixed number of tokens; prefill and decode are timed apart. Models are\n"
             "loaded first and timed round-robin in this one process. Peak RSS growth: from before a model's\n"
             "load to the end of its first generation (Linux VmHWM).");
  return [o]() {
    o->engine.resolve();
    GenerateOptions g;
    g.temperature = 0;
    g.max_tokens = o->tokens;
    g.ignore_eos = true;
    g.kv = o->engine.kv();
    // Peak RSS growth per model: from before its load to the end of one generation (weights, KV cache,
    // activations, the mapped pages it touched).
    std::vector<std::unique_ptr<ArrowEngine>> engines;
    std::vector<double> load_ms;
    std::vector<int64_t> peak_rss;
    for (const auto& m : o->models) {
      PeakResidentMeter meter;
      double t0 = now_seconds();
      engines.push_back(std::make_unique<ArrowEngine>(m, o->engine.options()));
      load_ms.push_back((now_seconds() - t0) * 1e3);
      if (!engines.back()->is_decoder()) throw ValueError(m + " is not a decoder");
      engines.back()->generate(o->prompt, g);
      peak_rss.push_back(meter.growth());
    }
    std::vector<double> best_decode(engines.size(), 1e30), best_prefill(engines.size(), 1e30);
    std::vector<size_t> generated(engines.size()), prompt_len(engines.size());
    for (auto& e : engines) {  // warm-up
      GenerateOptions w = g;
      w.max_tokens = std::min(8, o->tokens);
      e->generate(o->prompt, w);
    }
    for (int r = 0; r < o->repeat; ++r)
      for (size_t m = 0; m < engines.size(); ++m) {
        GenerateResult res = engines[m]->generate(o->prompt, g);
        // the first generated token comes from the prefill; decode time covers the rest
        best_decode[m] = std::min(best_decode[m], res.decode_seconds);
        best_prefill[m] = std::min(best_prefill[m], res.prefill_seconds);
        generated[m] = res.ids.size();
        prompt_len[m] = res.prompt_ids.size();
        if (interrupt_requested()) throw Interrupted("interrupted");
      }
    // One more pass per model with the kernel clock on, read when the first token arrives (the end of
    // the prefill) and at the end. Shares are of wall time in that pass.
    struct Shares {
      double prefill_dequant = 0, prefill_blas = 0, prefill_fused = 0, prefill_unpack = 0, decode_dequant = 0,
             decode_fused = 0;
    };
    std::vector<Shares> shares(engines.size());
    kernels::set_kernel_timing(true);
    for (size_t m = 0; m < engines.size(); ++m) {
      GenerateOptions timed = g;
      kernels::KernelClock ca;
      bool first = true;
      timed.on_token = [&](const std::string&, int32_t) {
        if (first) ca = kernels::kernel_clock(), first = false;
        return true;
      };
      kernels::reset_kernel_clock();
      const GenerateResult b = engines[m]->generate(o->prompt, timed);
      const kernels::KernelClock cb = kernels::kernel_clock();
      const double pw = std::max(b.prefill_seconds, 1e-9), dw = std::max(b.decode_seconds, 1e-9);
      const double threads = o->engine.threads > 0 ? o->engine.threads : default_threads();
      shares[m] = {ca.dequant_seconds / pw, ca.blas_seconds / pw, ca.fused_seconds / pw,
                   ca.unpack_thread_seconds / threads / pw,
                   std::max(0.0, cb.dequant_seconds - ca.dequant_seconds) / dw,
                   std::max(0.0, cb.fused_seconds - ca.fused_seconds) / dw};
    }
    kernels::set_kernel_timing(false);
    printf("greedy, %d tokens, KV cache %s, %s threads, best of %d (models timed round-robin)\n\n", o->tokens,
           g.kv.name().c_str(), o->engine.threads ? std::to_string(o->engine.threads).c_str() : "all", o->repeat);
    printf("| model | weights | size | load (ms) | peak RSS growth | prefill (ms) | decode (tokens/s) | ratio |\n"
           "|---|---|---:|---:|---:|---:|---:|---:|\n");
    nlohmann::json rows = nlohmann::json::array();
    const double base = double(generated[0]) / best_decode[0];
    for (size_t m = 0; m < engines.size(); ++m) {
      const double tps = double(generated[m]) / best_decode[m];
      const uint64_t bytes = model_weight_bytes(o->models[m]);
      printf("| %s | %s | %s | %.0f | %s | %.2f | %.1f | %.2f |\n", o->models[m].c_str(),
             engines[m]->weights_kind().c_str(), human_bytes(double(bytes)).c_str(), load_ms[m],
             peak_rss[m] < 0 ? "?" : human_bytes(double(peak_rss[m])).c_str(), best_prefill[m] * 1e3, tps, tps / base);
      rows.push_back({{"model", o->models[m]}, {"weights", engines[m]->weights_kind()}, {"weight_bytes", bytes},
                      {"load_ms", load_ms[m]}, {"peak_rss_growth_bytes", peak_rss[m]}, {"prompt_tokens", prompt_len[m]}, {"prefill_ms", best_prefill[m] * 1e3},
                      {"generated", generated[m]}, {"decode_tokens_per_second", tps}, {"ratio_to_first", tps / base},
                      {"prefill_share_dequantising", shares[m].prefill_dequant},
                      {"prefill_share_blas_on_tiles", shares[m].prefill_blas},
                      {"prefill_share_fused_products", shares[m].prefill_fused},
                      {"prefill_share_unpacking_in_gemm", shares[m].prefill_unpack},
                      {"decode_share_dequantising", shares[m].decode_dequant},
                      {"decode_share_fused_products", shares[m].decode_fused}});
    }
    printf("\nShare of wall time in the packed-weight kernels (one extra pass per model; float weights "
           "use BLAS only and show 0; unpacking: the int8 GEMM widening packed weights to bytes, part of its "
           "fused time, summed over threads and divided by their count):\n\n| model | prefill: dequantising | "
           "prefill: BLAS on dequantised tiles | prefill: fused | prefill: unpacking in the GEMM | decode: "
           "dequantising | decode: fused products |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t m = 0; m < engines.size(); ++m)
      printf("| %s | %.1f %% | %.1f %% | %.1f %% | %.1f %% | %.1f %% | %.1f %% |\n", o->models[m].c_str(),
             100 * shares[m].prefill_dequant, 100 * shares[m].prefill_blas, 100 * shares[m].prefill_fused,
             100 * shares[m].prefill_unpack, 100 * shares[m].decode_dequant, 100 * shares[m].decode_fused);
    if (!o->json_out.empty())
      write_text_file(o->json_out, nlohmann::json{{"tokens", o->tokens}, {"kv_cache", g.kv.name()},
                                                  {"repeat", o->repeat}, {"models", rows}}.dump(2) + "\n");
    return 0;
  };
}

}  // namespace arrowquant::cli
