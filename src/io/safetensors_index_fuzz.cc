// Fuzz target: model.safetensors.index.json (the shard map of a sharded model).
#include <string>

#include "fuzz/fuzz_util.h"
#include "io/safetensors_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  aqfuzz::only_our_errors([&] {
    arrowquant::parse_safetensors_index(std::string(reinterpret_cast<const char*>(data), size), "fuzz.index.json");
  });
  return 0;
}
