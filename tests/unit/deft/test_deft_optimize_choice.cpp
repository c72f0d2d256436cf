// Which point optimize writes (deft/optimize.h point_to_write): never one that ran slower end to
// end than the engine in the same timing.
#include <gtest/gtest.h>

#include <vector>

#include "deft/optimize.h"

namespace eff::deft {
namespace {

OptimizePoint timed(double measured_ms, double engine_ms) {
  OptimizePoint p;
  p.measured = true;
  p.measured_ms = measured_ms;
  p.engine_ms = engine_ms;
  return p;
}

TEST(DeftOptimizeChoice, APlanSlowerThanTheEngineEndToEndIsNotWritten) {
  const std::vector<OptimizePoint> points = {timed(1.0, 1.0), timed(1.1, 1.0), timed(0.5, 1.0)};
  EXPECT_EQ(point_to_write(points, 1), 0);  // 1.1 ms against the engine's 1.0: the engine
  EXPECT_EQ(point_to_write(points, 2), 2);  // twice as fast: kept
  EXPECT_EQ(point_to_write(points, 0), 0);  // the engine itself
}

TEST(DeftOptimizeChoice, AnEqualOrUnmeasuredPlanIsKept) {
  std::vector<OptimizePoint> points = {timed(1.0, 1.0), timed(1.0, 1.0), OptimizePoint{}};
  EXPECT_EQ(point_to_write(points, 1), 1);  // a tie is no reason to drop what the search chose
  EXPECT_EQ(point_to_write(points, 2), 2);  // not timed end to end: nothing to hold it against
}

}  // namespace
}  // namespace eff::deft
