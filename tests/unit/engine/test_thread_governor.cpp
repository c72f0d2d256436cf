// The thread governor on a scripted clock and load: stays with the full team on a quiet machine,
// falls back to one thread after two stalled runs, probes back only after its back-off and only
// while the machine has room, and doubles the back-off when a probe stalls again.
#include <gtest/gtest.h>
#include <omp.h>
#include <sched.h>

#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <thread>

#include "data/npy.h"
#include "engine/executor.h"
#include "engine/model.h"
#include "engine/thread_governor.h"

namespace eff {
namespace {

using Clock = ThreadGovernor::Clock;
using std::chrono::milliseconds;

struct Scripted {
  int others = 0;  // runnable tasks besides the caller
  ThreadGovernor make(int threads) {
    return ThreadGovernor(threads, [this] { return others; });
  }
};

TEST(ThreadGovernor, QuietMachineKeepsTheFullTeamThroughNoise) {
  Scripted load;
  ThreadGovernor g = load.make(2);
  Clock::time_point t{};
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(g.next(t), 2);
    // Every tenth run is a one-off 10x blip (a page fault): never two in a row.
    g.record(100, 2, i % 10 == 5 ? 5.0 : 0.5, t);
    t += milliseconds(1);
  }
  EXPECT_EQ(g.fallbacks(), 0);
}

TEST(ThreadGovernor, StallsFallBackAndProbesWaitForRoomAndBackOff) {
  Scripted load;
  ThreadGovernor g = load.make(2);
  Clock::time_point t{};
  g.record(100, g.next(t), 0.5, t);  // best at 2 threads: 0.5 ms
  load.others = 2;                   // a training job takes both cores
  g.record(100, g.next(t), 40.0, t);
  EXPECT_EQ(g.current(), 2);  // one slow run is not enough
  g.record(100, g.next(t), 60.0, t);
  EXPECT_EQ(g.current(), 1);
  EXPECT_EQ(g.fallbacks(), 1);
  // Within the 250 ms back-off: one thread, whatever the load says.
  load.others = 0;
  EXPECT_EQ(g.next(t + milliseconds(100)), 1);
  // After it, but the machine is still busy: no probe.
  load.others = 2;
  EXPECT_EQ(g.next(t + milliseconds(300)), 1);
  // Room again, seen at the next look (20 ms after the last): a probe of the full team; it stalls
  // (40 ms > 1.5 x 0.5 ms), so back to one thread and the back-off doubles to 500 ms.
  load.others = 0;
  EXPECT_EQ(g.next(t + milliseconds(310)), 1);
  t += milliseconds(320);
  ASSERT_EQ(g.next(t), 2);
  g.record(100, 2, 40.0, t);
  EXPECT_EQ(g.current(), 1);
  EXPECT_EQ(g.next(t + milliseconds(400)), 1);
  // After 500 ms a probe that runs at full speed restores the team.
  t += milliseconds(600);
  ASSERT_EQ(g.next(t), 2);
  g.record(100, 2, 0.6, t);
  EXPECT_EQ(g.current(), 2);
  EXPECT_EQ(g.next(t), 2);
}

// A short process (200 runs of 0.2 ms) ends long before a 250 ms back-off: after 16 runs on one
// thread it probes the team whatever the time; a failed probe doubles the runs to wait.
TEST(ThreadGovernor, AShortProcessRetriesTheTeamAfterRunsNotOnlyTime) {
  Scripted load;
  ThreadGovernor g = load.make(2);
  const Clock::time_point t{};  // the clock never reaches the back-off
  g.record(100, g.next(t), 0.2, t);
  g.record(100, g.next(t), 5.0, t);  // the second core woke up late, twice
  g.record(100, g.next(t), 5.0, t);
  ASSERT_EQ(g.current(), 1);
  for (int run = 0; run < 15; ++run) {
    ASSERT_EQ(g.next(t), 1) << run;
    g.record(100, 1, 0.3, t);
  }
  g.record(100, g.next(t), 0.3, t);  // the 16th
  ASSERT_EQ(g.next(t), 2);           // probe
  g.record(100, 2, 5.0, t);          // stalls: 32 runs now
  EXPECT_EQ(g.current(), 1);
  for (int run = 0; run < 31; ++run) {
    ASSERT_EQ(g.next(t), 1) << run;
    g.record(100, 1, 0.3, t);
  }
  g.record(100, g.next(t), 0.3, t);
  ASSERT_EQ(g.next(t), 2);
  g.record(100, 2, 0.21, t);  // full speed: the team again
  EXPECT_EQ(g.current(), 2);
  EXPECT_EQ(g.next(t), 2);
}

// Two copies started at once: the team stalls from its very first run, so every full-team run is
// as slow as the best one. The warm-up's one-thread time (noted, not chosen by the governor) is
// the reference: full-team runs over 3x it are stalls, and two of them make it fall back. Its
// stall budget (when Executor::run finishes a run on one thread) is 3x that reference.
TEST(ThreadGovernor, ATeamStallingFromItsFirstRunIsJudgedAgainstOneThread) {
  Scripted load;
  ThreadGovernor g = load.make(2);
  Clock::time_point t{};
  EXPECT_EQ(g.stall_budget_ms(100, 2), std::numeric_limits<double>::infinity());
  g.note(100, 1, 0.45);  // the executor's warm-up at one thread
  EXPECT_EQ(g.current(), 2);
  EXPECT_DOUBLE_EQ(g.stall_budget_ms(100, 2), 3 * 0.45);
  EXPECT_EQ(g.stall_budget_ms(100, 1), std::numeric_limits<double>::infinity());
  EXPECT_EQ(g.stall_budget_ms(200, 2), std::numeric_limits<double>::infinity());  // other work
  g.record(100, g.next(t), 260.0, t);
  EXPECT_EQ(g.current(), 2);  // one slow run is not enough
  g.record(100, g.next(t), 255.0, t);
  EXPECT_EQ(g.current(), 1);
  EXPECT_EQ(g.fallbacks(), 1);
  // A full team faster than one thread lowers the reference to its own best.
  ThreadGovernor quiet = load.make(2);
  quiet.note(100, 1, 0.45);
  quiet.record(100, quiet.next(t), 0.25, t);
  EXPECT_DOUBLE_EQ(quiet.stall_budget_ms(100, 2), 3 * 0.25);
  for (int i = 0; i < 10; ++i) quiet.record(100, quiet.next(t), 0.6, t);  // 2.4x: not a stall
  EXPECT_EQ(quiet.fallbacks(), 0);
}

// A team with no reference time yet (a process that starts straight into a stall) is judged by
// how long its threads waited for a core: runs that waited over a quarter of their time are
// stalls, two of them make it fall back, and they are never kept as the reference. Judged by
// time alone, each such run would be its own reference and the team would never fall back.
TEST(ThreadGovernor, ATeamWaitingForCoresWithNoReferenceIsAStall) {
  Scripted load;
  ThreadGovernor g = load.make(2);
  Clock::time_point t{};
  EXPECT_TRUE(g.judges_by_wait(100, 2));
  EXPECT_FALSE(g.judges_by_wait(100, 1));
  EXPECT_TRUE(ThreadGovernor::team_starved(10.0, 5.0));
  EXPECT_FALSE(ThreadGovernor::team_starved(10.0, 1.0));   // 10% waiting: a core each
  EXPECT_FALSE(ThreadGovernor::team_starved(0.5, 0.4));    // too short to judge
  EXPECT_FALSE(ThreadGovernor::team_starved(10.0, -1.0));  // wait unknown
  g.record(100, g.next(t), 12.0, t, true);
  EXPECT_EQ(g.current(), 2);  // one slow run is not enough
  EXPECT_TRUE(g.judges_by_wait(100, 2));
  g.record(100, g.next(t), 11.0, t, true);
  EXPECT_EQ(g.current(), 1);
  EXPECT_EQ(g.fallbacks(), 1);
  EXPECT_EQ(g.stall_budget_ms(100, 2), std::numeric_limits<double>::infinity());
  // The same times without the wait: each run is as fast as the best seen, no fallback.
  ThreadGovernor blind = load.make(2);
  for (int i = 0; i < 5; ++i) blind.record(100, blind.next(t), 12.0, t);
  EXPECT_EQ(blind.fallbacks(), 0);
  EXPECT_FALSE(blind.judges_by_wait(100, 2));
}

// On a full machine the run queue is read at most every 20 ms, not before every run: reading
// /proc/loadavg costs about 1% of a small model's inference.
// On a busy machine: every 20 ms, or after a number of runs that doubles at each look.
TEST(ThreadGovernor, LooksAtTheRunQueueEvery20msOrAfterDoublingRuns) {
  int reads = 0;
  ThreadGovernor g(2, [&reads] {
    ++reads;
    return 2;
  });
  ASSERT_EQ(reads, 1);  // the constructor's look: busy, so one thread
  Clock::time_point t{};
  for (int i = 0; i < 100; ++i) {  // 100 runs of 0.4 ms: 40 ms
    ASSERT_EQ(g.next(t), 1);
    g.record(100, 1, 0.4, t);
    t += std::chrono::microseconds(400);
  }
  EXPECT_EQ(reads, 1 + 3);  // at 0 ms, after 32 more runs (12.8 ms), and at 20 ms
}

TEST(ThreadGovernor, StartsWithOneThreadOnAFullMachine) {
  Scripted load;
  load.others = 3;
  ThreadGovernor busy = load.make(2);
  EXPECT_EQ(busy.next(Clock::time_point{}), 1);
  load.others = 0;
  ThreadGovernor quiet = load.make(2);
  EXPECT_EQ(quiet.next(Clock::time_point{}), 2);
  ThreadGovernor single = load.make(1);
  EXPECT_EQ(single.next(Clock::time_point{}), 1);
}

TEST(ThreadGovernor, ReadsTheMachinesRunQueue) {
  // On Linux /proc/loadavg exists; the count excludes the caller and is never negative then.
  EXPECT_GE(other_runnable_tasks(), 0);
}

// A run over the governor's stall budget finishes on one thread, node by node, with the same bits
// as a one-thread run (a budget of nanoseconds: every full-team run is cut after its first node).
TEST(ThreadCounts, ARunCutToOneThreadPartWayGivesTheSameBits) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "needs 2 cores for a team";
  const std::filesystem::path root(EFF_SOURCE_DIR);
  const Model m = load_model((root / "models/resnet.onnx").string());
  const Tensor x = read_npy((root / "models/resnet.ref/input.npy").string());
  ExecutorOptions one;
  one.threads = 1;
  const std::vector<Tensor> want = Executor(m.graph, one).run({x});
  ExecutorOptions o;
  o.governor = std::make_shared<ThreadGovernor>(2, [] { return 0; });
  o.governor->note(x.numel(), 1, 1e-6);
  Executor ex(m.graph, o);
  const std::vector<Tensor> got = ex.run({x});
  EXPECT_EQ(ex.last_run_threads(), 2);
  EXPECT_EQ(ex.runs_cut_to_one_thread(), 1);
  ASSERT_EQ(got.size(), want.size());
  ASSERT_EQ(got[0].nbytes(), want[0].nbytes());
  EXPECT_EQ(std::memcmp(got[0].raw(), want[0].raw(), want[0].nbytes()), 0);
}

