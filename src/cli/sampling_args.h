// The options of every command that samples text (generate, chat), declared once.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "arrowquant/engine.h"
#include "cli/engine_args.h"

namespace arrowquant::cli {

struct SamplingArgs {
  GenerateOptions g;
  bool seed_given = false;
  std::vector<std::string> stops;

  void add_to(CLI::App& app);
  // The options to generate with: the seed from the clock unless one was given, the KV cache and
  // the stop tokens.
  GenerateOptions resolve(const EngineArgs& engine) const;
};

}  // namespace arrowquant::cli
