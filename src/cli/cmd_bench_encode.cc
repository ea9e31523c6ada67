#include <algorithm>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "arrowquant/engine.h"
#include "arrowquant/error.h"
#include "util/files.h"
#include "util/clock.h"
#include "util/units.h"
#include "util/interrupt.h"
#include "util/memory_usage.h"
#include "arrowquant/validate.h"
#include "cli/commands.h"
#include "cli/engine_args.h"
#include "eval/sts.h"

namespace arrowquant::cli {

Runner add_bench_encode(CLI::App& app) {
  struct Opts {
    EngineArgs engine;
    std::vector<std::string> models;
    std::string file, stsb, json_out;
    size_t sentences = 512;
    std::vector<int> batch_sizes{1, 32};
    int repeat = 3;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("MODELS", o->models, "Encoder models; the first is the baseline for the ratios")->required();
  app.add_option("--file", o->file, "Sentences, one per line (default: STS-B test sentences)");
  app.add_option("--stsb", o->stsb, "STS-B TSV to take sentences from (default: ../shared/data/stsb/sts-test.csv)");
  app.add_option("--sentences", o->sentences, "How many sentences to encode per run")->check(CLI::Range(1, 1000000));
  app.add_option("--batch-sizes", o->batch_sizes, "Comma-separated batch sizes")->delimiter(',');
  app.add_option("--repeat", o->repeat, "Timed runs per model and batch size (the best is reported)")
      ->check(CLI::Range(1, 100));
  o->engine.add_to(app, EngineArgs::kEncoder);
  app.add_option("--json", o->json_out, "Also write the results as JSON to this file");
  app.footer("Each model is loaded, warmed up on a few batches, then timed; all models run in this one\n"
             "process so that the ratios compare like with like. Peak RSS growth: from before a model's load\n"
             "to the end of one encode of the sentences at the largest batch size (Linux VmHWM).");
  return [o]() {
    o->engine.resolve();
    std::vector<std::string> texts;
    if (!o->file.empty()) {
      texts = read_lines(o->file, true);
    } else {
      std::string path = o->stsb.empty() ? default_stsb_path() : o->stsb;
      if (path.empty()) throw IoError("no sentences: give --file or --stsb (STS-B not found)");
      for (const auto& p : read_sts_tsv(path)) {
        texts.push_back(p.a);
        texts.push_back(p.b);
      }
    }
    if (texts.empty()) throw ValueError("no sentences to encode");
    if (texts.size() > o->sentences) texts.resize(o->sentences);
    for (int b : o->batch_sizes)
      if (b < 1) throw ValueError("batch sizes must be at least 1");

    // All models are loaded first and timed round-robin, so a slow spell of the machine hits every
    // model alike instead of whichever happened to run then.
    // Peak RSS growth per model: from before its load to the end of one encode of the sentences at the
    // largest batch size (weights, activations, the mapped pages it touched).
    std::vector<std::unique_ptr<ArrowEngine>> engines;
    std::vector<double> load_ms;
    std::vector<int64_t> peak_rss;
    const int largest_batch = *std::max_element(o->batch_sizes.begin(), o->batch_sizes.end());
    for (const auto& m : o->models) {
      PeakResidentMeter meter;
      double t0 = now_seconds();
      engines.push_back(std::make_unique<ArrowEngine>(m, o->engine.options()));
      load_ms.push_back((now_seconds() - t0) * 1e3);
      EncodeOptions eo;
      eo.batch_size = largest_batch;
      engines.back()->encode(texts, eo);
      peak_rss.push_back(meter.growth());
    }
    std::vector<std::vector<double>> best(o->models.size(), std::vector<double>(o->batch_sizes.size(), 1e30));
    for (size_t k = 0; k < o->batch_sizes.size(); ++k) {
      EncodeOptions eo;
      eo.batch_size = o->batch_sizes[k];
      std::vector<std::string> warm(texts.begin(), texts.begin() + std::min(texts.size(), size_t(2 * eo.batch_size)));
      for (auto& e : engines) e->encode(warm, eo);
      for (int r = 0; r < o->repeat; ++r)
        for (size_t m = 0; m < engines.size(); ++m) {
          double s = now_seconds();
          engines[m]->encode(texts, eo);
          best[m][k] = std::min(best[m][k], now_seconds() - s);
          if (interrupt_requested()) throw Interrupted("interrupted");
        }
    }
    nlohmann::json rows = nlohmann::json::array();
    printf("%zu sentences, %s threads, best of %d (models timed round-robin)\n\n", texts.size(),
           o->engine.threads ? std::to_string(o->engine.threads).c_str() : "all", o->repeat);
    printf("| model | weights | size | load (ms) | peak RSS growth |");
    for (int b : o->batch_sizes) printf(" batch %d (sent/s) | ratio |", b);
    printf("\n|---|---|---:|---:|---:|");
    for (size_t i = 0; i < o->batch_sizes.size(); ++i) printf("---:|---:|");
    printf("\n");
    for (size_t m = 0; m < engines.size(); ++m) {
      const uint64_t bytes = model_weight_bytes(o->models[m]);
      nlohmann::json row = {{"model", o->models[m]}, {"weights", engines[m]->weights_kind()}, {"weight_bytes", bytes},
                            {"load_ms", load_ms[m]}, {"peak_rss_growth_bytes", peak_rss[m]},
                            {"results", nlohmann::json::array()}};
      printf("| %s | %s | %s | %.0f | %s |", o->models[m].c_str(), engines[m]->weights_kind().c_str(),
             human_bytes(double(bytes)).c_str(), load_ms[m], peak_rss[m] < 0 ? "?" : human_bytes(double(peak_rss[m])).c_str());
      for (size_t k = 0; k < o->batch_sizes.size(); ++k) {
        const double sps = double(texts.size()) / best[m][k], ratio = best[0][k] / best[m][k];
        printf(" %.1f | %.2f |", sps, ratio);
        row["results"].push_back({{"batch_size", o->batch_sizes[k]}, {"seconds", best[m][k]},
                                  {"sentences_per_second", sps}, {"ratio_to_first", ratio}});
      }
      printf("\n");
      rows.push_back(row);
    }
    if (!o->json_out.empty())
      write_text_file(o->json_out, nlohmann::json{{"sentences", texts.size()}, {"threads", o->engine.threads},
                                                  {"repeat", o->repeat}, {"models", rows}}.dump(2) + "\n");
    return 0;
  };
}

}  // namespace arrowquant::cli
