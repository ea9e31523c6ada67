// The options of every command that runs a model, declared once (arrowquant/settings.h): threads,
// how quantised weights run, activations, kernel fallback, the KV cache and the encoder's length.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>

#include "arrowquant/engine.h"
#include "arrowquant/kv_quant_plan.h"
#include "cli/settings_options.h"

namespace arrowquant::cli {

struct EngineArgs {
  enum Uses : unsigned { kCommon = 0, kDecoder = 1, kEncoder = 2, kImages = 4 };

  int threads = 0;
  EngineOptions::Weights weights = EngineOptions::Weights::Auto;
  EngineOptions::Activations activations = EngineOptions::Activations::Auto;
  bool static_activations = false;
  EngineOptions::Activations kernel_fallback = EngineOptions::Activations::Auto;
  KVDType kv_cache = KVDType::F32;
  int64_t kv_block = 0;
  bool kv_fp16_scales = false;
  int64_t max_length = 0;

  // The settings a command with these uses offers (kCommon: threads and --weights).
  void visit(SettingVisitor& v, unsigned uses);
  // Registers them on `app`; call resolve() when the command runs.
  void add_to(CLI::App& app, unsigned uses);
  void resolve();  // applies what was typed; ValueError for bad values
  EngineOptions options() const;
  KVQuantPlan kv() const;

 private:
  unsigned uses_ = kCommon;
  std::shared_ptr<SettingOptions> options_;
};

}  // namespace arrowquant::cli
