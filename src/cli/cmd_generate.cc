#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "arrowquant/engine.h"
#include "arrowquant/error.h"
#include "util/files.h"
#include "util/units.h"
#include "util/interrupt.h"
#include "cli/commands.h"
#include "cli/engine_args.h"

namespace arrowquant::cli {

Runner add_generate(CLI::App& app) {
  struct Opts {
    EngineArgs engine;
    std::string model, prompt, json_out;
    GenerateOptions g;
    bool seed_given = false, quiet = false;
    std::vector<std::string> stops;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("MODEL", o->model, "Decoder model: HF folder, llama2.c .bin, Parquet V1 or ArrowQuant folder")->required();
  app.add_option("-p,--prompt", o->prompt, "Text to continue")->required();
  app.add_option("-n,--max-tokens", o->g.max_tokens, "Tokens to generate at most")->check(CLI::Range(0, 1 << 20));
  app.add_option("--temperature", o->g.temperature, "0 = greedy")->check(CLI::Range(0.0, 100.0));
  app.add_option("--top-k", o->g.top_k, "Keep the K likeliest tokens (0 = all)")->check(CLI::NonNegativeNumber);
  app.add_option("--top-p", o->g.top_p, "Nucleus: keep the likeliest tokens up to this probability")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", o->g.seed, "Random seed (default: from the clock, printed on stderr)")
      ->each([o](const std::string&) { o->seed_given = true; });
  app.add_option("--ctx", o->g.context, "Context length (default: the model's)")->check(CLI::NonNegativeNumber);
  app.add_option("--stop", o->stops, "Special token that ends generation (repeatable), e.g. '<|im_end|>'");
  app.add_flag("--ignore-eos", o->g.ignore_eos, "Do not stop at the end-of-sequence token");
  o->engine.add_to(app, EngineArgs::kDecoder);
  app.add_option("--json", o->json_out, "Write ids, text and timings as JSON to this file");
  app.add_flag("-q,--quiet", o->quiet, "No timing summary on stderr");
  app.footer("Tokens are printed as they are chosen. Generation ends at EOS, a --stop token, --max-tokens\n"
             "or the end of the context.");
  return [o]() {
    GenerateOptions g = o->g;
    if (!o->seed_given) g.seed = uint64_t(std::chrono::high_resolution_clock::now().time_since_epoch().count());
    o->engine.resolve();
    g.kv = o->engine.kv();
    g.stop_tokens = o->stops;
    ArrowEngine engine(o->model, o->engine.options());
    if (!engine.is_decoder()) throw ValueError(o->model + " is an encoder (" + engine.architecture() + "); use encode");
    for (const auto& n : engine.kernel_notes()) fprintf(stderr, "note: %s\n", n.c_str());
    fputs(o->prompt.c_str(), stdout);
    fflush(stdout);
    g.on_token = [](const std::string& piece, int32_t) {
      fwrite(piece.data(), 1, piece.size(), stdout);
      fflush(stdout);
      return !interrupt_requested();
    };
    GenerateResult r = engine.generate(o->prompt, g);
    printf("\n");
    fflush(stdout);
    if (!o->quiet) {
      fprintf(stderr, "[%zu prompt tokens in %.3f s; %zu generated in %.3f s = %.1f tokens/s; stop: %s; KV cache %s %s; seed %llu]\n",
              r.prompt_ids.size(), r.prefill_seconds, r.ids.size(), r.decode_seconds,
              r.decode_seconds > 0 ? double(r.ids.size()) / r.decode_seconds : 0.0, r.stop_reason.c_str(),
              g.kv.describe().c_str(), human_bytes(double(r.kv_cache_bytes)).c_str(), (unsigned long long)g.seed);
    }
    if (!o->json_out.empty()) {
      nlohmann::json j = {{"model", o->model}, {"prompt", o->prompt}, {"text", r.text}, {"prompt_ids", r.prompt_ids},
                          {"ids", r.ids}, {"prefill_seconds", r.prefill_seconds}, {"decode_seconds", r.decode_seconds},
                          {"kv_cache", g.kv.name()}, {"kv_cache_bytes", r.kv_cache_bytes},
                          {"stop_reason", r.stop_reason}, {"seed", g.seed}};
      write_text_file(o->json_out, j.dump(2) + "\n");
    }
    return 0;
  };
}

}  // namespace arrowquant::cli
