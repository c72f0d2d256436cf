// A residual block's Add (and its Relu) fused into the DeftLayer conv that produces one operand
// (deft/deft_model.cpp fuse_residuals; the AMX conv's epilogue, the other kernels' add pass): a
// hand-computed case, and resnet with every layer rewritten, fused against unfused, bit for bit,
// on 1 and 2 threads, in the formats whose convs run on different kernels.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "../onnx/model_builder.h"
#include "deft/conv_amx.h"
#include "deft/deft_layer.h"
#include "deft/deft_model.h"
#include "engine/executor.h"
#include "engine/model.h"

namespace eff::deft {
namespace {

using test::ModelBuilder;
using test::random_values;
using test::set_attr;

int count_ops(const Graph& g, const std::string& op) {
  int k = 0;
  for (const Node& n : g.nodes) k += n.op == op;
  return k;
}

// `batch` images of random values in the model's input shape.
Tensor random_input(const Model& m, int64_t batch, unsigned seed) {
  Shape shape = m.input_shape();
  shape[0] = batch;
  Tensor x(DType::kFloat32, shape);
  const std::vector<float> values = random_values(static_cast<size_t>(x.numel()), seed);
  std::memcpy(x.data<float>(), values.data(), values.size() * sizeof(float));
  return x;
}

Tensor run_once(const Graph& g, const Tensor& x, int threads) {
  ExecutorOptions o;
  o.threads = threads;
  Executor ex(g, o);
  ex.run({x});
  return ex.run({x})[0];  // the second run reuses pooled buffers
}

// y = Relu(Conv1x1 stride 2 (x; w = [[1, -1], [2, 0.5]], b = [0.5, -1]) + s): the conv reads pixel
// (0, 0) only, x there = (1, 3): conv = (1 - 3 + 0.5, 2 + 1.5 - 1) = (-1.5, 2.5); s = (3, -4):
// sum (1.5, -1.5), Relu (1.5, 0). Every value is exact in bf16, so every format gives these.
TEST(DeftResidual, HandComputedConvAddRelu) {
  ModelBuilder b(13);
  b.input("x", {1, 2, 2, 2}).input("s", {1, 2, 1, 1}).output("y", {1, 2, 1, 1});
  b.initializer("W", {2, 2, 1, 1}, {1.f, -1.f, 2.f, 0.5f});
  b.initializer("B", {2}, {0.5f, -1.f});
  auto& conv = b.node("Conv", {"x", "W", "B"}, {"c"}, "conv");
  set_attr(conv, "strides", std::vector<int64_t>{2, 2});
  b.node("Add", {"c", "s"}, {"sum"}, "add");
  b.node("Relu", {"sum"}, {"y"}, "relu");
  const Graph base = b.load();
  Tensor x(DType::kFloat32, {1, 2, 2, 2}), s(DType::kFloat32, {1, 2, 1, 1});
  const float xs[] = {1, 9, 9, 9, 3, 9, 9, 9}, ss[] = {3, -4};
  std::memcpy(x.data<float>(), xs, sizeof xs);
  std::memcpy(s.data<float>(), ss, sizeof ss);
  for (const char* format : {"fp32", "deft16", "bf16dot"}) {
    SCOPED_TRACE(format);
    const DeftModelPlan plan = plan_deft(base, parse_deft_choice(format, "--deft"), nullptr, 0, 1);
    ASSERT_EQ(plan.layers.size(), 1u);
    LoadOptions lo;
    lo.layer_rewrite = [&](Graph& g) { apply_deft(g, plan); };
    const Graph g = b.load(lo);
    ASSERT_EQ(g.nodes.size(), 1u);
    EXPECT_EQ(g.nodes[0].op, kDeftLayerOp);
    EXPECT_EQ(g.nodes[0].inputs.size(), 4u);
    EXPECT_EQ(g.nodes[0].attr_string("activation", ""), "Relu");
    ExecutorOptions o;
    o.threads = 1;
    Executor ex(g, o);
    const Tensor y = ex.run({x, s})[0];
    ASSERT_EQ(y.shape(), (Shape{1, 2, 1, 1}));
    EXPECT_EQ(y.data<float>()[0], 1.5f);
    EXPECT_EQ(y.data<float>()[1], 0.f);
  }
}

// One block, Relu(Conv3x3(x) + s), random values, the fused node's own output compared (a 1-ulp
// change in the order of the sums shows here; after a bf16 layer it would be rounded away): 40
// filters (a filter tail), 32 input channels (the AMX conv for bf16dot) and 4 (the small-channel
// direct conv), stride 1 and 2, three formats, 1 and 2 threads.
TEST(DeftResidual, FusedBlockEqualsUnfusedBitForBit) {
  for (int64_t c : {32, 4}) {
    for (int64_t stride : {1, 2}) {
      SCOPED_TRACE(testing::Message() << c << " channels, stride " << stride);
      const int64_t m = 40, hw = 9, out = (hw + 2 - 3) / stride + 1;
      ModelBuilder b(13);
      b.input("x", {2, c, hw, hw}).input("s", {2, m, out, out}).output("y", {2, m, out, out});
      b.initializer("W", {m, c, 3, 3}, random_values(static_cast<size_t>(m * c * 9), 3, 0.3f));
      b.initializer("B", {m}, random_values(static_cast<size_t>(m), 4));
      auto& conv = b.node("Conv", {"x", "W", "B"}, {"c"}, "conv");
      set_attr(conv, "pads", std::vector<int64_t>{1, 1, 1, 1});
      set_attr(conv, "strides", std::vector<int64_t>{stride, stride});
      b.node("Add", {"c", "s"}, {"sum"}, "add");
      b.node("Relu", {"sum"}, {"y"}, "relu");
      const Graph base = b.load();
      Tensor x(DType::kFloat32, {2, c, hw, hw}), s(DType::kFloat32, {2, m, out, out});
      const auto xv = random_values(static_cast<size_t>(x.numel()), 5),
                 sv = random_values(static_cast<size_t>(s.numel()), 6);
      std::memcpy(x.data<float>(), xv.data(), xv.size() * sizeof(float));
      std::memcpy(s.data<float>(), sv.data(), sv.size() * sizeof(float));
      for (const char* format : {"bf16dot", "fp32", "deft16q"}) {
        SCOPED_TRACE(format);
        const DeftModelPlan plan = plan_deft(base, parse_deft_choice(format, "--deft"), nullptr, 0, 1);
        Tensor want;
        for (int fuse = 0; fuse < 2; ++fuse) {
          LoadOptions lo;
          lo.layer_rewrite = [&](Graph& g) { apply_deft(g, plan, fuse == 1); };
          const Graph g = b.load(lo);
          EXPECT_EQ(g.nodes.size(), fuse ? 1u : 3u);
          for (int threads : {1, 2}) {
            ExecutorOptions o;
            o.threads = threads;
            Executor ex(g, o);
            const Tensor y = ex.run({x, s})[0];
            if (!want.defined()) want = y;
            ASSERT_EQ(y.shape(), want.shape());
            EXPECT_EQ(std::memcmp(y.data<float>(), want.data<float>(), static_cast<size_t>(y.numel()) * 4), 0)
                << "fused " << fuse << ", " << threads << " threads";
          }
        }
        int positive = 0;  // the Relu left both signs' worth of work
        for (int64_t i = 0; i < want.numel(); ++i) positive += want.data<float>()[i] > 0;
        EXPECT_GT(positive, want.numel() / 4);
        EXPECT_LT(positive, want.numel() * 3 / 4);
      }
    }
  }
}

// resnet's three residual Adds and their Relus go into the DeftLayer convs (the AMX epilogue for
// bf16dot where the CPU has it; the im2col GEMM then the add pass for fp32 and deft16q), and the
// outputs are the unfused graph's bit for bit, on 1 and 2 threads.
TEST(DeftResidual, FusedEqualsUnfusedBitForBitOnResnet) {
  Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/resnet.onnx");
  const Tensor x = random_input(m, 3, 11);
  for (const char* format : {"bf16dot", "fp32", "deft16q"}) {
    SCOPED_TRACE(format);
    const DeftModelPlan plan = plan_deft(m.graph, parse_deft_choice(format, "--deft"), nullptr, 0, 1);
    Graph graphs[2];
    for (int fuse = 0; fuse < 2; ++fuse) {
      LoadOptions lo = m.load_options;
      lo.layer_rewrite = [&](Graph& g) { apply_deft(g, plan, fuse == 1); };
      graphs[fuse] = load_onnx(m.path, lo);
    }
    EXPECT_EQ(count_ops(graphs[0], "Add"), 3);
    EXPECT_EQ(count_ops(graphs[1], "Add"), 0);
    EXPECT_EQ(count_ops(graphs[1], "Relu"), 0);
    int fused = 0;
    for (const Node& n : graphs[1].nodes) fused += n.op == kDeftLayerOp && n.inputs.size() == 4;
    EXPECT_EQ(fused, 3);
    const Tensor want = run_once(graphs[0], x, 1);
    for (int threads : {1, 2}) {
      SCOPED_TRACE(threads);
      const Tensor got = run_once(graphs[1], x, threads);
      ASSERT_EQ(got.shape(), want.shape());
      EXPECT_EQ(std::memcmp(got.data<float>(), want.data<float>(), static_cast<size_t>(got.numel()) * sizeof(float)),
                0);
      if (threads == 2) {
        const Tensor unfused = run_once(graphs[0], x, 2);
        EXPECT_EQ(std::memcmp(unfused.data<float>(), want.data<float>(), static_cast<size_t>(got.numel()) * 4), 0);
      }
    }
  }
}

// A plan's per-layer thread cap (`optimize` writes 1 where a team costs more than it saves) and the
// pairs of layers reading one input (resnet's conv1 + shortcut, run at once on two threads when both
// are capped) change no bit: resnet on bf16dot (AMX where present) with every layer capped at one
// thread, with every other layer capped, and uncapped, run on 2 threads, against the graph without
// pairs on one thread.
TEST(DeftResidual, LayerThreadCapsChangeNoBit) {
  Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/resnet.onnx");
  const Tensor x = random_input(m, 2, 12);
  const DeftModelPlan plan = plan_deft(m.graph, parse_deft_choice("bf16dot", "--deft"), nullptr, 0, 1);
  auto graph_of = [&](const DeftModelPlan& p, bool pairs) {
    LoadOptions lo = m.load_options;
    lo.layer_rewrite = [&](Graph& g) { apply_deft(g, p, true, pairs); };
    return load_onnx(m.path, lo);
  };
  const Graph unpaired = graph_of(plan, false);
  EXPECT_EQ(count_ops(unpaired, kDeftLayerOp), 10);
  const Tensor want = run_once(unpaired, x, 1);
  for (int every : {1, 2, 0}) {
    SCOPED_TRACE(every);
    DeftModelPlan capped = plan;
    for (size_t i = 0; i < capped.layers.size(); ++i) capped.layers[i].threads = every && i % every == 0 ? 1 : 0;
    const Graph g = graph_of(capped, true);
    EXPECT_EQ(count_ops(g, kDeftLayerOp), 8);  // two pairs
    int caps = 0;
    for (const Node& n : g.nodes)
      caps += n.op == kDeftLayerOp ? (n.attr_int("threads", 0) == 1) + (n.attr_int("pair.threads", 0) == 1) : 0;
    EXPECT_EQ(caps, every == 0 ? 0 : every == 1 ? 10 : 5);
    const Tensor got = run_once(g, x, 2);
    ASSERT_EQ(got.shape(), want.shape());
    EXPECT_EQ(std::memcmp(got.data<float>(), want.data<float>(), static_cast<size_t>(got.numel()) * sizeof(float)), 0);
  }
}

}  // namespace
}  // namespace eff::deft
