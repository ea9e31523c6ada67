// parallel_for over a process-wide pool of workers that live as long as the process: the encoder
// calls it several times per layer, and starting threads each time cost more than the work.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "arrowquant/util.h"

namespace arrowquant {

namespace {

class ThreadPool {
 public:
  explicit ThreadPool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { worker(i); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
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
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &fn;
      n_ = n;
      parts_ = parts;
      pending_ = parts - 1;
      err_ = nullptr;
      ++generation_;
    }
    cv_.notify_all();
    run_part(0);
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return pending_ == 0; });
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
      int part;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        part = index + 1;
        if (part >= parts_) continue;  // this job needs fewer workers
      }
      run_part(part);
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_, done_cv_;
  bool stop_ = false;
  uint64_t generation_ = 0;
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int parts_ = 0, pending_ = 0;
  std::exception_ptr err_;
};

ThreadPool& pool() {
  static ThreadPool p(default_threads() - 1);
  return p;
}

}  // namespace

void parallel_for(int64_t n, int threads, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  int t = threads > 0 ? threads : default_threads();
  t = int(std::min<int64_t>({int64_t(t), n, int64_t(pool().workers() + 1)}));
  if (t <= 1 || !pool().run(n, t, fn)) fn(0, n);
}

}  // namespace arrowquant
