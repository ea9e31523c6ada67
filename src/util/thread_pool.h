// parallel_for over one process-wide pool of worker threads.
#pragma once
#include <cstdint>
#include <functional>

namespace arrowquant {

// Runs fn(begin, end) over [0, n) split into contiguous ranges on up to `threads` threads
// (0 = hardware concurrency). Exceptions from workers are rethrown on the caller's thread. A call
// nested inside another runs on the calling thread.
void parallel_for(int64_t n, int threads, const std::function<void(int64_t, int64_t)>& fn);
int default_threads();

}  // namespace arrowquant
