#include "engine/thread_governor.h"

#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>

namespace eff {

namespace {
constexpr auto kFirstBackoff = std::chrono::milliseconds(250);
constexpr auto kMaxBackoff = std::chrono::seconds(16);
// While the machine is full, how often to look again: reading /proc/loadavg costs ~5 us, over 1%
// of a 0.4 ms inference if done before every run.
constexpr auto kRoomRecheck = std::chrono::milliseconds(20);
// The back-off in runs as well as time: a short process (a bench of 200 runs of 0.2 ms, a sweep
// point) that fell back while its second core woke up ended before 250 ms had passed, and ran all
// its runs on one thread (on a 2-core EPYC, 5 of 8 such processes on a quiet machine).
constexpr int64_t kFirstRetryRuns = 16;
constexpr int64_t kMaxRetryRuns = 4096;
}  // namespace

int other_runnable_tasks() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  if (!f) return -1;
  double l1 = 0, l5 = 0, l15 = 0;
  int running = 0, total = 0;
  const int got = std::fscanf(f, "%lf %lf %lf %d/%d", &l1, &l5, &l15, &running, &total);
  std::fclose(f);
  if (got != 5 || running < 1) return -1;
  return running - 1;  // the count includes the thread reading it
}

double process_run_queue_wait_ms() {
  DIR* dir = opendir("/proc/self/task");
  if (!dir) return -1;
  double total_ns = 0;
  bool any = false;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const std::string path = std::string("/proc/self/task/") + e->d_name + "/schedstat";
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (!f) continue;  // the thread ended meanwhile
    unsigned long long run_ns = 0, wait_ns = 0;
    if (std::fscanf(f, "%llu %llu", &run_ns, &wait_ns) == 2) {
      total_ns += static_cast<double>(wait_ns);
      any = true;
    }
    std::fclose(f);
  }
  closedir(dir);
  return any ? total_ns * 1e-6 : -1;
}

ThreadGovernor::ThreadGovernor(int max_threads, LoadProbe probe, WaitProbe wait)
    : max_(std::max(1, max_threads)),
      probe_(probe ? std::move(probe) : LoadProbe(other_runnable_tasks)),
      wait_(wait ? std::move(wait) : WaitProbe(process_run_queue_wait_ms)),
      current_(max_),
      backoff_(kFirstBackoff),
      retry_runs_(kFirstRetryRuns) {
  // Start small when the machine is already full: the first run would stall otherwise.
  if (max_ > 1 && !machine_has_room()) current_ = 1;
}

bool ThreadGovernor::machine_has_room() const {
  const int others = probe_();
  // The caller's own thread is not counted; the team needs max_ - 1 more cores, all of them free.
  return others <= 0;
}

int ThreadGovernor::next(Clock::time_point now) {
  if (max_ == 1) return 1;
  if (current_ == 1 && (now >= retry_at_ || runs_at_one_ >= retry_runs_)) {
    if (machine_has_room()) {
      probing_ = true;
      return max_;
    }
    // No room: look again in 20 ms, or after twice the runs (a busy machine's reads thin out).
    retry_at_ = now + kRoomRecheck;
    runs_at_one_ = 0;
    retry_runs_ = std::min(retry_runs_ * 2, kMaxRetryRuns);
  }
  return current_;
}

double ThreadGovernor::reference_ms(int64_t work, int threads) const {
  double ref = std::numeric_limits<double>::infinity();
  for (const int t : {threads, 1}) {
    const auto it = best_ms_.find({work, t});
    if (it != best_ms_.end()) ref = std::min(ref, it->second);
  }
  return ref;
}

double ThreadGovernor::stall_budget_ms(int64_t work, int threads) const {
  if (threads <= 1) return std::numeric_limits<double>::infinity();
  return kStallFactor * reference_ms(work, threads);
}

bool ThreadGovernor::judges_by_wait(int64_t work, int threads) const {
  return threads > 1 && reference_ms(work, threads) == std::numeric_limits<double>::infinity();
}

void ThreadGovernor::note(int64_t work, int threads, double wall_ms) {
  double& best = best_ms_.try_emplace({work, threads}, wall_ms).first->second;
  best = std::min(best, wall_ms);
}

void ThreadGovernor::record(int64_t work, int threads, double wall_ms, Clock::time_point now, bool starved) {
  if (max_ == 1) return;
  // A team that waited for cores is no reference for its own count: every run of a team that
  // stalls from its first run on would look normal against it.
  starved = starved && threads > 1;
  const double reference =
      std::min(reference_ms(work, threads), starved ? std::numeric_limits<double>::infinity() : wall_ms);
  const auto key = std::make_pair(work, threads);
  const auto found = best_ms_.find(key);
  const double before = found != best_ms_.end() ? found->second : wall_ms;
  if (!starved) best_ms_[key] = std::min(before, wall_ms);
  if (probing_) {
    probing_ = false;
    runs_at_one_ = 0;
    if (threads == max_ && !starved && wall_ms <= kProbeFactor * before) {
      current_ = max_;
      backoff_ = kFirstBackoff;
      retry_runs_ = kFirstRetryRuns;
    } else {
      current_ = 1;
      backoff_ = std::min<Clock::duration>(backoff_ * 2, kMaxBackoff);
      retry_at_ = now + backoff_;
      retry_runs_ = std::min(retry_runs_ * 2, kMaxRetryRuns);
    }
    return;
  }
  if (threads == 1 && current_ == 1) ++runs_at_one_;
  // One slow run is noise (a page fault, a timer); two in a row at the full team is a stall.
  const bool slow = threads > 1 && (starved || wall_ms > kStallFactor * reference);
  slow_runs_ = slow ? slow_runs_ + 1 : 0;
  if (slow_runs_ >= 2) {
    slow_runs_ = 0;
    current_ = 1;
    ++fallbacks_;
    retry_at_ = now + backoff_;
    runs_at_one_ = 0;
  }
}

}  // namespace eff
