#include "util/memory_usage.h"

#include <fstream>
#include <string>

namespace arrowquant {

namespace {
int64_t status_field(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(f, line))
    if (line.rfind(k, 0) == 0) {
      try {
        return std::stoll(line.substr(k.size())) * 1024;  // "   1234 kB"
      } catch (...) {
        return -1;
      }
    }
  return -1;
}
}  // namespace

int64_t resident_bytes() { return status_field("VmRSS"); }
int64_t peak_resident_bytes() { return status_field("VmHWM"); }

bool reset_peak_resident() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return bool(f);
}

PeakResidentMeter::PeakResidentMeter() : ok_(reset_peak_resident()), base_(resident_bytes()) {}

int64_t PeakResidentMeter::growth() const {
  const int64_t peak = peak_resident_bytes();
  return ok_ && base_ >= 0 && peak >= 0 ? peak - base_ : -1;
}

}  // namespace arrowquant
