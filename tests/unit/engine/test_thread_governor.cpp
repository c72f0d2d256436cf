// The thread governor on a scripted clock and load: stays with the full team on a quiet machine,
// falls back to one thread after two stalled runs, probes back only after its back-off and only
// while the machine has room, and doubles the back-off when a probe stalls again.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

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

// On a full machine the run queue is read at most every 20 ms, not before every run: reading
// /proc/loadavg costs about 1% of a small model's inference.
TEST(ThreadGovernor, LooksAtTheRunQueueAtMostEvery20ms) {
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
  EXPECT_EQ(reads, 1 + 2);  // at 0 ms and 20 ms
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
