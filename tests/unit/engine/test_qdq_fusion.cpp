// QDQ models run as ONNX Runtime runs them: the fusion pass (graph/qdq_fusion_pass.cpp) turns
// DQ -> op -> Q groups into integer ops, whose kernels follow MLAS's arithmetic. Golden values are
// worked out by hand in the comments (ties, saturation, zero points).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "../onnx/model_builder.h"
#include "engine/executor.h"
#include "engine/value_transform.h"
#include "onnx/loader.h"
#include "op_test_util.h"

namespace eff {
namespace {

using op_test::int_attr;
using op_test::ints_attr;
using test::ModelBuilder;
using test::set_attr;

using op_test::F;
using op_test::I32;
using op_test::I8;
using op_test::U8;

// op_test::OpSpec has no constructor argument for constant inputs; the QLinearConv case needs one.
struct Spec {
  std::string op;
  std::vector<std::optional<Tensor>> inputs;
  std::map<std::string, Attribute> attrs = {};
  int num_outputs = 1;
  std::vector<int> constant_inputs = {};
};

using op_test::ints;
using op_test::run1;

// ---- kernels -----------------------------------------------------------------------------------

TEST(QdqKernels, QLinearAddRoundsAsOnnxRuntimeOnX86) {
  // a: scale 0.5, zero 10; b: scale 0.25, zero 20; c: scale 1, zero 100. Ratios 0.5 and 0.25,
  // fixed part 100 - (0.5 * 10 + 0.25 * 20) = 90; c = a * 0.5 + b * 0.25 + 90:
  //   (11, 20) -> 5.5 + 5 + 90 = 100.5 -> 100 (tie to even)
  //   (13, 20) -> 6.5 + 5 + 90 = 101.5 -> 102 (tie to even)
  //   (10, 22) -> 5 + 5.5 + 90 = 100.5 -> 100
  //   (0, 0)   -> 90
  //   (255, 255) -> 127.5 + 63.75 + 90 = 281.25 -> 281 -> saturated 255
  const Tensor y = run1({"QLinearAdd",
                         {U8({5}, {11, 13, 10, 0, 255}), F({}, {0.5f}), U8({}, {10}), U8({5}, {20, 20, 22, 0, 255}),
                          F({}, {0.25f}), U8({}, {20}), F({}, {1.0f}), U8({}, {100})}});
  EXPECT_EQ(y.dtype(), DType::kUInt8);
  EXPECT_EQ(ints(y), (std::vector<int64_t>{100, 102, 100, 90, 255}));
  // int8, zero points -3, 5, 0, scales 1, 1, 2: c = (a + 3) / 2 + (b - 5) / 2 = (a + b - 2) / 2
  //   (1, 2) -> 0.5 -> 0; (2, 3) -> 1.5 -> 2; (-128, -128) -> -129 -> saturated -128; (127, 127) -> 126
  const Tensor z = run1({"QLinearAdd",
                         {I8({4}, {1, 2, -128, 127}), F({}, {1.0f}), I8({}, {-3}), I8({4}, {2, 3, -128, 127}),
                          F({}, {1.0f}), I8({}, {5}), F({}, {2.0f}), I8({}, {0})}});
  EXPECT_EQ(ints(z), (std::vector<int64_t>{0, 2, -128, 126}));
}

TEST(QdqKernels, QLinearGlobalAveragePoolRequantizesTheIntegerSum) {
  // 2x2 images, x: scale 0.5, zero 10; y: scale 0.25, zero 5. scale = 0.5 / (0.25 * 4) = 0.5.
  //   [10, 10, 10, 13]: 43 - 40 = 3 -> 1.5 -> 2 (tie to even) + 5 = 7
  //   [0, 0, 0, 1]: 1 - 40 = -39 -> -19.5, clamped to 0 - 5 = -5 -> 0
  //   [255 x 4]: 1020 - 40 = 980 -> 490, clamped to 255 - 5 = 250 -> 255
  const Tensor y = run1({"QLinearGlobalAveragePool",
                         {U8({1, 3, 2, 2}, {10, 10, 10, 13, 0, 0, 0, 1, 255, 255, 255, 255}), F({}, {0.5f}),
                          U8({}, {10}), F({}, {0.25f}), U8({}, {5})}});
  EXPECT_EQ(y.shape(), (Shape{1, 3, 1, 1}));
  EXPECT_EQ(ints(y), (std::vector<int64_t>{7, 0, 255}));
}

TEST(QdqKernels, QLinearMatMulAddsAGemmBias) {
  // a - 10 = [0, 10], b = [[3, 1], [4, -1]]: sums [40, -10]; + bias [8, -2] = [48, -12];
  // multiplier 0.5 * 0.25 / 2 = 0.0625: [3, -0.75] -> [3, -1]; + 100 = [103, 99].
  const Tensor y = run1({"QLinearMatMul",
                         {U8({1, 2}, {10, 20}), F({}, {0.5f}), U8({}, {10}), I8({2, 2}, {3, 1, 4, -1}), F({}, {0.25f}),
                          I8({}, {0}), F({}, {2.0f}), U8({}, {100}), I32({2}, {8, -2})}});
  EXPECT_EQ(ints(y), (std::vector<int64_t>{103, 99}));
}

TEST(QdqKernels, QLinearConvOnOneDnnPadsWithTheZeroPoint) {
  // x = 1..9 with zero point 1 (x - 1 = 0..8), w = [[1, 0], [0, -1]], pads 1: the sums of
  // ConvIntegerPadsWithTheZeroPoint; scales 1, output zero point 128: sum + 128.
  const Tensor y = run1({"QLinearConv",
                         {U8({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), F({}, {1.0f}), U8({}, {1}),
                          I8({1, 1, 2, 2}, {1, 0, 0, -1}), F({}, {1.0f}), I8({}, {0}), F({}, {1.0f}), U8({}, {128})},
                         {{"pads", ints_attr({1, 1, 1, 1})}},
                         1,
                         {3}});
  EXPECT_EQ(ints(y),
            (std::vector<int64_t>{128, 127, 126, 128, 125, 124, 124, 130, 122, 124, 124, 133, 128, 134, 135, 136}));
}

// The oneDNN int8 path (symmetric int8 weights) against the direct integer loops (asymmetric
// weights: a zero point of -1 on every code + 1 gives the same centred weights), on layers big
// enough for oneDNN's JIT kernels: dense and depthwise 3x3 with padding and stride, and 1x1.
TEST(QdqKernels, QLinearConvOnOneDnnEqualsTheIntegerLoops) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> code(0, 255), weight(-127, 126);
  struct Case {
    int64_t c, m, k, group, stride, pad;
  };
  for (const Case cs : {Case{32, 32, 3, 1, 1, 1}, Case{32, 32, 3, 32, 2, 1}, Case{48, 16, 1, 1, 1, 0}}) {
    const Shape xs{2, cs.c, 9, 9};
    std::vector<uint8_t> x(static_cast<size_t>(shape_numel(xs)));
    for (auto& v : x) v = static_cast<uint8_t>(code(rng));
    const Shape ws{cs.m, cs.c / cs.group, cs.k, cs.k};
    std::vector<int8_t> w(static_cast<size_t>(shape_numel(ws))), w_plus(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      w[i] = static_cast<int8_t>(weight(rng));
      w_plus[i] = static_cast<int8_t>(w[i] + 1);
    }
    std::vector<float> scales(static_cast<size_t>(cs.m));
    std::vector<int32_t> bias(static_cast<size_t>(cs.m));
    for (int64_t c = 0; c < cs.m; ++c) {
      scales[c] = 0.001f * static_cast<float>(1 + c % 7);
      bias[c] = static_cast<int32_t>(c * 37 - 500);
    }
    const std::map<std::string, Attribute> attrs{{"group", int_attr(cs.group)},
                                                 {"strides", ints_attr({cs.stride, cs.stride})},
                                                 {"pads", ints_attr({cs.pad, cs.pad, cs.pad, cs.pad})}};
    std::string impl;
    auto run = [&](const std::vector<int8_t>& wv, int8_t wz) {
      const Spec spec{"QLinearConv",
                      {U8(xs, x), F({}, {0.05f}), U8({}, {77}), I8(ws, wv), F({cs.m}, scales),
                       I8({cs.m}, std::vector<int8_t>(static_cast<size_t>(cs.m), wz)), F({}, {0.2f}), U8({}, {120}),
                       I32({cs.m}, bias)},
                      attrs,
                      1,
                      {3}};
      std::vector<Tensor> runtime;
      ExecutorOptions options;
      options.threads = 1;
      Executor ex(op_test::one_node_graph(spec, runtime), options);
      Tensor y = ex.run(runtime).at(0);
      impl = ex.kernel_impl(0);
      return y;
    };
    const Tensor fast = run(w, 0);
    EXPECT_NE(impl.find("dnnl:"), std::string::npos) << impl;  // oneDNN's int8 kernel ran
    const Tensor loops = run(w_plus, 1);
    EXPECT_EQ(impl, "integer loops");
    ASSERT_EQ(fast.shape(), loops.shape());
    EXPECT_EQ(ints(fast), ints(loops)) << "c=" << cs.c << " group=" << cs.group << " k=" << cs.k;
  }
}

// ---- the fusion pass ---------------------------------------------------------------------------

onnx::TensorProto& int_initializer(ModelBuilder& b, const std::string& name, int type, Shape dims,
                                   std::vector<int32_t> values) {
  auto& t = *b.graph().add_initializer();
  t.set_name(name);
  t.set_data_type(type);
  for (int64_t d : dims) t.add_dims(d);
  for (int32_t v : values) t.add_int32_data(v);
  return t;
}

// x -> Q(0.5, 10) -> DQ -> Conv 1x1 (DQ of int8 [2, -1] per channel [0.25, 0.5], DQ of int32 bias
// [3, -2] at scale 0.5 * w_scale) -> [Relu] -> Q(0.25, zero) -> DQ -> y.
ModelBuilder qdq_conv_model(bool relu, int y_zero) {
  using onnx::TensorProto;
  ModelBuilder b(13);
  b.input("x", {1, 1, 1, 2}).output("y", {1, 2, 1, 2});
  b.initializer("xs", {}, {0.5f});
  b.initializer("ws", {2}, {0.25f, 0.5f});
  b.initializer("bs", {2}, {0.125f, 0.25f});
  b.initializer("ys", {}, {0.25f});
  int_initializer(b, "xz", TensorProto::UINT8, {}, {10});
  int_initializer(b, "yz", TensorProto::UINT8, {}, {y_zero});
  int_initializer(b, "wq", TensorProto::INT8, {2, 1, 1, 1}, {2, -1});
  int_initializer(b, "bq", TensorProto::INT32, {2}, {3, -2});
  b.node("QuantizeLinear", {"x", "xs", "xz"}, {"xq"}, "quant_x");
  b.node("DequantizeLinear", {"xq", "xs", "xz"}, {"xd"}, "dequant_x");
  set_attr(b.node("DequantizeLinear", {"wq", "ws"}, {"w"}, "dequant_w"), "axis", int64_t{0});
  set_attr(b.node("DequantizeLinear", {"bq", "bs"}, {"bias"}, "dequant_b"), "axis", int64_t{0});
  b.node("Conv", {"xd", "w", "bias"}, {relu ? "conv_out" : "pre_q"}, "conv");
  if (relu) b.node("Relu", {"conv_out"}, {"pre_q"}, "relu");
  b.node("QuantizeLinear", {"pre_q", "ys", "yz"}, {"yq"}, "quant_y");
  b.node("DequantizeLinear", {"yq", "ys", "yz"}, {"y"}, "dequant_y");
  return b;
}

bool has_op(const Graph& g, const std::string& op) {
  return std::any_of(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.op == op; });
}

TEST(QdqFusion, ConvGroupBecomesQLinearConvWithTheBiasCodes) {
  const Graph g = qdq_conv_model(true, 0).load();
  EXPECT_TRUE(has_op(g, "QLinearConv"));
  EXPECT_FALSE(has_op(g, "Conv"));
  EXPECT_FALSE(has_op(g, "Relu"));  // zero point 0 is uint8's lowest code: the Q's saturation is the Relu
  const Node* conv = g.find_node("conv");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->op, "QLinearConv");  // the layer keeps its name
  ExecutorOptions options;
  options.threads = 1;
  Executor ex(g, options);
  // x = [3, -1] -> codes [16, 8] -> x - 10 = [6, -2]. Channel 0: 6 * 2 + 3 = 15, -2 * 2 + 3 = -1;
  // multiplier 0.5 * 0.25 / 0.25 = 0.5 -> 7.5 -> 8, -0.5 -> -0 -> [8, 0] (0 is also the Relu's).
  // Channel 1: 6 * -1 - 2 = -8, -2 * -1 - 2 = 0; multiplier 0.5 * 0.5 / 0.25 = 1 -> [-8 -> 0, 0].
  // y = codes * 0.25 = [2, 0, 0, 0].
  const Tensor y = ex.run({F({1, 1, 1, 2}, {3.0f, -1.0f})}).at(0);
  EXPECT_EQ(y.to_f32_vector(), (std::vector<float>{2.0f, 0.0f, 0.0f, 0.0f}));
}

