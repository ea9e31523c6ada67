// Progress for long work: a redrawn bar on a terminal, plain lines when output is a pipe or a log.
#pragma once
#include <string>

namespace arrowquant::cli {

class Progress {
 public:
  explicit Progress(std::string label);
  ~Progress();
  void update(size_t done, size_t total, const std::string& item);
  void finish();

 private:
  std::string label_;
  bool tty_;
  bool finished_ = false;
  double start_;
  double last_print_ = 0;
};

}  // namespace arrowquant::cli
