#include "core/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace eff {

bool Progress::enabled() {
  return isatty(STDERR_FILENO) && std::getenv("EFFECTUAL_NO_PROGRESS") == nullptr;
}

Progress::Progress(std::string label, int64_t total)
    : label_(std::move(label)), total_(total), on_(enabled()), start_(std::chrono::steady_clock::now()) {
  last_draw_ = start_;
}

Progress::~Progress() {
  finish();
}

void Progress::advance(int64_t n) {
  done_ += n;
  draw(false);
}

void Progress::draw(bool force) {
  if (!on_) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double frac = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 0.0;
  const int width = 30;
  const int filled = static_cast<int>(frac * width);
  std::string bar(filled, '#');
  bar.resize(width, '.');
  const double rate = secs > 0 ? static_cast<double>(done_) / secs : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done_) / rate : 0.0;
  std::fprintf(stderr, "\r%s [%s] %lld/%lld %.0f/s eta %.0fs ", label_.c_str(), bar.c_str(),
               static_cast<long long>(done_), static_cast<long long>(total_), rate, eta);
  std::fflush(stderr);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!on_) return;
  draw(true);
  std::fprintf(stderr, "\n");
}

}  // namespace eff
