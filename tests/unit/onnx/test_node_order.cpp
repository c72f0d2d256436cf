// Node order on load: models whose node list is not topologically sorted are sorted (stable, like
// ONNX Runtime), cycles are refused naming their nodes.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/executor.h"
#include "model_builder.h"

namespace eff {
namespace {

using test::ModelBuilder;
using test::ops_of;

std::vector<std::string> names_of(const Graph& g) {
  std::vector<std::string> names;
  for (const Node& n : g.nodes) names.push_back(n.name);
  return names;
}

std::string model_error_of(const ModelBuilder& b) {
  try {
    b.load();
  } catch (const ModelError& e) {
    return e.what();
  }
  return "no ModelError";
}

LoadOptions no_passes() {
  LoadOptions o;
  o.run_passes = false;
  return o;
}

TEST(NodeOrder, ConsumerBeforeProducerIsSortedAndRuns) {
  // Written backwards: 'late' (Relu) consumes 'a', which 'early' (Sigmoid) makes.
  ModelBuilder b;
  b.input("x", {1, 2}).output("y", {1, 2});
  b.node("Relu", {"a"}, {"y"}, "late");
  b.node("Sigmoid", {"x"}, {"a"}, "early");
  Graph g = b.load(no_passes());
  EXPECT_EQ(names_of(g), (std::vector<std::string>{"early", "late"}));

  Executor ex(std::move(g));
  std::vector<Tensor> out = ex.run({Tensor::from<float>({1, 2}, {0.0f, -2.0f})});
  // sigmoid(0) = 0.5; sigmoid(-2) = 1 / (1 + e^2) = 0.119203; Relu keeps both (positive).
  EXPECT_FLOAT_EQ(out[0].data<float>()[0], 0.5f);
  EXPECT_NEAR(out[0].data<float>()[1], 1.0 / (1.0 + std::exp(2.0)), 1e-6);
}

TEST(NodeOrder, SortedGraphKeepsItsOrderAndTiesKeepFileOrder) {
  // Two independent branches interleaved in the file, joined at the end: already sorted, so the
  // order must not change (b1, c1, b2, c2 are all legal positions as written).
  ModelBuilder b;
  b.input("x", {1, 2}).output("y", {1, 2});
  b.node("Relu", {"x"}, {"b1"}, "b1");
  b.node("Sigmoid", {"x"}, {"c1"}, "c1");
  b.node("Neg", {"b1"}, {"b2"}, "b2");
  b.node("Abs", {"c1"}, {"c2"}, "c2");
  b.node("Add", {"b2", "c2"}, {"y"}, "join");
  EXPECT_EQ(names_of(b.load(test::structure_only())), (std::vector<std::string>{"b1", "c1", "b2", "c2", "join"}));

  // The same nodes reversed: every node becomes ready only after its producer; among nodes ready
  // at once the one earlier in the file goes first. Reversed file order: join, c2, b2, c1, b1.
  // Ready at start: c1 (file index 3) and b1 (4) -> c1 first; then c2 (1) is ready and comes
  // before b1 (4); then b1, b2, join.
  ModelBuilder r;
  r.input("x", {1, 2}).output("y", {1, 2});
  r.node("Add", {"b2", "c2"}, {"y"}, "join");
  r.node("Abs", {"c1"}, {"c2"}, "c2");
  r.node("Neg", {"b1"}, {"b2"}, "b2");
  r.node("Sigmoid", {"x"}, {"c1"}, "c1");
  r.node("Relu", {"x"}, {"b1"}, "b1");
  EXPECT_EQ(names_of(r.load(test::structure_only())), (std::vector<std::string>{"c1", "c2", "b1", "b2", "join"}));
}

TEST(NodeOrder, NodeUsingAConstantNodeDefinedLaterIsSorted) {
  // The fp16 export pattern: the first node consumes a value made by a node at the end.
  ModelBuilder b;
  b.input("x", {1, 2}).output("y", {1, 2});
  b.node("Mul", {"x", "k"}, {"y"}, "scale");
  auto& c = b.node("Constant", {}, {"k"}, "k_const");
  test::set_attr(c, "value", ModelBuilder::float_tensor("", {1}, {3.0f}));
  Graph g = b.load(no_passes());
  ASSERT_EQ(ops_of(g), std::vector<std::string>{"Mul"});  // the Constant became a constant value
  Executor ex(std::move(g));
  std::vector<Tensor> out = ex.run({Tensor::from<float>({1, 2}, {1.0f, -2.0f})});
  EXPECT_FLOAT_EQ(out[0].data<float>()[0], 3.0f);   // 1 x 3
  EXPECT_FLOAT_EQ(out[0].data<float>()[1], -6.0f);  // -2 x 3
}

TEST(NodeOrder, CycleIsRefusedNamingItsNodes) {
  // x -> first -> a -> second -> b -> third -> c, and first also reads c: first, second and third
  // form a cycle; 'tail' hangs off it and must not be named.
  ModelBuilder b;
  b.input("x", {1, 2}).output("y", {1, 2});
  b.node("Add", {"x", "c"}, {"a"}, "first");
  b.node("Relu", {"a"}, {"b"}, "second");
  b.node("Neg", {"b"}, {"c"}, "third");
  b.node("Abs", {"c"}, {"y"}, "tail");
  const std::string msg = model_error_of(b);
  EXPECT_EQ(msg.rfind("model.onnx: the graph has a cycle: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("'first' (Add)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'second' (Relu)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'third' (Neg)"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("tail"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(NodeOrder, NodeReadingItsOwnOutputIsACycle) {
  ModelBuilder b;
  b.input("x", {1, 2}).output("y", {1, 2});
  b.node("Add", {"x", "y"}, {"y"}, "loop");
  const std::string msg = model_error_of(b);
  EXPECT_NE(msg.find("cycle: 'loop' (Add) -> 'loop' (Add)"), std::string::npos) << msg;
}

}  // namespace
}  // namespace eff
