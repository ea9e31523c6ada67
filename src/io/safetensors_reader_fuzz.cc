// Fuzz target: a safetensors file (header length, JSON header, data), parsed in memory; every tensor
// it accepts is read whole, so a view outside the buffer shows up under ASan.
#include <vector>

#include "arrowquant/dtype.h"
#include "fuzz/fuzz_util.h"
#include "io/safetensors_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  aqfuzz::only_our_errors([&] {
    const auto c = arrowquant::parse_safetensors(data, size, "fuzz.safetensors");
    for (const auto& t : c.tensors) {
      if (!arrowquant::dtype_is_float(t.dtype)) continue;
      std::vector<float> v(t.nbytes / arrowquant::dtype_size(t.dtype));
      arrowquant::convert_to_f32(t.dtype, t.data, v.size(), v.data());
    }
  });
  return 0;
}
