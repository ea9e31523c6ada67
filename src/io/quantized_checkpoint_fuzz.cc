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
    for (const auto& t : src->tensors())
      aqfuzz::only_our_errors([&] {
        if (arrowquant::dtype_is_float(t.dtype) || t.format) src->read_f32(t.name);
        else src->read_raw(t.name);
        volatile uint32_t sum = 0;
        for (const auto& rows : src->read_packed(t.name)) {
          const auto& v = rows.view;
          const size_t groups = size_t(v.geom.groups_per_row() * v.geom.rows);
          for (size_t i = 0; i < arrowquant::packed_row_bytes(v.geom.cols, v.format->bits) * size_t(v.geom.rows); ++i)
            sum = sum + v.codes[i];
          for (size_t i = 0; i < 2 * groups; ++i) sum = sum + v.scales[i];
          if (v.zero_points)
            for (size_t i = 0; i < groups; ++i) sum = sum + v.zero_points[i];
        }
      });
  });
  return 0;
}
