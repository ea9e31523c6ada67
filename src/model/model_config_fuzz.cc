// Fuzz target: a model's config.json, read as the decoder, the encoder and the DiT read it, and a
// diffusion scheduler_config.json (its timesteps and one step of each sampler); the same JSON as a
// model_index.json and a config.json for the modality check (a refusal or nothing).
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_util.h"
#include "model/bert_encoder.h"
#include "model/diffusion_scheduler.h"
#include "model/dit_transformer.h"
#include "model/llama_decoder.h"
#include "model/modality.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json cfg = nlohmann::json::parse(data, data + size, nullptr, false);
  if (cfg.is_discarded()) return 0;  // not JSON at all: read_json_file refuses it before this
  aqfuzz::only_our_errors([&] {
    if (arrowquant::DecoderConfig::is_decoder(cfg)) arrowquant::DecoderConfig::from_json(cfg, "config.json");
  });
  aqfuzz::only_our_errors([&] { arrowquant::BertConfig::from_json(cfg, "config.json"); });
  aqfuzz::only_our_errors([&] {
    if (arrowquant::DitConfig::is_dit(cfg)) arrowquant::DitConfig::from_json(cfg, "config.json");
  });
  aqfuzz::only_our_errors([&] { arrowquant::refuse_unsupported_diffusion(&cfg, &cfg, "model"); });
  aqfuzz::only_our_errors([&] {
    const auto s = arrowquant::NoiseSchedule::from_json(cfg, "scheduler_config.json");
    for (int64_t n : {int64_t(1), int64_t(7), s.train_steps}) {
      float x[2] = {0.5f, -0.5f}, eps[2] = {0.1f, 0.2f}, noise[2] = {1, -1};
      for (int64_t t : s.timesteps(n)) s.ddim_step(t, n, eps, x, 2), s.ddpm_step(t, n, eps, noise, x, 2);
    }
  });
  return 0;
}
