#include "cli/engine_args.h"

#include <cmath>

namespace arrowquant::cli {

namespace {
constexpr EnumOption kKvNames[] = {{int(KVDType::F32), "f32"},
                                   {int(KVDType::F16), "f16"},
                                   {int(KVDType::Int8), "int8"},
                                   {int(KVDType::Fp8E4M3), "fp8"}};
constexpr EnumOption kFallbackNames[] = {{int(EngineOptions::Activations::Auto), "none"},
                                         {int(EngineOptions::Activations::F32), "f32"},
                                         {int(EngineOptions::Activations::Int8), "int8"}};
constexpr EnumOption kScaleNames[] = {{0, "f32"}, {1, "f16"}};
}  // namespace

void EngineArgs::visit(SettingVisitor& v, unsigned uses) {
  v.visit(threads, {"threads", "Threads (0 = all cores)", {}, 0, 4096});
  visit_enum(v, weights, kWeightsNames,
             {"weights", "Quantised weights: packed (fused kernels on the mapped file), packed-copy (the same, copied "
                         "at load into huge-page memory: faster decode, slower load, more memory), float (dequantised "
                         "at load) or auto (packed with int8 activations for encoders, float for small decoders, packed "
                         "otherwise)"});
  if (uses & (kDecoder | kImages)) {
    visit_enum(v, activations, kActivationsNames,
               {"activations", "Activations of the packed products: f32, int8, or auto (int8 wherever packed weights "
                               "have an int8 kernel, else f32; SmoothQuant models always int8). More than 8 tokens "
                               "at once (prefill, perplexity): int8 runs the int8 GEMM on the packed weights, f32 "
                               "dequantised tiles and sgemm"});
    visit_enum(v, kernel_fallback, kFallbackNames,
               {"kernel_fallback", "Activation type to use for weights that have no kernel for --activations (none: "
                                   "refuse such a model)"});
  }
  if (uses & kImages)
    v.visit(static_activations, {"static_activations", "Round each block Linear's input to the static int8 clip the "
                                                       "file stores for its timestep's group (a model quantised with "
                                                       "--time-groups; products on float activations: simulates "
                                                       "static-int8 hardware)", {}, -HUGE_VAL, HUGE_VAL, true});
  if (uses & kDecoder) {
    visit_enum(v, kv_cache, kKvNames, {"kv_cache", "KV cache type: f32, f16, int8, fp8 (E4M3)"});
    v.visit(kv_block, {"kv_block", "Elements per KV scale for int8/fp8 (0 = one head)", {}, 0, 1 << 20});
    int scales = kv_fp16_scales;
    v.visit_enum(scales, kScaleNames, {"kv_scales", "Precision of the int8/fp8 KV scales: f32 or f16"});
    kv_fp16_scales = scales != 0;
  }
  if (uses & kEncoder)
    v.visit(max_length, {"max_length", "Truncate at this many tokens (0 = the model's own)", {}, 0, 1 << 20});
}

void EngineArgs::add_to(CLI::App& app, unsigned uses) {
  uses_ = uses;
  options_ = std::make_shared<SettingOptions>(app, [this, uses](SettingVisitor& v) { visit(v, uses); });
}

void EngineArgs::resolve() {
  if (!options_) return;
  const VisitSettings visit = [this](SettingVisitor& v) { this->visit(v, uses_); };
  for (const auto& [k, text] : options_->given()) set_setting(visit, k, text, flag_for(k));
}

EngineOptions EngineArgs::options() const {
  EngineOptions o;
  o.threads = threads;
  o.max_length = size_t(max_length);
  o.weights = weights;
  o.activations = activations;
  o.kernel_fallback = kernel_fallback;
  o.static_activations = static_activations;
  return o;
}

KVQuantPlan EngineArgs::kv() const {
  KVQuantPlan p;
  p.dtype = kv_cache;
  p.block_size = kv_block;
  p.fp16_scales = kv_fp16_scales;
  return p;
}

}  // namespace arrowquant::cli
