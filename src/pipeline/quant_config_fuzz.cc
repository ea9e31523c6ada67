// Fuzz target: a YAML settings file (--config), applied as quantize applies it: every pair set,
// the result validated and written as JSON.
#include <string>

#include "arrowquant/quant_config.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  aqfuzz::only_our_errors([&] {
    const auto pairs = arrowquant::parse_settings_yaml(std::string(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
    arrowquant::QuantConfig c;
    for (const auto& [k, v] : pairs) arrowquant::set_option(c, k, v, "fuzz.yaml");
    arrowquant::validate(c);
    c.to_json();
  });
  return 0;
}
