// Fuzz target: a Parquet weights table (V1 or V2: footer, schema, our key-value metadata, every row),
// opened as the runtime opens it (memory-mapped) and then read completely: every tensor dequantised
// or copied, its checksums verified, the metadata the runtime consults read.
#include "arrowquant/weight_loader.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = aqfuzz::as_file(data, size, "model.parquet");
  aqfuzz::only_our_errors([&] {
    auto w = arrowquant::WeightLoader::open(path);
    w->model_config();
    w->calibrated_activations();
    for (const auto& t : w->tensors())
      aqfuzz::only_our_errors([&] {
        if (t.format || arrowquant::dtype_is_float(t.dtype)) w->dequantize(t.name);
        else w->raw_bytes(t.name);
      });
  });
  return 0;
}
