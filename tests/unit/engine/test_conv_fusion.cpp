// Conv fusions and layouts (graph/passes.h fuse_activations, assign_blocked_layouts; conv.cpp):
// fused Clip/HardSwish and channel-blocked activations between convs must compute what the graph
// computes without any pass, and observers must still see plain NCHW tensors. ConvTranspose with
// kernel = stride is checked against its definition written out as loops.
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
using test::ops_of;
using test::random_values;
using test::set_attr;
using Ops = std::vector<std::string>;

std::vector<float> run_model(Graph g, const Tensor& x, int threads, LayerObserver* observer = nullptr) {
  ExecutorOptions o;
  o.threads = threads;
  o.observer = observer;
  Executor ex(std::move(g), o);
  return ex.run({x}).at(0).to_f32_vector();
}

// The default passes without fuse_residual_adds: for the tests of blocked Adds and Relus as nodes
// of their own (test_residual_fusion.cpp covers them fused into the conv).
Graph load_keeping_adds(const ModelBuilder& b) {
  LoadOptions raw;
  raw.run_passes = false;
  Graph g = b.load(raw);
  PassOptions o;
  o.fuse_residual_adds = false;
  run_default_passes(g, o);
  return g;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol * (1 + std::fabs(want[i]))) << i;
}

