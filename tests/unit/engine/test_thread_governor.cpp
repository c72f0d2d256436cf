// The thread governor on a scripted clock and load: stays with the full team on a quiet machine,
// falls back to one thread after two stalled runs, probes back only after its back-off and only
// while the machine has room, and doubles the back-off when a probe stalls again.
#include <gtest/gtest.h>

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
    ASSERT_EQ(g.next(100, t), 2);
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
  g.record(100, g.next(100, t), 0.5, t);  // best at 2 threads: 0.5 ms
  load.others = 2;                        // a training job takes both cores
  g.record(100, g.next(100, t), 40.0, t);
  EXPECT_EQ(g.current(), 2);  // one slow run is not enough
  g.record(100, g.next(100, t), 60.0, t);
  EXPECT_EQ(g.current(), 1);
  EXPECT_EQ(g.fallbacks(), 1);
  // Within the 250 ms back-off: one thread, whatever the load says.
  load.others = 0;
  EXPECT_EQ(g.next(100, t + milliseconds(100)), 1);
  // After it, but the machine is still busy: no probe.
  load.others = 2;
  EXPECT_EQ(g.next(100, t + milliseconds(300)), 1);
  // Room again: a probe of the full team; it stalls (40 ms > 1.5 x 0.5 ms), so back to one thread
  // and the back-off doubles to 500 ms.
  load.others = 0;
  t += milliseconds(300);
  ASSERT_EQ(g.next(100, t), 2);
  g.record(100, 2, 40.0, t);
  EXPECT_EQ(g.current(), 1);
  EXPECT_EQ(g.next(100, t + milliseconds(400)), 1);
  // After 500 ms a probe that runs at full speed restores the team.
  t += milliseconds(600);
  ASSERT_EQ(g.next(100, t), 2);
  g.record(100, 2, 0.6, t);
  EXPECT_EQ(g.current(), 2);
  EXPECT_EQ(g.next(100, t), 2);
}

TEST(ThreadGovernor, StartsWithOneThreadOnAFullMachine) {
  Scripted load;
  load.others = 3;
  ThreadGovernor busy = load.make(2);
  EXPECT_EQ(busy.next(1, Clock::time_point{}), 1);
  load.others = 0;
  ThreadGovernor quiet = load.make(2);
  EXPECT_EQ(quiet.next(1, Clock::time_point{}), 2);
  ThreadGovernor single = load.make(1);
  EXPECT_EQ(single.next(1, Clock::time_point{}), 1);
}

TEST(ThreadGovernor, ReadsTheMachinesRunQueue) {
  // On Linux /proc/loadavg exists; the count excludes the caller and is never negative then.
  EXPECT_GE(other_runnable_tasks(), 0);
}

}  // namespace
}  // namespace eff
