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

// Whether AMX-INT8 tiles can run here. A CPUID flag is not proof: the OS must enable tile state
// (XCR0), Linux must grant it to the process (arch_prctl), and a hypervisor may still fault on the
// instructions (seen on an Intel VM whose cpuinfo lists AMX). The last is tried in a child process,
// once, so that a SIGILL there cannot take this process down.
struct AmxStatus {
  bool usable = false;
  std::string reason;  // why not, when not usable
};
const AmxStatus& amx_int8_status();

}  // namespace arrowquant::kernels
