// The order --jobs and MPI ranks take points in: one point of each capture in turn.
#include <gtest/gtest.h>

#include "sweep/runner.h"

namespace eff::sweep {
namespace {

Point point(const std::string& model, int first, const std::string& design) {
  Point p;
  p.id = model + std::to_string(first) + design;
  p.values = {{"model", model},
              {"data", {{"set", "s"}, {"first", first}, {"images", 8}}},
              {"design", design},
              {"precision", nullptr},
              {"thresholds", nullptr}};
  return p;
}

std::vector<std::string> ids(const std::vector<const Point*>& v) {
  std::vector<std::string> out;
  for (const Point* p : v) out.push_back(p->id);
  return out;
}

TEST(SweepOrder, OnePointOfEachCaptureInTurn) {
  // File order: captures a0 (x, y, z), a8 (x, y), b0 (x).
  const std::vector<Point> pts = {point("a", 0, "x"), point("a", 0, "y"), point("a", 0, "z"),
                                  point("a", 8, "x"), point("a", 8, "y"), point("b", 0, "x")};
  std::vector<const Point*> in;
  for (const Point& p : pts) in.push_back(&p);
  EXPECT_EQ(ids(capture_interleaved(in)), (std::vector<std::string>{"a0x", "a8x", "b0x", "a0y", "a8y", "a0z"}));
}

TEST(SweepOrder, OneCaptureKeepsFileOrder) {
  const std::vector<Point> pts = {point("a", 0, "x"), point("a", 0, "y"), point("a", 0, "z")};
  std::vector<const Point*> in;
  for (const Point& p : pts) in.push_back(&p);
  EXPECT_EQ(ids(capture_interleaved(in)), (std::vector<std::string>{"a0x", "a0y", "a0z"}));
  EXPECT_TRUE(capture_interleaved({}).empty());
}

}  // namespace
}  // namespace eff::sweep
