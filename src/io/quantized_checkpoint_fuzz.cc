// Fuzz target: a quantised checkpoint folder (io/quantized_checkpoint.h): the input is config.json's
// bytes, a NUL, then model.safetensors' bytes. Opened through open_tensor_source as every command
// does, each tensor read as float32, raw bytes and packed views (whose every byte is touched).
#include <cstring>
#include <filesystem>

#include "arrowquant/tensor_source.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  if (!nul) return 0;
  const std::string dir = aqfuzz::scratch() + "/checkpoint";
  std::filesystem::create_directories(dir);
  aqfuzz::as_file(data, size_t(nul - data), "checkpoint/config.json");
  aqfuzz::as_file(nul + 1, size - size_t(nul + 1 - data), "checkpoint/model.safetensors");
  aqfuzz::only_our_errors([&] {
    auto src = arrowquant::open_tensor_source(dir);
    src->model_config();
    aqfuzz::read_every_tensor(*src);
  });
  return 0;
}
