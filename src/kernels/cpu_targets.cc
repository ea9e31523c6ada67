#include "kernels/cpu_targets.h"

#include <hwy/targets.h>

#if defined(__x86_64__) && defined(__linux__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#endif

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

#if defined(__x86_64__) && defined(__linux__)
namespace {

constexpr int kArchReqXcompPerm = 0x1023;  // arch_prctl: ask for an XSAVE feature's state
constexpr int kXfeatureXtiledata = 18;

// One tile configured, zeroed and released: the smallest use of AMX that faults where it is off.
__attribute__((target("amx-tile"))) void touch_tiles() {
  alignas(64) unsigned char cfg[64] = {};
  cfg[0] = 1;                            // palette 1
  cfg[16] = 64;                          // tile 0: 64 bytes per row
  cfg[48] = 16;                          // tile 0: 16 rows
  _tile_loadconfig(cfg);
  _tile_zero(0);
  _tile_release();
}

AmxStatus probe_amx() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 25)))
    return {false, "the CPU does not report AMX-TILE and AMX-INT8"};
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return {false, "the OS does not enable XSAVE"};
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & (3u << 17)) != (3u << 17)) return {false, "the OS does not enable AMX tile state (XCR0 bits 17-18)"};
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0)
    return {false, std::string("Linux refuses AMX tile state to this process (arch_prctl: ") + std::strerror(errno) + ")"};
  const pid_t pid = fork();
  if (pid < 0) return {false, std::string("cannot start the probe process: ") + std::strerror(errno)};
  if (pid == 0) {
    touch_tiles();
    _exit(0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {true, ""};
  if (WIFSIGNALED(status))
    return {false, std::string("AMX instructions fault here (") + strsignal(WTERMSIG(status)) +
                       " in the probe process): the CPU reports AMX but the machine does not run it"};
  return {false, "the AMX probe process failed"};
}

}  // namespace

const AmxStatus& amx_int8_status() {
  static const AmxStatus status = probe_amx();
  return status;
}
#else
const AmxStatus& amx_int8_status() {
  static const AmxStatus status{false, "AMX exists only on x86-64 (and is probed on Linux)"};
  return status;
}
#endif

}  // namespace arrowquant::kernels
