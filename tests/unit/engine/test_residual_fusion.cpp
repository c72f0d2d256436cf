// A residual Add (and the Relu after it) fused into the conv producing one operand
// (graph/passes.h fuse_residual_adds, conv.cpp's sum post-op): a hand-computed case, and
// ResNet-style blocks against the same graph run without any pass, in the blocked and the plain
// layout, with the shortcut computed before or after the conv, read again later, or a graph input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "../onnx/model_builder.h"
#include "engine/executor.h"
#include "graph/passes.h"

namespace eff {
namespace {

using test::ModelBuilder;
using test::ops_of;
using test::random_values;
using test::set_attr;
using Ops = std::vector<std::string>;

std::vector<Tensor> run_graph(Graph g, const std::vector<Tensor>& inputs, int threads) {
  ExecutorOptions o;
  o.threads = threads;
  Executor ex(std::move(g), o);
  // Twice: the second run reuses the buffers the first left in the pool (and the in-place path).
  ex.run(inputs);
  return ex.run(inputs);
}

// Stacked 3x3 convs run Winograd in one graph and direct in the other (rounding ~1e-4 relative
// here); a wrong shortcut, layout or order of sum and Relu is O(1).
void expect_close(const Tensor& got, const Tensor& want) {
  ASSERT_EQ(got.shape(), want.shape());
  const std::vector<float> g = got.to_f32_vector(), w = want.to_f32_vector();
  for (size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], w[i], 3e-4f * (1 + std::fabs(w[i]))) << i;
}

const Node* find_node(const Graph& g, const std::string& name) {
  for (const Node& n : g.nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

// y = Relu(Conv1x1(x; w = [[1, -1], [2, 0.5]], b = [0.5, -1]) + s) on one pixel pair: worked by hand.
TEST(ResidualFusion, HandComputedConvAddRelu) {
  ModelBuilder b(13);
  b.input("x", {1, 2, 1, 2}).input("s", {1, 2, 1, 2}).output("y", {1, 2, 1, 2});
  b.initializer("W", {2, 2, 1, 1}, {1.f, -1.f, 2.f, 0.5f});
  b.initializer("B", {2}, {0.5f, -1.f});
  b.node("Conv", {"x", "W", "B"}, {"c"}, "conv");
  b.node("Add", {"c", "s"}, {"sum"}, "add");
  b.node("Relu", {"sum"}, {"y"}, "relu");
  const Graph g = b.load();
  ASSERT_EQ(ops_of(g), (Ops{"Conv"}));
  EXPECT_EQ(g.nodes[0].attr_int(kResidualAddAttr, 0), 1);
  EXPECT_EQ(g.nodes[0].attr_string("activation", ""), "Relu");
  // x: channel 0 = [1, 3], channel 1 = [2, -4]; s: channel 0 = [0, -10], channel 1 = [1, 1].
  const Tensor x = Tensor::from<float>({1, 2, 1, 2}, {1.f, 3.f, 2.f, -4.f});
  const Tensor s = Tensor::from<float>({1, 2, 1, 2}, {0.f, -10.f, 1.f, 1.f});
  // conv channel 0: 1*x0 - 1*x1 + 0.5 = [1 - 2 + 0.5, 3 + 4 + 0.5] = [-0.5, 7.5]; + s0 = [-0.5, -2.5]
  // conv channel 1: 2*x0 + 0.5*x1 - 1 = [2 + 1 - 1, 6 - 2 - 1] = [2, 3];          + s1 = [3, 4]
  // Relu: [0, 0, 3, 4].
  for (int threads : {1, 2}) {
    const std::vector<float> y = run_graph(g, {x, s}, threads).at(0).to_f32_vector();
    EXPECT_EQ(y, (std::vector<float>{0.f, 0.f, 3.f, 4.f})) << threads << " threads";
  }
  // The shortcut is the caller's tensor: never written.
  EXPECT_EQ(s.to_f32_vector(), (std::vector<float>{0.f, -10.f, 1.f, 1.f}));
}

// Two ResNet basic blocks: stem conv, block 1 with an identity shortcut (Add(conv, stem) + Relu),
// block 2 downsampling, whose 1x1 stride-2 shortcut conv comes after the main path's second conv
// in the node order, then a head conv. `channels` 16 keeps every value blocked; 8 leaves the
// Adds in the plain layout (they need whole blocks of 16 channels).
ModelBuilder basic_blocks(int64_t channels, bool stem_read_again) {
  const int64_t c = channels, c2 = 2 * channels;
  ModelBuilder b(13);
  b.input("x", {2, 3, 8, 8}).output("y", {2, 4, 4, 4});
  if (stem_read_again) b.output("stem_sum", {2, c, 8, 8});
  b.initializer("W0", {c, 3, 3, 3}, random_values(c * 27, 1));
  b.initializer("B0", {c}, random_values(c, 2));
  b.initializer("W1", {c, c, 3, 3}, random_values(c * c * 9, 3, 0.3f));
  b.initializer("W2", {c, c, 3, 3}, random_values(c * c * 9, 4, 0.3f));
  b.initializer("B2", {c}, random_values(c, 5));
  b.initializer("W3", {c2, c, 3, 3}, random_values(c2 * c * 9, 6, 0.3f));
  b.initializer("W4", {c2, c2, 3, 3}, random_values(c2 * c2 * 9, 7, 0.3f));
  b.initializer("Wd", {c2, c, 1, 1}, random_values(c2 * c, 8));
  b.initializer("Wh", {4, c2, 1, 1}, random_values(4 * c2, 9));
  auto pad = [](onnx::NodeProto& n) { set_attr(n, "pads", std::vector<int64_t>{1, 1, 1, 1}); };
  pad(b.node("Conv", {"x", "W0", "B0"}, {"s0"}, "stem"));
  b.node("Relu", {"s0"}, {"s"}, "stem_relu");
  pad(b.node("Conv", {"s", "W1"}, {"a1"}, "b1_conv1"));
  b.node("Relu", {"a1"}, {"r1"}, "b1_relu1");
  pad(b.node("Conv", {"r1", "W2", "B2"}, {"a2"}, "b1_conv2"));
  b.node("Add", {"a2", "s"}, {"sum1"}, "b1_add");
  b.node("Relu", {"sum1"}, {"o1"}, "b1_relu2");
  auto& c3 = b.node("Conv", {"o1", "W3"}, {"a3"}, "b2_conv1");
  pad(c3);
  set_attr(c3, "strides", std::vector<int64_t>{2, 2});
  b.node("Relu", {"a3"}, {"r3"}, "b2_relu1");
  pad(b.node("Conv", {"r3", "W4"}, {"a4"}, "b2_conv2"));
  set_attr(b.node("Conv", {"o1", "Wd"}, {"d"}, "b2_down"), "strides", std::vector<int64_t>{2, 2});
  b.node("Add", {"d", "a4"}, {"sum2"}, "b2_add");
  b.node("Relu", {"sum2"}, {"o2"}, "b2_relu2");
  b.node("Conv", {"o2", "Wh"}, {"y"}, "head");
  // The stem's output read once more after block 1: its buffer must not be written in place.
  if (stem_read_again) b.node("Add", {"s", "s"}, {"stem_sum"}, "stem_again");
  return b;
}

TEST(ResidualFusion, BasicBlocksEqualTheUnfusedGraph) {
  const Tensor x = Tensor::from<float>({2, 3, 8, 8}, random_values(2 * 3 * 64, 10, 2.f));
  LoadOptions raw;
  raw.run_passes = false;
  for (int64_t channels : {16, 8}) {
    for (bool again : {false, true}) {
      SCOPED_TRACE(testing::Message() << channels << " channels, stem read again: " << again);
      const Graph g = basic_blocks(channels, again).load();
      // Both Adds and their Relus are gone into a conv: block 1's into its second conv, block
      // 2's into whichever conv comes first in the node order (the shortcut is ready there).
      const Ops ops = ops_of(g);
      EXPECT_EQ(std::count(ops.begin(), ops.end(), "Add"), again ? 1 : 0);
      EXPECT_EQ(std::count(ops.begin(), ops.end(), "Relu"), 0);
      const Node* b1 = find_node(g, "b1_conv2");
      ASSERT_NE(b1, nullptr);
      EXPECT_EQ(b1->attr_int(kResidualAddAttr, 0), 1);
      EXPECT_EQ(b1->attr_string("activation", ""), "Relu");
      // (The stem's second reader, an Add that is a graph output, keeps it and so block 1 plain.)
      EXPECT_EQ(b1->has_attr(kBlockedOutputAttr), channels == 16 && !again);
      const Node* b2 = find_node(g, "b2_down");  // the Add's first operand, ready at the Add
      ASSERT_NE(b2, nullptr);
      EXPECT_EQ(b2->attr_int(kResidualAddAttr, 0), 1);
      EXPECT_EQ(b2->inputs.at(3), find_node(g, "b2_conv2")->outputs.at(0));
      const std::vector<Tensor> want = run_graph(basic_blocks(channels, again).load(raw), {x}, 1);
      for (int threads : {1, 2}) {
        const std::vector<Tensor> got = run_graph(g, {x}, threads);
        ASSERT_EQ(got.size(), want.size());
        for (size_t k = 0; k < got.size(); ++k) expect_close(got[k], want[k]);
      }
    }
  }
}

// Add(x, Conv(x)): the shortcut is also the conv's input; and the block's sum a graph output.
TEST(ResidualFusion, ShortcutThatIsTheConvInputAndSumAsGraphOutput) {
  ModelBuilder b(13);
  b.input("x", {1, 16, 5, 7}).output("y", {1, 16, 5, 7});
  b.initializer("W", {16, 16, 3, 3}, random_values(16 * 16 * 9, 20, 0.3f));
  b.initializer("W0", {16, 16, 1, 1}, random_values(16 * 16, 21));
  b.node("Conv", {"x", "W0"}, {"t"}, "pre");
  set_attr(b.node("Conv", {"t", "W"}, {"c"}, "conv"), "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Add", {"t", "c"}, {"y"}, "add");
  const Graph g = b.load();
  ASSERT_EQ(ops_of(g), (Ops{"Conv", "Conv"}));
  EXPECT_EQ(g.nodes[1].attr_int(kResidualAddAttr, 0), 1);
  EXPECT_FALSE(g.nodes[1].has_attr("activation"));
  LoadOptions raw;
  raw.run_passes = false;
  const Tensor x = Tensor::from<float>({1, 16, 5, 7}, random_values(16 * 35, 22));
  const Tensor want = run_graph(b.load(raw), {x}, 1).at(0);
  for (int threads : {1, 2}) expect_close(run_graph(g, {x}, threads).at(0), want);
}

// Without activation fusion (the graph NaN inputs run), the Add stays.
TEST(ResidualFusion, OffWithoutActivationFusion) {
  LoadOptions o;
  o.fuse_activations = false;
  const Ops ops = ops_of(basic_blocks(16, false).load(o));
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "Add"), 2);
}

}  // namespace
}  // namespace eff
