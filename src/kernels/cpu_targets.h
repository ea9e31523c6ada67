// What this CPU can run: the SIMD targets Highway compiled in, the one dispatch picks, and the CPU
// feature flags that matter to the kernels.
#pragma once
#include <string>
#include <vector>

namespace arrowquant::kernels {

// The instruction sets compiled in that this CPU supports, best first ("AVX3_DL", "AVX2", ...).
std::vector<std::string> compiled_targets();
std::string active_target();
// CPU features that matter to the kernels, e.g. "avx2 fma f16c avx512f avx512bw avx512vnni".
std::string cpu_features();

}  // namespace arrowquant::kernels
