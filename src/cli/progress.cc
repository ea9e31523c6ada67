#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

#include "util/clock.h"

namespace arrowquant::cli {

Progress::Progress(std::string label) : label_(std::move(label)), tty_(isatty(STDERR_FILENO)), start_(now_seconds()) {}
Progress::~Progress() { finish(); }

void Progress::update(size_t done, size_t total, const std::string& item) {
  if (finished_) return;
  used_ = true;
  const double el = now_seconds() - start_;
  if (tty_) {
    const int width = 30;
    const int filled = total ? int(double(done) / double(total) * width) : width;
    std::string bar(size_t(filled), '#');
    bar.resize(width, '.');
    std::string shown = item.size() > 40 ? "..." + item.substr(item.size() - 37) : item;
    fprintf(stderr, "\r%s [%s] %zu/%zu %5.1fs %-40s", label_.c_str(), bar.c_str(), done, total, el, shown.c_str());
    fflush(stderr);
  } else if (done == 0 || el - last_print_ >= 1.0) {
    // Logs get a line a second at most, so long runs stay readable.
    last_print_ = el;
    fprintf(stderr, "%s %zu/%zu (%.1fs) %s\n", label_.c_str(), done + 1, total, el, item.c_str());
  }
}

void Progress::message(const std::string& line) {
  if (tty_ && used_ && !finished_) fprintf(stderr, "\r\033[K");
  fprintf(stderr, "%s\n", line.c_str());
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!used_) return;
  if (tty_) fprintf(stderr, "\n");
  else fprintf(stderr, "%s done (%.1fs)\n", label_.c_str(), now_seconds() - start_);
}

void Progress::completed(size_t done, size_t total) {
  // update() numbers the item being started; here `done` items are finished.
  update(done == 0 ? 0 : done - 1, total, done == total ? "" : "…");
}

}  // namespace arrowquant::cli
