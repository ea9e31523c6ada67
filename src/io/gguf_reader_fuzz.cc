// Fuzz target: a GGUF file's header, metadata and tensor table, parsed in memory, then opened as a
// model (architecture metadata, Hugging Face names) with every tensor dequantised.

#include "arrowquant/tensor_source.h"
#include "fuzz/fuzz_util.h"
#include "io/gguf_reader.h"
#include "io/gguf_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bool parsed = false;
  aqfuzz::only_our_errors([&] {
    arrowquant::GgufFile g(data, size, "fuzz.gguf");
    g.vocabulary_file();
    parsed = true;
  });
  if (!parsed) return 0;
  const std::string path = aqfuzz::as_file(data, size, "model.gguf");
  aqfuzz::only_our_errors([&] {
    auto src = arrowquant::open_gguf_source(path);
    src->model_config();
    for (const auto& t : src->tensors()) aqfuzz::only_our_errors([&] { src->read_f32(t.name); });
  });
  return 0;
}