namespace {
struct ResnetCase {
  Model model;
  Tensor input;
  std::vector<Tensor> one_thread;
};
ResnetCase resnet_case() {
  const std::filesystem::path root(EFF_SOURCE_DIR);
  ResnetCase c{load_model((root / "models/resnet.onnx").string()),
               read_npy((root / "models/resnet.ref/input.npy").string()),
               {}};
  ExecutorOptions one;
  one.threads = 1;
  c.one_thread = Executor(c.model.graph, one).run({c.input});
  return c;
}
bool same_bits(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  return a.size() == b.size() && a[0].nbytes() == b[0].nbytes() &&
         std::memcmp(a[0].raw(), b[0].raw(), a[0].nbytes()) == 0;
}
}  // namespace

// With no reference time, a first run whose threads report waiting for cores (a scripted wait
// that grows by a second per look) finishes on one thread with the same bits; the same run with
// no waiting keeps its team.
TEST(ThreadCounts, AFirstRunWaitingForCoresFinishesOnOneThread) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "needs 2 cores for a team";
  const ResnetCase c = resnet_case();
  for (const bool waiting : {true, false}) {
    SCOPED_TRACE(waiting ? "waiting" : "not waiting");
    double waited = 0;
    ExecutorOptions o;
    o.governor = std::make_shared<ThreadGovernor>(
        2, [] { return 0; }, [&] { return waited += waiting ? 1000 : 0; });
    Executor ex(c.model.graph, o);
    const std::vector<Tensor> got = ex.run({c.input});
    EXPECT_EQ(ex.last_run_threads(), 2);
    EXPECT_EQ(ex.runs_cut_to_one_thread(), waiting ? 1 : 0);
    EXPECT_TRUE(same_bits(got, c.one_thread));
  }
}

