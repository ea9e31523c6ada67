// Resident memory of this process (Linux /proc), for benchmarks that report what a model costs in RAM.
#pragma once
#include <cstdint>

namespace arrowquant {

// VmRSS and VmHWM of /proc/self/status in bytes; -1 where unreadable.
int64_t resident_bytes();
int64_t peak_resident_bytes();
// Resets the peak (VmHWM) to the current RSS (writes 5 to /proc/self/clear_refs); false when the
// kernel refuses.
bool reset_peak_resident();

// Peak RSS growth over a scope: the peak is reset at construction, and growth() is the peak since
// then minus the RSS then (-1 when the peak could not be reset or read).
class PeakResidentMeter {
 public:
  PeakResidentMeter();
  int64_t growth() const;

 private:
  bool ok_;
  int64_t base_;
};

}  // namespace arrowquant
