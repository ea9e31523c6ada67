#include "util/cpu_caches.h"

#include <unistd.h>

#include <fstream>
#include <string>

namespace arrowquant {

namespace {
// "32768K" / "1M" / "512" as bytes; 0 when unreadable.
int64_t parse_cache_size(const std::string& s) {
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(s, &used);
  } catch (...) {
    return 0;
  }
  const char unit = used < s.size() ? s[used] : ' ';
  return unit == 'K' ? v << 10 : unit == 'M' ? v << 20 : unit == 'G' ? v << 30 : v;
}
}  // namespace

int64_t last_level_cache_bytes() {
  // sysfs describes what cpu0 itself can use; glibc's sysconf on some AMD parts adds up every CCD's
  // L3 (320 MB reported for a 32 MB-per-CCD Zen 4), which no one core can hold.
  int best_level = 0;
  int64_t best = 0;
  for (int i = 0; i < 16; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::ifstream level(dir + "level"), type(dir + "type"), size(dir + "size");
    int l = 0;
    std::string t, sz;
    if (!(level >> l) || !(type >> t) || !(size >> sz)) break;
    if (t == "Instruction") continue;
    if (l > best_level) best_level = l, best = parse_cache_size(sz);
  }
  if (best > 0) return best;
  for (int name : {_SC_LEVEL3_CACHE_SIZE, _SC_LEVEL2_CACHE_SIZE}) {
    const long v = sysconf(name);
    if (v > 0) return v;
  }
  return 0;
}

int64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? int64_t(pages) * page : 0;
}

}  // namespace arrowquant