// A team member really held back: both team threads pinned to one core while libgomp still
// counts two, so the worker waits for the core its leader spins on at every barrier. The
// machine's own run-queue accounting (/proc/self/task/*/schedstat) shows the wait, and the first
// run, which has no reference time, finishes on one thread with the same bits.
TEST(ThreadCounts, ATeamWithAMemberHeldBackFinishesOnOneThread) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "needs 2 cores for a team";
  if (process_run_queue_wait_ms() < 0) GTEST_SKIP() << "no /proc/self/task/*/schedstat";
  const ResnetCase c = resnet_case();
  cpu_set_t all;
  ASSERT_EQ(sched_getaffinity(0, sizeof(all), &all), 0);
  int first = 0;
  while (!CPU_ISSET(first, &all)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  int pinned = 0;
#pragma omp parallel num_threads(2) reduction(+ : pinned)
  pinned += sched_setaffinity(0, sizeof(one), &one) == 0 ? 1 : 0;
  // How long the member waits is up to the scheduler (under OMP_WAIT_POLICY=passive, as ctest
  // runs, the team sleeps at barriers and waits less), so up to three fresh executors, each with
  // no reference time, get their first run; without the wait check none is ever cut.
  int64_t cut = 0;
  int runs = 0;
  bool bits = true, team = true;
  for (; runs < 3 && cut == 0; ++runs) {
    ExecutorOptions o;
    o.governor = std::make_shared<ThreadGovernor>(2, [] { return 0; });
    Executor ex(c.model.graph, o);
    const std::vector<Tensor> got = ex.run({c.input});
    cut = ex.runs_cut_to_one_thread();
    team = team && ex.last_run_threads() == 2;
    bits = bits && same_bits(got, c.one_thread);
  }
  omp_set_num_threads(2);
#pragma omp parallel num_threads(2)
  sched_setaffinity(0, sizeof(all), &all);
  ASSERT_EQ(pinned, 2);
  EXPECT_TRUE(team);
  EXPECT_EQ(cut, 1) << "after " << runs << " first runs";
  EXPECT_TRUE(bits);
}

}  // namespace
}  // namespace eff

