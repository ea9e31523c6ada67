// Fuzz target: a GGUF file's header and metadata, parsed in memory.
#include "fuzz/fuzz_util.h"
#include "io/gguf_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  aqfuzz::only_our_errors([&] { arrowquant::GgufFile g(data, size, "fuzz.gguf"); });
  return 0;
}
