// parallel_for: every index exactly once whatever n and the thread count, worker exceptions on the
// caller, nested calls inline, and two callers at once (the pool runs one job; the other runs inline).
#include "util/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace arrowquant;

TEST(ThreadPool, EveryIndexExactlyOnce) {
  for (int64_t n : {1, 2, 3, 7, 64, 1000, 100003})
    for (int threads : {0, 1, 2, 3, 16}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      parallel_for(n, threads, [&](int64_t b, int64_t e) {
        ASSERT_LE(b, e);
        for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "n " << n << " threads " << threads;
    }
  int calls = 0;
  parallel_for(0, 2, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);  // nothing to do: fn is never called
  EXPECT_GE(default_threads(), 1);
}

TEST(ThreadPool, WorkerExceptionsReachTheCaller) {
  for (int round = 0; round < 20; ++round)
    EXPECT_THROW(parallel_for(1000, 2, [](int64_t b, int64_t) {
                   if (b > 0) throw std::runtime_error("worker");  // the part not on the caller's thread
                 }),
                 std::runtime_error);
  // The pool is still usable afterwards.
  std::atomic<int64_t> sum{0};
  parallel_for(100, 2, [&](int64_t b, int64_t e) { sum += e - b; });
  EXPECT_EQ(sum.load(), 100);
}

TEST(ThreadPool, NestedAndConcurrentCallersComplete) {
  std::atomic<int64_t> inner{0};
  parallel_for(8, 2, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) parallel_for(10, 2, [&](int64_t x, int64_t y) { inner += y - x; });
  });
  EXPECT_EQ(inner.load(), 80);
  std::atomic<int64_t> total{0};
  auto job = [&] {
    for (int k = 0; k < 200; ++k) parallel_for(50, 2, [&](int64_t b, int64_t e) { total += e - b; });
  };
  std::thread a(job), b(job);
  a.join();
  b.join();
  EXPECT_EQ(total.load(), 2 * 200 * 50);
}
