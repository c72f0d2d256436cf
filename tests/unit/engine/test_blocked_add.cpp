// Residual Adds of channel-blocked activations whose channels do not fill whole 16-channel blocks
// (EfficientNet's 24- and 40-channel stages; graph/layout_pass.cpp, ops/blocked_ops.cpp): the Add
// stays blocked and sums the padded storage, and the graph must compute what it computes without
// any pass, at any thread count, with observers still seeing plain NCHW.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "../onnx/model_builder.h"
#include "engine/executor.h"
#include "graph/passes.h"

namespace eff {
namespace {

using test::ModelBuilder;
using test::random_values;
using test::set_attr;

// The Adds under test as nodes of their own (by default a residual Add is fused into its conv).
LoadOptions kept_adds() {
  LoadOptions o;
  o.fuse_residual_adds = false;
  return o;
}

// stem conv (c channels) -> 1x1 expand (2c) -> 3x3 depthwise -> 1x1 project (c) -> Add with the
// stem's output -> a second project-and-Add on that sum -> 1x1 head (8 channels).
ModelBuilder residual_chain(int64_t c) {
  ModelBuilder b(13);
  b.input("x", {2, 3, 7, 5}).output("y", {2, 8, 7, 5});
  b.initializer("W0", {c, 3, 1, 1}, random_values(static_cast<size_t>(c * 3), 1));
  b.initializer("B0", {c}, random_values(static_cast<size_t>(c), 2));
  b.initializer("W1", {2 * c, c, 1, 1}, random_values(static_cast<size_t>(2 * c * c), 3, 0.5f));
  b.initializer("W2", {2 * c, 1, 3, 3}, random_values(static_cast<size_t>(2 * c * 9), 4));
  b.initializer("B2", {2 * c}, random_values(static_cast<size_t>(2 * c), 5));
  b.initializer("W3", {c, 2 * c, 1, 1}, random_values(static_cast<size_t>(2 * c * c), 6, 0.3f));
  b.initializer("B3", {c}, random_values(static_cast<size_t>(c), 7));
  b.initializer("W5", {c, c, 1, 1}, random_values(static_cast<size_t>(c * c), 8, 0.3f));
  b.initializer("W4", {8, c, 1, 1}, random_values(static_cast<size_t>(8 * c), 9));
  b.node("Conv", {"x", "W0", "B0"}, {"a"}, "stem");
  b.node("Conv", {"a", "W1"}, {"e"}, "expand");
  auto& dw = b.node("Conv", {"e", "W2", "B2"}, {"d"}, "depthwise");
  set_attr(dw, "group", 2 * c);
  set_attr(dw, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Conv", {"d", "W3", "B3"}, {"p"}, "project");
  b.node("Add", {"a", "p"}, {"r"}, "residual");
  b.node("Conv", {"r", "W5"}, {"q"}, "project2");
  b.node("Add", {"q", "r"}, {"r2"}, "residual2");
  b.node("Conv", {"r2", "W4"}, {"y"}, "head");
  return b;
}

TEST(BlockedAdd, PaddedChannelResidualsStayBlockedAndMatchThePlainGraph) {
  const Tensor x = Tensor::from<float>({2, 3, 7, 5}, random_values(2 * 3 * 7 * 5, 21, 2.f));
  LoadOptions raw;
  raw.run_passes = false;
  for (int64_t c : {24, 40, 16, 5}) {
    SCOPED_TRACE(c);
    const Graph g = residual_chain(c).load(kept_adds());
    std::map<std::string, const Node*> by_name;
    for (const Node& n : g.nodes) by_name[n.name] = &n;
    // Every value between stem and head is blocked; only partial blocks mark the Adds.
    for (const char* conv : {"stem", "project", "project2"}) {
      EXPECT_TRUE(by_name.at(conv)->has_attr(kBlockedOutputAttr)) << conv;
    }
    EXPECT_TRUE(by_name.at("head")->has_attr(kBlockedInputAttr));
    for (const char* add : {"residual", "residual2"}) {
      EXPECT_EQ(by_name.at(add)->has_attr(kBlockedOutputAttr), c % 16 != 0) << add;
    }
    ExecutorOptions plain_options;
    plain_options.threads = 1;
    Executor plain(residual_chain(c).load(raw), plain_options);
    const std::vector<float> want = plain.run({x}).at(0).to_f32_vector();
    // What the head layer's observer sees: the second sum, as plain NCHW.
    struct HeadInput : LayerObserver {
      std::vector<float> seen;
      void on_layer(const LayerInfo& l, const Tensor& a, const Tensor&, const Tensor&) override {
        if (l.name == "head") seen = a.to_f32_vector();
      }
    };
    HeadInput raw_seen, blocked_seen;
    {
      ExecutorOptions o;
      o.threads = 1;
      o.observer = &raw_seen;
      Executor ex(residual_chain(c).load(raw), o);
      ex.run({x});
    }
    for (int threads : {1, 2}) {
      ExecutorOptions o;
      o.threads = threads;
      o.observer = threads == 1 ? &blocked_seen : nullptr;
      Executor ex(g, o);
      const std::vector<float> got = ex.run({x}).at(0).to_f32_vector();
      ASSERT_EQ(got.size(), want.size());
      // Same convs, other layouts: rounding only (a layout or padding mistake is O(1)).
      for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4f * (1 + std::fabs(want[i]))) << i;
    }
    ASSERT_EQ(blocked_seen.seen.size(), raw_seen.seen.size());
    for (size_t i = 0; i < raw_seen.seen.size(); ++i) {
      ASSERT_NEAR(blocked_seen.seen[i], raw_seen.seen[i], 1e-4f * (1 + std::fabs(raw_seen.seen[i]))) << i;
    }
  }
}

// A padded Add whose sum is also a graph output is not blocked (outputs are plain).
TEST(BlockedAdd, SumThatIsAGraphOutputStaysPlain) {
  ModelBuilder b = residual_chain(24);
  b.output("r", {2, 24, 7, 5});
  const Graph g = b.load(kept_adds());
  const auto add = std::find_if(g.nodes.begin(), g.nodes.end(), [](const Node& n) { return n.name == "residual"; });
  ASSERT_NE(add, g.nodes.end());
  EXPECT_FALSE(add->has_attr(kBlockedOutputAttr));
}

}  // namespace
}  // namespace eff