TEST(QdqFusion, ReluStaysWhenTheZeroPointIsNotTheLowestCode) {
  const Graph g = qdq_conv_model(true, 100).load();
  EXPECT_TRUE(has_op(g, "Conv"));
  EXPECT_FALSE(has_op(g, "QLinearConv"));
  const Graph plain = qdq_conv_model(false, 100).load();
  EXPECT_TRUE(has_op(plain, "QLinearConv"));
  // Without the Relu, zero point 100: channel 0 [8, -0.5 -> 0] + 100 = [108, 100], channel 1
  // [-8, 0] + 100 = [92, 100]; y = (codes - 100) * 0.25 = [2, 0, -2, 0].
  ExecutorOptions options;
  options.threads = 1;
  Executor ex(plain, options);
  EXPECT_EQ(ex.run({F({1, 1, 1, 2}, {3.0f, -1.0f})}).at(0).to_f32_vector(),
            (std::vector<float>{2.0f, 0.0f, -2.0f, 0.0f}));
}

// Value hooks act on a QDQ layer's dequantized floats: with fuse_qdq off (what the CLI sets when
// hooks are given) the layer stays a float Conv, and the executor accepts a hook on it.
TEST(QdqFusion, OffKeepsTheFloatLayerForValueHooks) {
  LoadOptions keep;
  keep.fuse_qdq = false;
  const Graph g = qdq_conv_model(false, 100).load(keep);
  EXPECT_TRUE(has_op(g, "Conv"));
  EXPECT_FALSE(has_op(g, "QLinearConv"));
  ExecutorOptions options;
  options.threads = 1;
  LayerTransform prune;
  prune.prune_threshold = 0.5f;
  options.transforms["conv"] = prune;
  EXPECT_NO_THROW(Executor(g, options));
  // Fused, the same hook is refused: the layer computes on 8-bit codes.
  EXPECT_THROW(Executor(qdq_conv_model(false, 100).load(), options), UnsupportedError);
}

}  // namespace
}  // namespace eff