// An inverted residual block as MobileNets write it: 1x1 expand + Clip(0, 6), 3x3 depthwise +
// HardSwish, 1x1 project, residual Add with the block input (itself a conv output), then a 1x1
// head; 16-channel multiples, so that every activation between stem and head may stay blocked.
ModelBuilder inverted_residual() {
  ModelBuilder b(14);
  b.input("x", {2, 8, 6, 5}).output("y", {2, 16, 6, 5});
  b.initializer("W0", {16, 8, 1, 1}, random_values(16 * 8, 1));
  b.initializer("W1", {32, 16, 1, 1}, random_values(32 * 16, 2));
  b.initializer("B1", {32}, random_values(32, 3));
  b.initializer("W2", {32, 1, 3, 3}, random_values(32 * 9, 4));
  b.initializer("B2", {32}, random_values(32, 5));
  b.initializer("W3", {16, 32, 1, 1}, random_values(16 * 32, 6, 0.3f));
  b.initializer("W4", {16, 16, 1, 1}, random_values(16 * 16, 13));
  b.initializer("lo", {}, {0.f});
  b.initializer("hi", {}, {6.f});
  b.node("Conv", {"x", "W0"}, {"a"}, "stem");
  b.node("Conv", {"a", "W1", "B1"}, {"e"}, "expand");
  b.node("Clip", {"e", "lo", "hi"}, {"ec"}, "clip");
  auto& dw = b.node("Conv", {"ec", "W2", "B2"}, {"d"}, "depthwise");
  set_attr(dw, "group", int64_t{32});
  set_attr(dw, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("HardSwish", {"d"}, {"dh"}, "hardswish");
  b.node("Conv", {"dh", "W3"}, {"p"}, "project");
  b.node("Add", {"a", "p"}, {"r"}, "residual");
  b.node("Conv", {"r", "W4"}, {"y"}, "head");
  return b;
}

TEST(ConvFusion, ClipAndHardSwishFuseIntoConvsAndActivationsStayBlocked) {
  const Graph g = load_keeping_adds(inverted_residual());
  EXPECT_EQ(ops_of(g), (Ops{"Conv", "Conv", "Conv", "Conv", "Add", "Conv"}));
  const Graph fused = inverted_residual().load();
  EXPECT_EQ(ops_of(fused), (Ops{"Conv", "Conv", "Conv", "Conv", "Conv"}));
  EXPECT_EQ(fused.nodes[3].name, "project");
  EXPECT_EQ(fused.nodes[3].attr_int(kResidualAddAttr, 0), 1);
  std::map<std::string, const Node*> by_name;
  for (const Node& n : g.nodes) by_name[n.name] = &n;
  const Node& expand = *by_name.at("expand");
  EXPECT_EQ(expand.attr_string("activation", ""), "Clip");
  EXPECT_EQ(expand.attr_float("activation_min", -1.f), 0.f);
  EXPECT_EQ(expand.attr_float("activation_max", -1.f), 6.f);
  EXPECT_EQ(by_name.at("depthwise")->attr_string("activation", ""), "HardSwish");
  // The stem reads the 8-channel graph input plainly and the head writes the graph output plainly;
  // every activation between them (the Add's operands and result too) stays blocked.
  EXPECT_FALSE(by_name.at("stem")->has_attr(kBlockedInputAttr));
  EXPECT_FALSE(by_name.at("head")->has_attr(kBlockedOutputAttr));
  for (const char* name : {"stem", "expand", "depthwise", "project"}) {
    EXPECT_TRUE(by_name.at(name)->has_attr(kBlockedOutputAttr)) << name;
  }
  for (const char* name : {"expand", "depthwise", "project", "head"}) {
    EXPECT_TRUE(by_name.at(name)->has_attr(kBlockedInputAttr)) << name;
  }
}

TEST(ConvFusion, FusedAndBlockedGraphMatchesTheGraphWithoutPasses) {
  const Tensor x = Tensor::from<float>({2, 8, 6, 5}, random_values(2 * 8 * 6 * 5, 7, 2.f));
  LoadOptions raw;
  raw.run_passes = false;
  const std::vector<float> want = run_model(inverted_residual().load(raw), x, 1);
  // The Clip must have clipped something, or the test would not show the fused bounds work.
  int clipped = 0;
  for (int threads : {1, 2}) {
    const std::vector<float> got = run_model(inverted_residual().load(), x, threads);
    expect_close(got, want);
  }
  ExecutorOptions o;
  o.threads = 1;
  LoadOptions unfused;
  unfused.fuse_activations = false;
  Executor probe(inverted_residual().load(unfused), o);
  struct Count : LayerObserver {
    int* high;
    explicit Count(int* h) : high(h) {}
    void on_layer(const LayerInfo& l, const Tensor&, const Tensor&, const Tensor& out) override {
      if (l.name != "expand") return;
      for (float v : out.to_f32_vector()) *high += v > 6.f || v < 0.f;
    }
  } count(&clipped);
  probe.set_observer(&count);
  probe.run({x});
  EXPECT_GT(clipped, 0);
}

// Records each layer's input activations and output.
struct Recorder : LayerObserver {
  std::map<std::string, std::pair<std::vector<float>, std::vector<float>>> seen;
  std::map<std::string, std::string> activation;
  void on_layer(const LayerInfo& l, const Tensor& a, const Tensor&, const Tensor& out) override {
    seen[l.name] = {a.to_f32_vector(), out.to_f32_vector()};
    activation[l.name] = l.fused_activation;
  }
};

TEST(ConvFusion, ObserversSeePlainActivationsAndOutputsOfBlockedLayers) {
  const Tensor x = Tensor::from<float>({2, 8, 6, 5}, random_values(2 * 8 * 6 * 5, 8, 2.f));
  // Without fusion the Clip/HardSwish nodes sit between the convs; with it the layers' outputs
  // are taken after the fused activation, which the unfused graph's next layer reads as input;
  // the project layer's after the residual Add fused into it (the head's input).
  LoadOptions unfused;
  unfused.fuse_activations = false;
  Recorder plain, blocked;
  run_model(inverted_residual().load(unfused), x, 1, &plain);
  run_model(inverted_residual().load(), x, 1, &blocked);
  ASSERT_EQ(blocked.seen.size(), 5u);
  for (const char* name : {"stem", "expand", "depthwise", "project", "head"}) {
    SCOPED_TRACE(name);
    expect_close(blocked.seen.at(name).first, plain.seen.at(name).first);
  }
  expect_close(blocked.seen.at("stem").second, plain.seen.at("stem").second);
  expect_close(blocked.seen.at("expand").second, plain.seen.at("depthwise").first);   // Clip applied
  expect_close(blocked.seen.at("depthwise").second, plain.seen.at("project").first);  // HardSwish applied
  expect_close(blocked.seen.at("project").second, plain.seen.at("head").first);
  expect_close(blocked.seen.at("head").second, plain.seen.at("head").second);
  EXPECT_EQ(blocked.activation.at("expand"), "Clip");
  EXPECT_EQ(blocked.activation.at("depthwise"), "HardSwish");
  EXPECT_EQ(blocked.activation.at("project"), "");
}

// 24 channels: blocked tensors padded to 32 in storage, between convs only (no Add).
ModelBuilder padded_chain() {
  ModelBuilder b(13);
  b.input("x", {2, 8, 5, 5}).output("y", {2, 16, 5, 5});
  b.initializer("W0", {24, 8, 1, 1}, random_values(24 * 8, 21));
  b.initializer("W1", {24, 1, 3, 3}, random_values(24 * 9, 22));
  b.initializer("W2", {16, 24, 1, 1}, random_values(16 * 24, 23));
  b.node("Conv", {"x", "W0"}, {"a"}, "expand");
  auto& dw = b.node("Conv", {"a", "W1"}, {"d"}, "depthwise");
  set_attr(dw, "group", int64_t{24});
  set_attr(dw, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Relu", {"d"}, {"dr"}, "relu");
  b.node("Conv", {"dr", "W2"}, {"y"}, "project");
  return b;
}

TEST(ConvFusion, PaddedChannelBlocksBetweenConvsWithTransformsAndObservers) {
  const Graph g = padded_chain().load();
  ASSERT_EQ(ops_of(g), (Ops{"Conv", "Conv", "Conv"}));
  EXPECT_TRUE(g.nodes[0].has_attr(kBlockedOutputAttr));
  EXPECT_TRUE(g.nodes[1].has_attr(kBlockedInputAttr));
  EXPECT_TRUE(g.nodes[1].has_attr(kBlockedOutputAttr));
  EXPECT_TRUE(g.nodes[2].has_attr(kBlockedInputAttr));
  const Tensor x = Tensor::from<float>({2, 8, 5, 5}, random_values(2 * 8 * 5 * 5, 24, 2.f));
  LoadOptions raw;
  raw.run_passes = false;
  // Value transforms on the layers reading blocked activations: they must see (and quantize)
  // exactly the plain values.
  ExecutorOptions o;
  o.threads = 1;
  LayerTransform fixed;
  fixed.activations.kind = OperandTransform::kFixedPoint;
  fixed.activations.fixed = {4, 5};
  fixed.prune_threshold = 0.1f;
  LayerTransform uniform;
  uniform.activations.kind = OperandTransform::kUniform8;
  o.transforms["depthwise"] = fixed;
  o.transforms["project"] = uniform;
  Recorder want_seen, got_seen;
  o.observer = &want_seen;
  Executor want_ex(padded_chain().load(raw), o);
  const std::vector<float> want = want_ex.run({x}).at(0).to_f32_vector();
  o.observer = &got_seen;
  Executor got_ex(padded_chain().load(), o);
  for (int run = 0; run < 2; ++run) expect_close(got_ex.run({x}).at(0).to_f32_vector(), want);
  // The unfused graph's project layer reads Relu's output, the fused depthwise writes it.
  expect_close(got_seen.seen.at("depthwise").first, want_seen.seen.at("depthwise").first);
  expect_close(got_seen.seen.at("project").first, want_seen.seen.at("project").first);
  expect_close(got_seen.seen.at("expand").second, want_seen.seen.at("expand").second);
  expect_close(got_seen.seen.at("project").second, want_seen.seen.at("project").second);
}

// Blocked tensors padded past their logical channels share the buffer pool with everything
// else: after an input holding NaN, a clean input must give the clean result (padded lanes must
// not carry NaN into the next conv's sums, where they meet zero weights).
TEST(ConvFusion, PaddedBlocksAfterANaNInputGiveCleanResults) {
  const Tensor x = Tensor::from<float>({2, 8, 5, 5}, random_values(2 * 8 * 5 * 5, 41, 2.f));
  std::vector<float> poisoned = x.to_f32_vector();
  for (size_t i = 0; i < poisoned.size(); i += 7) poisoned[i] = std::nanf("");
  const Tensor bad = Tensor::from<float>({2, 8, 5, 5}, poisoned);
  const std::vector<float> want = run_model(padded_chain().load(), x, 1);
  ExecutorOptions o;
  o.threads = 1;
  Executor ex(padded_chain().load(), o);
  for (int run = 0; run < 3; ++run) {
    ex.run({bad});
    expect_close(ex.run({x}).at(0).to_f32_vector(), want);
  }
}

// An empty input with padding: the first conv's output is its bias alone, written blocked.
TEST(ConvFusion, BiasOnlyOutputInTheBlockedLayout) {
  ModelBuilder b(13);
  b.input("x", {1, 8, 0, 0}).output("y", {1, 16, 2, 2});
  b.initializer("W0", {24, 8, 1, 1}, random_values(24 * 8, 51));
  b.initializer("B0", {24}, random_values(24, 52));
  b.initializer("W1", {16, 24, 1, 1}, random_values(16 * 24, 53));
  auto& c = b.node("Conv", {"x", "W0", "B0"}, {"a"}, "first");
  set_attr(c, "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Conv", {"a", "W1"}, {"y"}, "second");
  const Graph g = b.load();
  ASSERT_TRUE(g.nodes[0].has_attr(kBlockedOutputAttr));
  LoadOptions raw;
  raw.run_passes = false;
  const Tensor x(DType::kFloat32, Shape{1, 8, 0, 0});
  expect_close(run_model(g, x, 1), run_model(b.load(raw), x, 1));
}

// A squeeze-and-excitation block between convs (24 channels: padded blocks): the pooled means and
// the gated activations read the blocked tensor, the gated result stays blocked for the project
// conv. The gate is the Mul's first or second input.
ModelBuilder se_block(bool gate_first) {
  ModelBuilder b(13);
  b.input("x", {2, 8, 5, 6}).output("y", {2, 16, 5, 6});
  b.initializer("W0", {24, 8, 1, 1}, random_values(24 * 8, 61));
  b.initializer("W1", {8, 24, 1, 1}, random_values(8 * 24, 62));
  b.initializer("B1", {8}, random_values(8, 63));
  b.initializer("W2", {24, 8, 1, 1}, random_values(24 * 8, 64));
  b.initializer("W3", {16, 24, 1, 1}, random_values(16 * 24, 65));
  b.node("Conv", {"x", "W0"}, {"a"}, "expand");
  b.node("GlobalAveragePool", {"a"}, {"m"}, "squeeze");
  b.node("Conv", {"m", "W1", "B1"}, {"r"}, "reduce");
  b.node("Relu", {"r"}, {"rr"}, "relu");
  b.node("Conv", {"rr", "W2"}, {"e"}, "excite");
  b.node("HardSigmoid", {"e"}, {"gate"}, "gate");
  b.node("Mul", gate_first ? std::vector<std::string>{"gate", "a"} : std::vector<std::string>{"a", "gate"}, {"s"},
         "scale");
  b.node("Conv", {"s", "W3"}, {"y"}, "project");
  return b;
}

TEST(ConvFusion, SqueezeExcitationBetweenConvsStaysBlocked) {
  const Tensor x = Tensor::from<float>({2, 8, 5, 6}, random_values(2 * 8 * 30, 66, 2.f));
  LoadOptions raw;
  raw.run_passes = false;
  for (bool gate_first : {false, true}) {
    SCOPED_TRACE(gate_first);
    const Graph g = se_block(gate_first).load();
    std::map<std::string, const Node*> by_name;
    for (const Node& n : g.nodes) by_name[n.name] = &n;
    EXPECT_TRUE(by_name.at("expand")->has_attr(kBlockedOutputAttr));
    EXPECT_TRUE(by_name.at("squeeze")->has_attr(kBlockedInputAttr));
    EXPECT_FALSE(by_name.at("reduce")->has_attr(kBlockedInputAttr));
    EXPECT_EQ(by_name.at("scale")->attr_int(kBlockedOperandAttr, -1), gate_first ? 1 : 0);
    EXPECT_TRUE(by_name.at("project")->has_attr(kBlockedInputAttr));
    const std::vector<float> want = run_model(se_block(gate_first).load(raw), x, 1);
    for (int threads : {1, 2}) expect_close(run_model(g, x, threads), want);
  }
}

// EfficientNet's MBConv as torch exports it: SiLU spelled Sigmoid + Mul after the expand and the
// depthwise convs (x read by both), then the project conv. `shared` also feeds the depthwise
// output to the graph output: that SiLU must stay unfused (x is read a third time).
ModelBuilder silu_block(bool shared) {
  ModelBuilder b(13);
  b.input("x", {2, 8, 5, 6}).output("y", {2, 16, 5, 6});
  if (shared) b.output("d", {2, 24, 5, 6});
  b.initializer("W0", {24, 8, 1, 1}, random_values(24 * 8, 71));
  b.initializer("W1", {24, 1, 5, 5}, random_values(24 * 25, 72));
  b.initializer("B1", {24}, random_values(24, 73));
  b.initializer("W2", {16, 24, 1, 1}, random_values(16 * 24, 74));
  b.node("Conv", {"x", "W0"}, {"a"}, "expand");
  b.node("Sigmoid", {"a"}, {"as"}, "expand_sigmoid");
  b.node("Mul", {"a", "as"}, {"am"}, "expand_mul");
  auto& dw = b.node("Conv", {"am", "W1", "B1"}, {"d"}, "depthwise");
  set_attr(dw, "group", int64_t{24});
  set_attr(dw, "pads", std::vector<int64_t>{2, 2, 2, 2});
  b.node("Sigmoid", {"d"}, {"ds"}, "depthwise_sigmoid");
  b.node("Mul", {"ds", "d"}, {"dm"}, "depthwise_mul");
  b.node("Conv", {"dm", "W2"}, {"y"}, "project");
  return b;
}

TEST(ConvFusion, SiluFusesIntoConvsAndActivationsStayBlocked) {
  const Tensor x = Tensor::from<float>({2, 8, 5, 6}, random_values(2 * 8 * 30, 75, 3.f));
  LoadOptions raw;
  raw.run_passes = false;
  const Graph g = silu_block(false).load();
  EXPECT_EQ(ops_of(g), (Ops{"Conv", "Conv", "Conv"}));
  EXPECT_EQ(g.nodes[0].attr_string("activation", ""), "Swish");
  EXPECT_EQ(g.nodes[1].attr_string("activation", ""), "Swish");
  EXPECT_TRUE(g.nodes[0].has_attr(kBlockedOutputAttr));
  EXPECT_TRUE(g.nodes[2].has_attr(kBlockedInputAttr));
  const std::vector<float> want = run_model(silu_block(false).load(raw), x, 1);
  for (int threads : {1, 2}) expect_close(run_model(g, x, threads), want);

  const Graph kept = silu_block(true).load();
  EXPECT_EQ(ops_of(kept), (Ops{"Conv", "Conv", "Sigmoid", "Mul", "Conv"}));
  EXPECT_EQ(kept.nodes[0].attr_string("activation", ""), "Swish");
  EXPECT_FALSE(kept.nodes[1].has_attr("activation"));
}

// A feature pyramid's top-down step: lateral convs, nearest x2 upsampling of the coarse one, Add,
// a 3x3 smoothing conv. Everything between the convs may stay blocked, the Resize included.
ModelBuilder pyramid_step(const std::string& coordinates) {
  ModelBuilder b(13);
  b.input("fine", {1, 8, 6, 4}).input("coarse", {1, 8, 3, 2}).output("y", {1, 8, 6, 4});
  b.initializer("Wf", {16, 8, 1, 1}, random_values(16 * 8, 31));
  b.initializer("Wc", {16, 8, 1, 1}, random_values(16 * 8, 32));
  b.initializer("Ws", {8, 16, 3, 3}, random_values(8 * 16 * 9, 33));
  b.initializer("roi", {0}, {});
  b.initializer("scales", {4}, {1.f, 1.f, 2.f, 2.f});
  b.node("Conv", {"fine", "Wf"}, {"lf"}, "lateral_fine");
  b.node("Conv", {"coarse", "Wc"}, {"lc"}, "lateral_coarse");
  auto& r = b.node("Resize", {"lc", "roi", "scales"}, {"up"}, "upsample");
  set_attr(r, "mode", std::string("nearest"));
  set_attr(r, "coordinate_transformation_mode", coordinates);
  set_attr(r, "nearest_mode", std::string("floor"));
  b.node("Add", {"lf", "up"}, {"sum"}, "merge");
  auto& s = b.node("Conv", {"sum", "Ws"}, {"y"}, "smooth");
  set_attr(s, "pads", std::vector<int64_t>{1, 1, 1, 1});
  return b;
}

TEST(ConvFusion, NearestUpsamplingBetweenConvsStaysBlocked) {
  const Tensor fine = Tensor::from<float>({1, 8, 6, 4}, random_values(8 * 24, 34));
  const Tensor coarse = Tensor::from<float>({1, 8, 3, 2}, random_values(8 * 6, 35));
  LoadOptions raw;
  raw.run_passes = false;
  for (const std::string coordinates : {"asymmetric", "half_pixel"}) {
    SCOPED_TRACE(coordinates);
    const Graph g = pyramid_step(coordinates).load();
    std::map<std::string, const Node*> by_name;
    for (const Node& n : g.nodes) by_name[n.name] = &n;
    const Node& resize = *by_name.at("upsample");
    ASSERT_EQ(resize.op, "Resize");
    // The merge Add went into the fine lateral conv, whose shortcut is the blocked upsampling.
    EXPECT_EQ(by_name.count("merge"), 0u);
    EXPECT_EQ(by_name.at("lateral_fine")->attr_int(kResidualAddAttr, 0), 1);
    // Any coordinate mode stays blocked (ops/resize.cpp run_blocked).
    EXPECT_TRUE(resize.has_attr(kBlockedInputAttr));
    EXPECT_TRUE(by_name.at("smooth")->has_attr(kBlockedInputAttr));
    ExecutorOptions o;
    o.threads = 1;
    Executor want(pyramid_step(coordinates).load(raw), o);
    Executor got(g, o);
    expect_close(got.run({fine, coarse}).at(0).to_f32_vector(), want.run({fine, coarse}).at(0).to_f32_vector());
  }
}

TEST(ConvFusion, ChannelConcatOfPlainValuesWritesBlockedForTheNextConv) {
  // 9x15 = 135 pixels: two whole tiles of the blocked Concat's copy and a partial one.
  ModelBuilder b(13);
  b.input("x", {2, 8, 9, 15}).output("y", {2, 16, 9, 15});
  b.initializer("Wa", {24, 8, 1, 1}, random_values(24 * 8, 71));
  b.initializer("Wb", {12, 8, 3, 3}, random_values(12 * 8 * 9, 72));
  b.initializer("Wc", {16, 36, 1, 1}, random_values(16 * 36, 73));
  b.node("Conv", {"x", "Wa"}, {"a"}, "branch_a");
  auto& cb = b.node("Conv", {"x", "Wb"}, {"b"}, "branch_b");
  set_attr(cb, "pads", std::vector<int64_t>{1, 1, 1, 1});
  set_attr(b.node("Concat", {"a", "b"}, {"cat"}, "concat"), "axis", int64_t{1});
  b.node("Conv", {"cat", "Wc"}, {"y"}, "head");
  const Graph g = b.load();
  std::map<std::string, const Node*> by_name;
  for (const Node& n : g.nodes) by_name[n.name] = &n;
  EXPECT_FALSE(by_name.at("branch_a")->has_attr(kBlockedOutputAttr));  // the Concat reads plain values
  EXPECT_TRUE(by_name.at("concat")->has_attr(kBlockedOutputAttr));     // 36 channels, padded to 48
  EXPECT_TRUE(by_name.at("head")->has_attr(kBlockedInputAttr));
  const Tensor x = Tensor::from<float>({2, 8, 9, 15}, random_values(2 * 8 * 135, 74));
  LoadOptions raw;
  raw.run_passes = false;
  const std::vector<float> want = run_model(b.load(raw), x, 1);
  for (int threads : {1, 2}) expect_close(run_model(g, x, threads), want);
}

TEST(ConvFusion, ClipWithNonConstantBoundsStaysSeparate) {
  ModelBuilder b(13);
  b.input("x", {1, 16, 2, 2}).input("hi", {}).output("y", {1, 16, 2, 2});
  b.initializer("W", {16, 16, 1, 1}, random_values(256, 9));
  b.initializer("lo", {}, {0.f});
  b.node("Conv", {"x", "W"}, {"c"}, "conv");
  b.node("Clip", {"c", "lo", "hi"}, {"y"}, "clip");
  const Graph g = b.load();
  EXPECT_EQ(ops_of(g), (Ops{"Conv", "Clip"}));
  EXPECT_FALSE(g.nodes[0].has_attr("activation"));
}

// y[n, m, kh*i + a, kw*j + b] = bias[m] + sum_c x[n, c, i, j] * w[c, m, a, b]
std::vector<float> patches_reference(const std::vector<float>& x, const std::vector<float>& w,
                                     const std::vector<float>& bias, int64_t N, int64_t C, int64_t H, int64_t W,
                                     int64_t M, int64_t K) {
  std::vector<float> y(N * M * H * K * W * K);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t i = 0; i < H; ++i)
        for (int64_t a = 0; a < K; ++a)
          for (int64_t j = 0; j < W; ++j)
            for (int64_t b = 0; b < K; ++b) {
              double s = bias[m];
              for (int64_t c = 0; c < C; ++c)
                s += double(x[((n * C + c) * H + i) * W + j]) * w[((c * M + m) * K + a) * K + b];
              y[((n * M + m) * H * K + i * K + a) * W * K + j * K + b] = static_cast<float>(s);
            }
  return y;
}

TEST(ConvFusion, ConvTransposeWithKernelEqualToStrideMatchesItsDefinition) {
  // 2x2 with ten output channels and 19 columns: one register-blocked group of eight channels and
  // 16 columns, then the single channels and the column tail; 3x3 the plain loop only.
  struct Case {
    int64_t k, m, w;
  };
  for (const Case& t : {Case{2, 10, 19}, Case{3, 3, 7}}) {
    const int64_t k = t.k;
    for (bool relu : {false, true}) {
      SCOPED_TRACE(k);
      SCOPED_TRACE(relu);
      const int64_t N = 2, C = 5, H = 3, W = t.w, M = t.m;
      ModelBuilder b(13);
      b.input("x", {N, C, H, W}).output("y", {N, M, H * k, W * k});
      const std::vector<float> wv = random_values(C * M * k * k, 10), bv = random_values(M, 11);
      b.initializer("W", {C, M, k, k}, wv);
      b.initializer("B", {M}, bv);
      auto& n = b.node("ConvTranspose", {"x", "W", "B"}, {relu ? "u" : "y"}, "up");
      set_attr(n, "strides", std::vector<int64_t>{k, k});
      if (relu) b.node("Relu", {"u"}, {"y"}, "relu");
      const Graph g = b.load();
      EXPECT_EQ(ops_of(g), Ops{"ConvTranspose"});
      const std::vector<float> xv = random_values(N * C * H * W, 12);
      std::vector<float> want = patches_reference(xv, wv, bv, N, C, H, W, M, k);
      if (relu) {
        for (float& v : want) v = std::max(v, 0.f);
      }
      for (int threads : {1, 2}) {
        expect_close(run_model(g, Tensor::from<float>({N, C, H, W}, xv), threads), want);
      }
    }
  }
}

}  // namespace
}  // namespace eff

