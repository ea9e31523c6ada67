#include "kernels/cpu_targets.h"

#include <hwy/targets.h>

namespace arrowquant::kernels {

std::vector<std::string> compiled_targets() {
  std::vector<std::string> out;
  for (int64_t t : hwy::SupportedAndGeneratedTargets()) out.push_back(hwy::TargetName(t));
  return out;
}

std::string active_target() {
  // The best target this CPU supports among those compiled in: what HWY_DYNAMIC_DISPATCH picks.
  auto t = hwy::SupportedAndGeneratedTargets();
  return t.empty() ? "scalar" : hwy::TargetName(t.front());
}

std::string cpu_features() {
  std::string s;
  __builtin_cpu_init();
#define AQ_FEATURE(name) \
  if (__builtin_cpu_supports(name)) s += std::string(s.empty() ? "" : " ") + name;
  AQ_FEATURE("sse4.2")
  AQ_FEATURE("avx")
  AQ_FEATURE("avx2")
  AQ_FEATURE("fma")
  AQ_FEATURE("avx512f")
  AQ_FEATURE("avx512bw")
  AQ_FEATURE("avx512vl")
  AQ_FEATURE("avx512vnni")
  AQ_FEATURE("avx512bf16")
#undef AQ_FEATURE
  return s;
}

}  // namespace arrowquant::kernels
