// A progress bar on stderr when it is a terminal; silent otherwise (logs, CI, pipes).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace eff {

class Progress {
 public:
  Progress(std::string label, int64_t total);
  ~Progress();
  void advance(int64_t n = 1);
  void finish();
  static bool enabled();  // stderr is a TTY and EFFECTUAL_NO_PROGRESS is unset

 private:
  void draw(bool force);
  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  bool on_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace eff