namespace eff {
namespace {

// A ResNet basic block: stem conv, conv + Relu (fused), conv, Add with the stem's output, a Relu of
// its own, then a head conv. With whole 16-channel blocks the Add's result and the Relu's stay
// blocked (no reorder to NCHW and back between the blocks); with 12 channels they stay plain.
ModelBuilder basic_block(int64_t c) {
  ModelBuilder b(13);
  b.input("x", {2, 3, 5, 6}).output("y", {2, 8, 5, 6});
  b.initializer("W0", {c, 3, 3, 3}, random_values(c * 27, 81));
  b.initializer("W1", {c, c, 3, 3}, random_values(c * c * 9, 82, 0.3f));
  b.initializer("W2", {c, c, 3, 3}, random_values(c * c * 9, 83, 0.3f));
  b.initializer("W3", {8, c, 1, 1}, random_values(8 * c, 84));
  for (const char* name : {"stem", "conv1", "conv2"}) {
    const std::string w = std::string(name) == "stem" ? "W0" : std::string(name) == "conv1" ? "W1" : "W2";
    const std::string in = std::string(name) == "stem" ? "x" : std::string(name) == "conv1" ? "s" : "r1";
    const std::string out = std::string(name) == "stem" ? "s" : std::string(name) == "conv1" ? "c1" : "c2";
    auto& conv = b.node("Conv", {in, w}, {out}, name);
    set_attr(conv, "pads", std::vector<int64_t>{1, 1, 1, 1});
  }
  b.node("Relu", {"c1"}, {"r1"}, "relu1");
  b.node("Add", {"s", "c2"}, {"sum"}, "residual");
  b.node("Relu", {"sum"}, {"r2"}, "relu2");
  b.node("Conv", {"r2", "W3"}, {"y"}, "head");
  return b;
}

TEST(ConvFusion, ResidualAddAndReluBetweenConvsStayBlocked) {
  const Tensor x = Tensor::from<float>({2, 3, 5, 6}, random_values(2 * 3 * 5 * 6, 85, 2.f));
  LoadOptions raw;
  raw.run_passes = false;
  for (int64_t c : {16, 12}) {
    SCOPED_TRACE(c);
    const Graph g = load_keeping_adds(basic_block(c));
    ASSERT_EQ(ops_of(g), (Ops{"Conv", "Conv", "Conv", "Add", "Relu", "Conv"}));  // relu1 fused into conv1
    std::map<std::string, const Node*> by_name;
    for (const Node& n : g.nodes) by_name[n.name] = &n;
    EXPECT_EQ(by_name.at("conv2")->has_attr(kBlockedOutputAttr), c == 16);
    EXPECT_EQ(by_name.at("head")->has_attr(kBlockedInputAttr), c == 16);
    const std::vector<float> want = run_model(basic_block(c).load(raw), x, 1);
    int negative_sums = 0;  // the Relu must have had something to clamp
    struct Sums : LayerObserver {
      int* negative;
      explicit Sums(int* n) : negative(n) {}
      void on_layer(const LayerInfo& l, const Tensor& a, const Tensor&, const Tensor&) override {
        if (l.name != "head") return;
        for (float v : a.to_f32_vector()) *negative += v == 0.f;
      }
    } sums(&negative_sums);
    // Two chained 3x3 convs (Winograd, rounding ~1e-5 relative here); a layout mistake is O(1).
    for (int threads : {1, 2}) expect_close(run_model(g, x, threads, threads == 1 ? &sums : nullptr), want, 1e-4f);
    EXPECT_GT(negative_sums, 0);
  }
}

// Value transforms run on blocked activations as they are when the channels fill whole blocks:
// per-sample 8-bit ranges and pruning must give what they give on the plain graph.
TEST(ConvFusion, TransformsOnBlockedActivationsMatchThePlainGraph) {
  const Tensor x = Tensor::from<float>({2, 3, 5, 6}, random_values(2 * 3 * 5 * 6, 86, 2.f));
  LoadOptions raw;
  raw.run_passes = false;
  for (int64_t c : {16, 12}) {
    SCOPED_TRACE(c);
    std::vector<std::vector<float>> results;
    for (bool passes : {false, true}) {
      ExecutorOptions o;
      o.threads = 1;
      for (const char* layer : {"conv2", "head"}) {
        LayerTransform t;
        t.activations.kind = OperandTransform::kUniform8;
        t.prune_threshold = 0.05f;
        o.transforms[layer] = t;
      }
      Executor ex(passes ? basic_block(c).load() : basic_block(c).load(raw), o);
      results.push_back(ex.run({x}).at(0).to_f32_vector());
    }
    ASSERT_TRUE(basic_block(16).load().nodes[2].has_attr(kBlockedInputAttr));  // conv2 reads blocked
    // 8-bit steps are ~1e-2 of the range: a transform over the wrong values or ranges shows.
    expect_close(results[1], results[0], 1e-4f);
  }
}
}  // namespace
}  // namespace eff
