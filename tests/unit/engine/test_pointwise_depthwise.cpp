// A 1x1 conv read only by a 3x3 depthwise conv runs as one oneDNN primitive
// (engine/ops/pointwise_depthwise.h): the same bits as the two convs run apart (which an observer
// forces, as it must see the 1x1 conv's output), on 1 and 2 threads, and the pair stays apart
// where the 1x1 conv's output has another reader or a value hook acts on the depthwise layer.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>

#include "../onnx/model_builder.h"
#include "engine/executor.h"

namespace eff {
namespace {

using test::ModelBuilder;
using test::random_values;
using test::set_attr;

// A MobileNetV2 block on a stem: stem 1x1 (8 -> cin), expand 1x1 (cin -> cexp) + activation,
// depthwise 3x3 (padding 1, `stride`) + activation, project 1x1 (cexp -> 16). The activation:
// Clip(0, 6) (MobileNetV2), HardSwish (MobileNetV3) or Swish as x * Sigmoid(x) (EfficientNet).
// With `expanded_read_twice`, the expanded map is also a graph output.
ModelBuilder block(int64_t batch, int64_t cin, int64_t cexp, int64_t hw, int64_t stride, bool expanded_read_twice,
                   const std::string& activation = "Clip") {
  const int64_t out = (hw + stride - 1) / stride;
  ModelBuilder b(14);
  b.input("x", {batch, 8, hw, hw}).output("y", {batch, 16, out, out});
  if (expanded_read_twice) b.output("ec", {batch, cexp, hw, hw});
  b.initializer("W0", {cin, 8, 1, 1}, random_values(cin * 8, 1));
  b.initializer("W1", {cexp, cin, 1, 1}, random_values(cexp * cin, 2, 0.5f));
  b.initializer("B1", {cexp}, random_values(cexp, 3));
  b.initializer("W2", {cexp, 1, 3, 3}, random_values(cexp * 9, 4));
  b.initializer("B2", {cexp}, random_values(cexp, 5));
  b.initializer("W3", {16, cexp, 1, 1}, random_values(16 * cexp, 6, 0.3f));
  b.initializer("lo", {}, {0.f});
  b.initializer("hi", {}, {6.f});
  b.node("Conv", {"x", "W0"}, {"a"}, "stem");
  const auto activate = [&](const std::string& in, const std::string& out) {
    if (activation == "Clip") {
      b.node("Clip", {in, "lo", "hi"}, {out}, out);
    } else if (activation == "HardSwish") {
      b.node("HardSwish", {in}, {out}, out);
    } else {
      b.node("Sigmoid", {in}, {out + "_sigmoid"}, out + "_sigmoid");
      b.node("Mul", {in, out + "_sigmoid"}, {out}, out);
    }
  };
  b.node("Conv", {"a", "W1", "B1"}, {"e"}, "expand");
  activate("e", "ec");
  auto& dw = b.node("Conv", {"ec", "W2", "B2"}, {"d"}, "depthwise");
  set_attr(dw, "group", cexp);
  set_attr(dw, "pads", std::vector<int64_t>{1, 1, 1, 1});
  set_attr(dw, "strides", std::vector<int64_t>{stride, stride});
  activate("d", "dc");
  b.node("Conv", {"dc", "W3"}, {"y"}, "project");
  return b;
}

struct BlockRun {
  std::vector<Tensor> outputs;
  std::string expand_impl;
  std::string expand_op, depthwise_op;  // as bench --per-layer names them
  int expand_layers_seen = 0;           // by the observer, when there is one
};

// Sees every layer; records nothing but that the expand layer was there.
struct Watcher : LayerObserver {
  int expand = 0;
  void on_layer(const LayerInfo& l, const Tensor&, const Tensor&, const Tensor&) override {
    expand += l.name == "expand";
  }
};

BlockRun run_block(const ModelBuilder& b, const Tensor& x, int threads, bool observed,
                   const std::map<std::string, LayerTransform>& transforms = {}) {
  ExecutorOptions o;
  o.threads = threads;
  o.transforms = transforms;
  Executor ex(b.load(), o);
  Watcher watcher;
  if (observed) ex.set_observer(&watcher);
  ex.run({x});
  BlockRun r;
  ex.set_node_timing(true);
  r.outputs = ex.run({x});  // the second run: buffers reused from the pool
  for (const Executor::NodeTime& t : ex.node_times()) {
    if (t.name == "expand") r.expand_op = t.op;
    if (t.name == "depthwise") r.depthwise_op = t.op;
  }
  for (size_t i = 0; i < ex.graph().nodes.size(); ++i) {
    if (ex.graph().nodes[i].name == "expand") r.expand_impl = ex.kernel_impl(i);
  }
  r.expand_layers_seen = watcher.expand;
  return r;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.nbytes() == b.nbytes() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

bool fused(const BlockRun& r) {
  return r.expand_impl.find("depthwise post-op") != std::string::npos;
}

struct Case {
  int64_t batch, cin, cexp, hw, stride;
  const char* activation;
};

// MobileNetV2's first expand/depthwise pair (16 -> 96 channels, 112 x 112, stride 2), for which
// oneDNN 2.6 has a JIT kernel at 1 and 2 threads on AVX-512 (and AVX2) CPUs, and smaller ones
// (24 input channels: a padded channel block) where it may run apart at some thread count; with
// each activation the convs may carry.
TEST(PointwiseDepthwise, OnePrimitiveGivesTheBitsOfTheTwoConvs) {
  const Case cases[] = {{1, 16, 96, 112, 2, "Clip"}, {1, 24, 144, 56, 1, "Clip"},      {2, 24, 144, 28, 2, "Clip"},
                        {1, 32, 64, 7, 1, "Clip"},   {1, 16, 96, 112, 2, "HardSwish"}, {1, 16, 96, 112, 2, "Swish"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "batch " << c.batch << ", " << c.cin << " -> " << c.cexp << " channels, " << c.hw
                                    << "x" << c.hw << ", stride " << c.stride << ", " << c.activation);
    const ModelBuilder b = block(c.batch, c.cin, c.cexp, c.hw, c.stride, false, c.activation);
    const Tensor x = Tensor::from<float>({c.batch, 8, c.hw, c.hw},
                                         random_values(static_cast<size_t>(c.batch * 8 * c.hw * c.hw), 7, 2.f));
    const BlockRun apart = run_block(b, x, 1, true);
    EXPECT_FALSE(fused(apart)) << apart.expand_impl;
    EXPECT_EQ(apart.expand_layers_seen, 2);  // the observer saw the expand layer on each run
    EXPECT_EQ(apart.depthwise_op, "Conv");
    for (int threads : {1, 2}) {
      SCOPED_TRACE(testing::Message() << threads << " thread(s)");
      const BlockRun got = run_block(b, x, threads, false);
      ASSERT_EQ(got.outputs.size(), 1u);
      EXPECT_TRUE(same_bits(got.outputs[0], apart.outputs[0]));
      if (c.hw == 112) {
        EXPECT_TRUE(fused(got)) << got.expand_impl;
        EXPECT_EQ(got.expand_op, "Conv+DepthwiseConv");
        EXPECT_EQ(got.depthwise_op, "(in 1x1 Conv before)");
      }
    }
  }
}

// The expanded map is also a graph output: the caller reads it, so the pair runs apart.
TEST(PointwiseDepthwise, AnExpandedMapReadElsewhereKeepsThePairApart) {
  const ModelBuilder b = block(1, 16, 96, 112, 2, true);
  const Tensor x = Tensor::from<float>({1, 8, 112, 112}, random_values(8 * 112 * 112, 7, 2.f));
  const BlockRun apart = run_block(b, x, 1, true);
  const BlockRun got = run_block(b, x, 2, false);
  EXPECT_FALSE(fused(got)) << got.expand_impl;
  ASSERT_EQ(got.outputs.size(), 2u);
  for (size_t k = 0; k < 2; ++k) EXPECT_TRUE(same_bits(got.outputs[k], apart.outputs[k])) << "output " << k;
}

// A value hook on the depthwise layer (near-zero pruning of its input, the expanded map) must see
// that map: the pair runs apart and gives what the observed, apart run gives with the same hook.
TEST(PointwiseDepthwise, AValueHookOnTheDepthwiseLayerKeepsThePairApart) {
  const ModelBuilder b = block(1, 16, 96, 112, 2, false);
  const Tensor x = Tensor::from<float>({1, 8, 112, 112}, random_values(8 * 112 * 112, 7, 2.f));
  LayerTransform prune;
  prune.prune_threshold = 1.f;
  const std::map<std::string, LayerTransform> hooks = {{"depthwise", prune}};
  const BlockRun plain = run_block(b, x, 2, false);
  const BlockRun apart = run_block(b, x, 1, true, hooks);
  const BlockRun got = run_block(b, x, 2, false, hooks);
  EXPECT_TRUE(fused(plain)) << plain.expand_impl;
  EXPECT_FALSE(fused(got)) << got.expand_impl;
  EXPECT_TRUE(same_bits(got.outputs[0], apart.outputs[0]));
  EXPECT_FALSE(same_bits(got.outputs[0], plain.outputs[0]));  // the hook changed the result
}

}  // namespace
}  // namespace eff
