// Fuzz target: calibration text, as .txt and as .jsonl (the first byte chooses).
#include <string>

#include "fuzz/fuzz_util.h"
#include "io/calibration_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool jsonl = data[0] & 1;
  aqfuzz::only_our_errors([&] {
    arrowquant::parse_calibration_documents(std::string(reinterpret_cast<const char*>(data + 1), size - 1), jsonl,
                                            jsonl ? "fuzz.jsonl" : "fuzz.txt");
  });
  return 0;
}
