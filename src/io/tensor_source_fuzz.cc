// Fuzz target: any single weights file (the format is detected from its first bytes: a llama2.c
// checkpoint, safetensors, GGUF or Parquet), opened through open_tensor_source as quantize and the
// engine do, every tensor read as float32 or raw bytes, and as packed views (every byte touched).
#include "arrowquant/tensor_source.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = aqfuzz::as_file(data, size, "model.bin");
  aqfuzz::only_our_errors([&] {
    auto src = arrowquant::open_tensor_source(path);
    src->model_config();
    aqfuzz::read_every_tensor(*src);
  });
  return 0;
}
