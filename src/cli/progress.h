// Progress for long work: a redrawn bar on a terminal, plain lines when output is a pipe or a log.
#pragma once
#include <string>

namespace arrowquant::cli {

class Progress {
 public:
  explicit Progress(std::string label);
  ~Progress();
  // `done` is the index of the item now starting (shown as done + 1).
  void update(size_t done, size_t total, const std::string& item);
  // `done` of `total` items are finished.
  void completed(size_t done, size_t total);
  void finish();
  // A line of its own (a decision, a notice); the bar is redrawn by the next update.
  void message(const std::string& line);

 private:
  std::string label_;
  bool tty_;
  bool finished_ = false;
  bool used_ = false;  // nothing is printed at the end of work that never reported progress
  double start_;
  double last_print_ = 0;
};

}  // namespace arrowquant::cli