// The governor may change the thread count between runs, so results must not depend on it: the
// same inputs give bit-identical outputs with 1 and 2 threads (kernels split work across output
// elements, never across a sum).

namespace eff {
namespace {

TEST(ThreadCounts, OutputsAreBitIdenticalForOneAndTwoThreads) {
  namespace fs = std::filesystem;
  const fs::path root(EFF_SOURCE_DIR);
  const std::vector<std::pair<fs::path, fs::path>> cases = {
      {root / "models/lenet5.onnx", root / "models/lenet5.ref/input.npy"},
      {root / "models/resnet.onnx", root / "models/resnet.ref/input.npy"},
      {root / "tests/fixtures/real/mobilenetv2_small.onnx",
       root / "tests/fixtures/real/mobilenetv2_small.ref/inputs/input.npy"},
      {root / "tests/fixtures/real/ppocr_det_small.onnx",
       root / "tests/fixtures/real/ppocr_det_small.ref/inputs/x.npy"},
  };
  for (const auto& [model_path, input_path] : cases) {
    SCOPED_TRACE(model_path.string());
    const Model m = load_model(model_path.string());
    const Tensor x = read_npy(input_path.string());
    std::vector<std::vector<Tensor>> outs;
    for (int threads : {1, 2}) {
      ExecutorOptions o;
      o.threads = threads;
      o.specialize = m.specializer();
      Executor ex(m.graph, o);
      outs.push_back(ex.run({x}));
    }
    ASSERT_EQ(outs[0].size(), outs[1].size());
    for (size_t k = 0; k < outs[0].size(); ++k) {
      ASSERT_EQ(outs[0][k].nbytes(), outs[1][k].nbytes());
      EXPECT_EQ(std::memcmp(outs[0][k].raw(), outs[1][k].raw(), outs[0][k].nbytes()), 0) << "output " << k;
    }
  }
}

}  // namespace
}  // namespace eff
