// Fuzz target: a recording of input statistics (pipeline/recorded_inputs.h), the safetensors file
// `quantize --calibration FILE.safetensors` reads: every square tensor in it checked as a Hessian.
#include "fuzz/fuzz_util.h"
#include "pipeline/recorded_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = aqfuzz::as_file(data, size, "recording.safetensors");
  aqfuzz::only_our_errors([&] {
    auto rec = arrowquant::open_tensor_source(path);
    for (const auto& t : rec->tensors())
      aqfuzz::only_our_errors([&] {
        const int64_t in = t.shape.empty() ? 0 : t.shape[0];
        if (in > 0 && in <= 4096) arrowquant::read_recorded_hessian(*rec, t.name, in, path);
      });
  });
  return 0;
}
