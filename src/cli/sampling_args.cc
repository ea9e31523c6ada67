#include "cli/sampling_args.h"

#include <chrono>

namespace arrowquant::cli {

void SamplingArgs::add_to(CLI::App& app) {
  app.add_option("-n,--max-tokens", g.max_tokens, "Tokens to generate at most")->check(CLI::Range(0, 1 << 20));
  app.add_option("--temperature", g.temperature, "0 = greedy")->check(CLI::Range(0.0, 100.0));
  app.add_option("--top-k", g.top_k, "Keep the K likeliest tokens (0 = all)")->check(CLI::NonNegativeNumber);
  app.add_option("--top-p", g.top_p, "Nucleus: keep the likeliest tokens up to this probability")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", g.seed, "Random seed (default: from the clock, printed on stderr)")
      ->each([this](const std::string&) { seed_given = true; });
  app.add_option("--ctx", g.context, "Context length (default: the model's)")->check(CLI::NonNegativeNumber);
  app.add_option("--stop", stops, "Special token that ends generation (repeatable), e.g. '<|im_end|>'");
  app.add_flag("--ignore-eos", g.ignore_eos, "Do not stop at the end-of-sequence token");
}

GenerateOptions SamplingArgs::resolve(const EngineArgs& engine) const {
  GenerateOptions out = g;
  if (!seed_given) out.seed = uint64_t(std::chrono::high_resolution_clock::now().time_since_epoch().count());
  out.kv = engine.kv();
  out.stop_tokens = stops;
  return out;
}

}  // namespace arrowquant::cli
