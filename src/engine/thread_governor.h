// How many threads the next inference gets when the user did not say. Kernels run OpenMP teams
// whose threads wait for each other at every parallel region; on a machine whose cores are busy
// with other work (a training job, a second copy of effectual) one descheduled thread stalls the
// whole team, and an inference that takes 0.5 ms alone can take hundreds. ONNX Runtime avoids it
// because its calling thread can do all the work itself; an OpenMP team cannot.
//
// So the governor watches what each run costs. Two runs in a row far slower than the best seen for
// their inputs (at that thread count or with one thread: a team that stalls from its first run
// has no fast run of its own to compare with) mean the team stalls: it falls back to one thread
// (which never waits for anyone; a run already over that budget part-way finishes its remaining
// nodes on one thread, Executor::run), and only tries the full team again after a back-off (in time,
// or in runs: a short process ends before 250 ms have passed), and
// only while the machine has a core free for each team thread (/proc/loadavg's count of runnable
// tasks, read at most every 20 ms: a read costs ~5 us, over 1% of a small model's inference). On a quiet machine it
// never leaves the full team. A team run with no one-thread reference yet (a process that starts
// straight into a stall, or a model over 100 ms whose first run is not repeated at one thread) is
// judged by how long its threads waited on a run queue for a core instead: a member that waits
// for a core that is taken holds every barrier, and a team that waited over kWaitShare of its wall
// time finishes that run on one thread (Executor::run) and counts as stalled. Results do not depend on the thread count
// (kernels split work without changing any sum's order), so this changes speed only.
//
// Measured alternatives (issue 8; shipped resnet, batch 1, 2 cores shared with other work):
// libgomp's wait policy alone cannot help, as it is read once at start and every setting
// fails somewhere for a team kept on busy cores (beside PyTorch, GOMP_SPINCOUNT=1e5 had one run at
// a 119 ms median, passive waiting was slower than one thread, the default spin had single runs
// 1000x the median). With the governor keeping teams off busy cores, the command line does set a
// shorter spin (cli/openmp_defaults.cpp): it bounds what one stalled region costs. A pool
// where the caller finishes chunks no worker took (as ONNX Runtime's) avoids the stalls, but
// oneDNN here is built for OpenMP, so each convolution must be split into separate one-thread
// primitives: halves over output channels cost 5-20% more work (Winograd halves transform the
// input twice), and on a loaded machine the second core was rarely there to repay it.
// Keeping the team beside other work when its runs are faster by median (busy8g, 2026-12-07, on
// a 2-core AMD EPYC (Zen 5) KVM guest under load 9-10 from other builds, shipped resnet b1,
// interleaved rounds of 200 runs beside a 2-thread PyTorch job): the governor's one thread had a
// 0.224-0.239 ms median, ONNX Runtime's default 0.338-0.359 (0.64-0.67x). A team forced on with
// libgomp's default spin: median 0.230 ms, but 525 of 2000 runs over 20x it and a mean of 85 ms;
// with the command's short spin, a 26 ms median. A team the governor never drops (its stall cut
// to one thread kept): medians 3.0 ms (spin 20000), 18.7 ms (100000), 29.7 ms (300000). So judged
// by a median of its recent runs the team would never win there, and only a long spin buys the
// median at the cost of the 20x tail. Nor can one thread be made much faster: a profile of 20,000
// one-thread runs has 89% of its samples in oneDNN's JIT kernels, 6% in libdnnl, under 2% in the
// executor and allocation.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>

namespace eff {

class ThreadGovernor {
 public:
  using Clock = std::chrono::steady_clock;
  // Runnable tasks on the machine other than this thread; -1 when unknown.
  using LoadProbe = std::function<int()>;
  // Total time this process's threads have spent runnable but waiting for a core, in ms; < 0
  // when unknown.
  using WaitProbe = std::function<double()>;

  explicit ThreadGovernor(int max_threads, LoadProbe probe = {}, WaitProbe wait = {});

  // Threads for the next run.
  int next(Clock::time_point now = Clock::now());
  // What that run took.
  // `starved`: the team waited for cores (team_starved, judged by Executor::run when
  // judges_by_wait): a stall whatever its time, and no reference for later runs.
  void record(int64_t work, int threads, double wall_ms, Clock::time_point now = Clock::now(), bool starved = false);
  // How long a run of `work` at `threads` (> 1) may take before it counts as stalling, so that
  // the rest of that run goes on one thread (Executor::run checks between nodes); infinite until
  // one such run has been seen. A run's nodes are many OpenMP regions: a team whose thread lost its
  // core waits at each of them (measured: 18 sleeps at barriers in one 600 ms run), so stopping
  // after the first stalled node bounds the run instead of paying every node's stall.
  double stall_budget_ms(int64_t work, int threads) const;
  // A run made outside the governor's choice (the executor's warm-up at the other thread count):
  // only its time is kept, as the best for (work, threads) if it is faster.
  void note(int64_t work, int threads, double wall_ms);
  // Whether a run of `work` at `threads` is judged by its run-queue wait: a team with no
  // one-thread (or faster) reference to hold its time against.
  bool judges_by_wait(int64_t work, int threads) const;
  // Whether a team run that has taken `wall_ms` so far, its threads waiting `waited_ms` of it for
  // a core, is stalling.
  static bool team_starved(double wall_ms, double waited_ms) {
    return waited_ms >= 0 && wall_ms >= kWaitJudgeAfterMs && waited_ms > kWaitShare * wall_ms;
  }
  double wait_ms() const { return wait_(); }

  int max_threads() const { return max_; }
  int current() const { return current_; }
  int fallbacks() const { return fallbacks_; }

  // A stall: slower than this many times the best run seen.
  static constexpr double kStallFactor = 3.0;
  // A probe of the full team counts as good within this factor of the best full-team run.
  static constexpr double kProbeFactor = 1.5;
  // A team whose threads waited for a core more than this share of a run's wall time is stalling
  // (on a quiet machine they wait ~0: each has a core; a held-back member waits all the time the
  // others spin at a barrier for it).
  static constexpr double kWaitShare = 0.25;
  // Runs are judged by their wait only after this long: reading the wait costs ~10-20 us (one
  // /proc file per thread), and shorter runs cannot stall long enough to matter.
  static constexpr double kWaitJudgeAfterMs = 1.0;

 private:
  bool machine_has_room() const;
  // What a run of `work` at `threads` is judged against: the fastest run seen at that count or
  // with one thread, whichever is faster. Against its own count's best alone, a team that stalls
  // from its first run on (two copies started at once) looks normal: every run it makes is slow.
  double reference_ms(int64_t work, int threads) const;

  int max_;
  LoadProbe probe_;
  WaitProbe wait_;
  int current_;
  bool probing_ = false;
  int slow_runs_ = 0;  // consecutive runs slower than kStallFactor x the best
  int fallbacks_ = 0;
  Clock::duration backoff_;
  Clock::time_point retry_at_{};
  int64_t retry_runs_;                                 // or after this many one-thread runs, whichever comes first
  int64_t runs_at_one_ = 0;                            // one-thread runs since the fallback or the last look
  std::map<std::pair<int64_t, int>, double> best_ms_;  // (work, threads) -> fastest run
};

// Runnable tasks from /proc/loadavg minus the caller; -1 if it cannot be read.
int other_runnable_tasks();
// Run-queue wait of all this process's threads (/proc/self/task/*/schedstat), in ms; -1 if it
// cannot be read.
double process_run_queue_wait_ms();

}  // namespace eff
