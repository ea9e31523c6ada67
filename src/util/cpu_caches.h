// The machine's cache and memory sizes as read at run time (for benchmarks that must run beyond the
// last-level cache of whatever machine they are on).
#pragma once
#include <cstdint>

namespace arrowquant {

// The largest data or unified cache one CPU can use (sysfs cpu0's highest cache level; sysconf when
// sysfs is missing); 0 when neither says.
int64_t last_level_cache_bytes();
// Physical memory of the machine.
int64_t physical_memory_bytes();

}  // namespace arrowquant
