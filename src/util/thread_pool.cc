// parallel_for over a process-wide pool of workers that live as long as the process: the encoder
// calls it several times per layer, and starting threads each time cost more than the work.
//
// Decode calls it ~170 times per token for products of 20–300 µs each. Waking a sleeping thread
// through a condition variable took ~100 µs on this VM, more than a small product, so workers (and
// the caller waiting for them) spin on an atomic for a short while before they sleep: back-to-back
// calls never sleep, an idle process does after ~0.2 ms.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "util/thread_pool.h"

namespace arrowquant {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();  // lets a sibling hyperthread run while this one waits
#else
  std::this_thread::yield();
#endif
}

// Spins until ready() or about `budget` has passed; true when ready() held.
template <class Pred>
bool spin_until(Pred ready, std::chrono::microseconds budget) {
  const auto end = std::chrono::steady_clock::now() + budget;
  for (int i = 0;; ++i) {
    if (ready()) return true;
    cpu_relax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > end) return ready();
  }
}

constexpr std::chrono::microseconds kSpin(200);

class ThreadPool {
 public:
  explicit ThreadPool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { worker(i); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  int workers() const { return int(threads_.size()); }

  // Runs fn over [0, n) in `parts` contiguous ranges; the caller runs part 0. Returns false (and does
  // nothing) when the pool is already busy, e.g. for a parallel_for nested inside another.
  bool run(int64_t n, int parts, const std::function<void(int64_t, int64_t)>& fn) {
    std::unique_lock<std::mutex> busy(run_mu_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    fn_ = &fn;  // published to the workers by the release store of job_
    n_ = n;
    parts_ = parts;
    err_ = nullptr;
    pending_.store(parts - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu_);  // a worker about to sleep cannot miss the new job
      const uint64_t generation = (job_.load(std::memory_order_relaxed) >> 8) + 1;
      job_.store(generation << 8 | uint64_t(parts), std::memory_order_release);
    }
    cv_.notify_all();
    run_part(0);
    auto done = [&] { return pending_.load(std::memory_order_acquire) == 0; };
    if (!spin_until(done, kSpin)) {
      std::unique_lock<std::mutex> lock(mu_);
      done_cv_.wait(lock, done);
    }
    fn_ = nullptr;
    if (err_) std::rethrow_exception(err_);
    return true;
  }

 private:
  void run_part(int part) {
    const int64_t b = n_ * part / parts_, e = n_ * (part + 1) / parts_;
    try {
      if (b < e) (*fn_)(b, e);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!err_) err_ = std::current_exception();
    }
  }

  void worker(int index) {
    uint64_t seen = 0;
    for (;;) {
      auto job = [&] { return stop_.load() || (job_.load(std::memory_order_acquire) >> 8) != seen; };
      if (!spin_until(job, kSpin)) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, job);
      }
      if (stop_.load()) return;
      // generation and part count in one word: a worker left out of a job never reads the other
      // fields, which the next job may already be rewriting
      const uint64_t j = job_.load(std::memory_order_acquire);
      seen = j >> 8;
      const int part = index + 1;
      if (part >= int(j & 0xFF)) continue;  // this job needs fewer workers
      run_part(part);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mu_);  // the caller may be between its check and its wait
        done_cv_.notify_one();
      }
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_, done_cv_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> job_{0};  // generation << 8 | parts
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int parts_ = 0;
  std::atomic<int> pending_{0};
  std::exception_ptr err_;
};

ThreadPool& pool() {
  static ThreadPool p(std::min(default_threads(), 255) - 1);  // parts fit the 8 bits of job_
  return p;
}

}  // namespace

int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? int(n) : 1;
}

void parallel_for(int64_t n, int threads, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  int t = threads > 0 ? threads : default_threads();
  t = int(std::min<int64_t>({int64_t(t), n, int64_t(pool().workers() + 1)}));
  if (t <= 1 || !pool().run(n, t, fn)) fn(0, n);
}

}  // namespace arrowquant
