// Fuzz target: a model's config.json, read as the decoder and the encoder read it.
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_util.h"
#include "model/bert_encoder.h"
#include "model/llama_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json cfg = nlohmann::json::parse(data, data + size, nullptr, false);
  if (cfg.is_discarded()) return 0;  // not JSON at all: read_json_file refuses it before this
  aqfuzz::only_our_errors([&] {
    if (arrowquant::DecoderConfig::is_decoder(cfg)) arrowquant::DecoderConfig::from_json(cfg, "config.json");
  });
  aqfuzz::only_our_errors([&] { arrowquant::BertConfig::from_json(cfg, "config.json"); });
  return 0;
}
