// Graph passes on hand-built ONNX models. Expected weights are computed by hand from the
// BatchNormalization formula; structure checks say which nodes must remain and what they read.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "../onnx/model_builder.h"
#include "data/npy.h"
#include "engine/executor.h"
#include "engine/kernel.h"
#include "graph/passes.h"
#include "onnx/loader.h"

namespace eff {
namespace {

using test::ModelBuilder;
using test::ops_of;
using test::set_attr;
using test::structure_only;
using Ops = std::vector<std::string>;

const Node& only_node(const Graph& g) {
  EXPECT_EQ(g.nodes.size(), 1u) << ::testing::PrintToString(ops_of(g));
  return g.nodes.at(0);
}

std::vector<float> constant_input(const Graph& g, const Node& n, int i) {
  EXPECT_TRUE(g.is_constant(n.input(i))) << n.name << " input " << i;
  return g.constant(n.input(i)).to_f32_vector();
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6f) << "element " << i;
}

// ---- Identity / Dropout ------------------------------------------------------------------------

TEST(Passes, DropoutAndIdentityAreRemoved) {
  ModelBuilder b;
  b.input("x", {1, 4}).output("y", {1, 4});
  b.initializer("ratio", {}, {0.3f});
  b.node("Sigmoid", {"x"}, {"s"}, "sig");
  b.node("Dropout", {"s", "ratio"}, {"d", ""}, "drop");
  b.node("Identity", {"d"}, {"i"}, "ident");
  b.node("Relu", {"i"}, {"y"}, "relu");
  Graph g = b.load(structure_only());
  EXPECT_EQ(ops_of(g), (Ops{"Sigmoid", "Relu"}));
  EXPECT_EQ(g.value(g.nodes[1].inputs[0]).name, "s");
  EXPECT_EQ(g.value(g.outputs[0]).name, "y");
}

TEST(Passes, RemovedNodeFeedingAGraphOutputKeepsTheOutputName) {
  ModelBuilder b;
  b.input("x", {1, 4}).output("y", {1, 4});
  b.node("Sigmoid", {"x"}, {"s"}, "sig");
  b.node("Dropout", {"s"}, {"y"}, "drop");
  Graph g = b.load(structure_only());
  const Node& n = only_node(g);
  EXPECT_EQ(n.op, "Sigmoid");
  EXPECT_EQ(g.value(n.outputs[0]).name, "y");
  EXPECT_EQ(g.outputs[0], n.outputs[0]);
  EXPECT_EQ(g.value(g.outputs[0]).shape, (Shape{1, 4}));
}

TEST(Passes, IdentityBetweenGraphInputAndOutputStays) {
  ModelBuilder b;
  b.input("x", {1, 4}).output("y", {1, 4});
  b.node("Identity", {"x"}, {"y"}, "ident");
  Graph g = b.load(structure_only());
  EXPECT_EQ(only_node(g).op, "Identity");
}

TEST(Passes, IdentityOfAConstantOutputBecomesTheConstant) {
  ModelBuilder b;
  b.input("x", {1, 2}).output("y", {2}).output("z", {1, 2});
  b.initializer("w", {2}, {4, 5});
  b.node("Identity", {"w"}, {"y"}, "ident");
  b.node("Relu", {"x"}, {"z"}, "relu");
  Graph g = b.load(structure_only());
  EXPECT_EQ(ops_of(g), (Ops{"Relu"}));
  EXPECT_EQ(g.constant(g.outputs[0]).to_f32_vector(), (std::vector<float>{4, 5}));
  EXPECT_EQ(g.value(g.outputs[0]).name, "y");
}

TEST(Passes, DropoutWhoseMaskIsReadStays) {
  ModelBuilder b;
  b.input("x", {1, 4}).output("y", {1, 4}).output("mask", {1, 4}, onnx::TensorProto::BOOL);
  b.node("Dropout", {"x"}, {"y", "mask"}, "drop");
  Graph g = b.load(structure_only());
  EXPECT_EQ(only_node(g).op, "Dropout");
}

// ---- BatchNormalization folding --------------------------------------------------------------

// BN parameters chosen so that var + eps is a perfect square:
//   eps = 1, gamma = {1, 2}, var = {3, 0}  =>  s = gamma / sqrt(var + eps) = {0.5, 2}
//   beta = {0.5, 0}, mean = {1, 0}
void add_batchnorm(ModelBuilder& b, const std::string& in, const std::string& out) {
  b.initializer("gamma", {2}, {1, 2});
  b.initializer("beta", {2}, {0.5f, 0});
  b.initializer("mean", {2}, {1, 0});
  b.initializer("var", {2}, {3, 0});
  set_attr(b.node("BatchNormalization", {in, "gamma", "beta", "mean", "var"}, {out}, "bn"), "epsilon", 1.0f);
}

TEST(Passes, BatchNormFoldsIntoConv) {
  ModelBuilder b;
  b.input("x", {1, 2, 3, 3}).output("y", {1, 2, 3, 3});
  b.initializer("W", {2, 1, 1, 1}, {2, 3});
  b.initializer("B", {2}, {1, -1});
  set_attr(b.node("Conv", {"x", "W", "B"}, {"c"}, "conv"), "group", int64_t{2});
  add_batchnorm(b, "c", "y");
  Graph g = b.load(structure_only());
  const Node& conv = only_node(g);
  EXPECT_EQ(conv.op, "Conv");
  EXPECT_EQ(conv.origin, (std::vector<std::string>{"conv", "bn"}));
  EXPECT_EQ(g.value(conv.outputs[0]).name, "y");
  // w' = w * s = {2 * 0.5, 3 * 2};  b' = (b - mean) * s + beta = {(1 - 1) * 0.5 + 0.5, (-1 - 0) * 2 + 0}
  expect_near(constant_input(g, conv, 1), {1, 6});
  expect_near(constant_input(g, conv, 2), {0.5f, -2});
  EXPECT_EQ(g.constant(conv.inputs[1]).shape(), (Shape{2, 1, 1, 1}));
}

TEST(Passes, BatchNormFoldCreatesAMissingBias) {
  ModelBuilder b;
  b.input("x", {1, 1, 3, 3}).output("y", {1, 2, 3, 3});
  b.initializer("W", {2, 1, 1, 1}, {2, 3});
  b.node("Conv", {"x", "W"}, {"c"}, "conv");
  add_batchnorm(b, "c", "y");
  Graph g = b.load(structure_only());
  const Node& conv = only_node(g);
  expect_near(constant_input(g, conv, 1), {1, 6});
  // b' = (0 - mean) * s + beta = {-1 * 0.5 + 0.5, 0 * 2 + 0}
  expect_near(constant_input(g, conv, 2), {0, 0});
}

TEST(Passes, BatchNormFoldsIntoGemmPerOutputColumn) {
  ModelBuilder b;
  b.input("x", {1, 3}).output("y", {1, 2});
  b.initializer("Bt", {2, 3}, {1, 2, 3, 4, 5, 6});  // transB: row m holds output m's weights
  b.initializer("C", {2}, {1, -1});
  auto& gemm = b.node("Gemm", {"x", "Bt", "C"}, {"g"}, "gemm");
  set_attr(gemm, "transB", int64_t{1});
  set_attr(gemm, "beta", 2.0f);
  add_batchnorm(b, "g", "y");
  Graph g = b.load(structure_only());
  const Node& n = only_node(g);
  EXPECT_EQ(n.op, "Gemm");
  expect_near(constant_input(g, n, 1), {0.5f, 1, 1.5f, 8, 10, 12});
  // Seen bias beta * C = {2, -2}; b' = {(2 - 1) * 0.5 + 0.5, (-2 - 0) * 2 + 0}, and beta becomes 1.
  expect_near(constant_input(g, n, 2), {1, -4});
  EXPECT_EQ(n.attr_float("beta", 0), 1.0f);
}

TEST(Passes, BatchNormFoldsIntoConvTransposeAlongItsOutputAxis) {
  // ConvTranspose weights are [C_in, C_out / group, k, k]: with one input channel both weights
  // belong to row 0 but to different output channels.
  ModelBuilder b;
  b.input("x", {1, 1, 2, 2}).output("y", {1, 2, 2, 2});
  b.initializer("W", {1, 2, 1, 1}, {2, 3});
  b.node("ConvTranspose", {"x", "W"}, {"c"}, "deconv");
  add_batchnorm(b, "c", "y");
  Graph g = b.load(structure_only());
  const Node& n = only_node(g);
  expect_near(constant_input(g, n, 1), {1, 6});
  expect_near(constant_input(g, n, 2), {0, 0});
}

TEST(Passes, BatchNormFoldsIntoGroupedConvTranspose) {
  ModelBuilder b;
  b.input("x", {1, 2, 2, 2}).output("y", {1, 2, 2, 2});
  b.initializer("W", {2, 1, 1, 1}, {2, 3});  // group 2: input channel c feeds output channel c
  set_attr(b.node("ConvTranspose", {"x", "W"}, {"c"}, "deconv"), "group", int64_t{2});
  add_batchnorm(b, "c", "y");
  Graph g = b.load(structure_only());
  expect_near(constant_input(g, only_node(g), 1), {1, 6});
}

TEST(Passes, BatchNormStaysWhenTheConvOutputIsAlsoReadElsewhere) {
  ModelBuilder b;
  b.input("x", {1, 1, 3, 3}).output("y", {1, 2, 3, 3}).output("c", {1, 2, 3, 3});
  b.initializer("W", {2, 1, 1, 1}, {2, 3});
  b.node("Conv", {"x", "W"}, {"c"}, "conv");
  add_batchnorm(b, "c", "y");
  Graph g = b.load(structure_only());
  EXPECT_EQ(ops_of(g), (Ops{"Conv", "BatchNormalization"}));
  expect_near(constant_input(g, g.nodes[0], 1), {2, 3});  // untouched
}

// ---- Relu fusion -------------------------------------------------------------------------------

TEST(Passes, ReluFusesIntoConvGemmAndMatMul) {
  ModelBuilder b;
  b.input("x", {1, 1, 2, 2}).output("y", {1, 2});
  b.initializer("W", {2, 1, 1, 1}, {1, -1});
  b.initializer("shape", {2}, {0, 0});
  b.initializer_i64("flat", {2}, {1, 8});
  b.initializer("M", {8, 4}, std::vector<float>(32, 0.5f));
  b.initializer("G", {4, 2}, std::vector<float>(8, 0.25f));
  b.node("Conv", {"x", "W"}, {"c"}, "conv");
  b.node("Relu", {"c"}, {"cr"}, "relu1");
  b.node("Reshape", {"cr", "flat"}, {"f"}, "flatten");
  b.node("MatMul", {"f", "M"}, {"m"}, "matmul");
  b.node("Relu", {"m"}, {"mr"}, "relu2");
  b.node("Gemm", {"mr", "G"}, {"gm"}, "gemm");
  b.node("Relu", {"gm"}, {"y"}, "relu3");
  Graph g = b.load(structure_only());
  EXPECT_EQ(ops_of(g), (Ops{"Conv", "Reshape", "MatMul", "Gemm"}));
  const char* relus[] = {"relu1", "relu2", "relu3"};
  int k = 0;
  for (const Node& n : g.nodes) {
    if (n.op == "Reshape") continue;
    EXPECT_EQ(n.attrs.at("activation").kind, Attribute::Kind::kString);
    EXPECT_EQ(n.attr_string("activation", ""), "Relu");
    EXPECT_EQ(n.origin, (std::vector<std::string>{n.name, relus[k++]}));
  }
  EXPECT_EQ(g.value(g.nodes.back().outputs[0]).name, "y");
}

TEST(Passes, ReluFusionCanBeTurnedOffAndNeedsASoleConsumer) {
  ModelBuilder b;
  b.input("x", {1, 1, 2, 2}).output("y", {1, 2, 2, 2}).output("c", {1, 2, 2, 2});
  b.initializer("W", {2, 1, 1, 1}, {1, -1});
  b.node("Conv", {"x", "W"}, {"c"}, "conv");
  b.node("Relu", {"c"}, {"y"}, "relu");
  Graph g = b.load(structure_only());
  EXPECT_EQ(ops_of(g), (Ops{"Conv", "Relu"}));  // c is a graph output too

  ModelBuilder s;
  s.input("x", {1, 1, 2, 2}).output("y", {1, 2, 2, 2});
  s.initializer("W", {2, 1, 1, 1}, {1, -1});
  s.node("Conv", {"x", "W"}, {"c"}, "conv");
  s.node("Relu", {"c"}, {"y"}, "relu");
  LoadOptions off = structure_only();
  off.fuse_activations = false;
  Graph h = s.load(off);
  EXPECT_EQ(ops_of(h), (Ops{"Conv", "Relu"}));
  EXPECT_FALSE(h.nodes[0].has_attr("activation"));
}

TEST(Passes, ConvBatchNormReluBecomesOneNode) {
  ModelBuilder b;
  b.input("x", {1, 1, 3, 3}).output("y", {1, 2, 3, 3});
  b.initializer("W", {2, 1, 1, 1}, {2, 3});
  b.node("Conv", {"x", "W"}, {"c"}, "conv");
  add_batchnorm(b, "c", "n");
  b.node("Relu", {"n"}, {"y"}, "relu");
  Graph g = b.load(structure_only());
  const Node& n = only_node(g);
  EXPECT_EQ(n.origin, (std::vector<std::string>{"conv", "bn", "relu"}));
  EXPECT_EQ(n.attr_string("activation", ""), "Relu");
}

// ---- HardSwish ---------------------------------------------------------------------------------

TEST(Passes, HardSwishSpelledWithClipIsFused) {
  ModelBuilder b(11);
  b.input("x", {1, 4}).output("y", {1, 4});
  b.initializer("three", {}, {3});
  b.initializer("zero", {}, {0});
  b.initializer("six", {}, {6});
  b.node("Add", {"x", "three"}, {"a"}, "add");
  b.node("Clip", {"a", "zero", "six"}, {"c"}, "clip");
  b.node("Mul", {"x", "c"}, {"m"}, "mul");
  b.node("Div", {"m", "six"}, {"y"}, "div");
  Graph g = b.load(structure_only());
  const Node& n = only_node(g);
  EXPECT_EQ(n.op, "HardSwish");
  EXPECT_EQ(g.value(n.inputs.at(0)).name, "x");
  EXPECT_EQ(n.inputs.size(), 1u);
  EXPECT_EQ(g.value(n.outputs.at(0)).name, "y");
  EXPECT_EQ(n.origin, (std::vector<std::string>{"add", "clip", "mul", "div"}));
}

TEST(Passes, HardSwishOtherSpellingsAreFused) {
  // x * (Clip(3 + x) * (1/6)) with opset-10 Clip attributes.
  ModelBuilder b(10);
  b.input("x", {1, 4}).output("y", {1, 4});
  b.initializer("three", {1}, {3});
  b.initializer("sixth", {}, {1.0f / 6.0f});
  b.node("Add", {"three", "x"}, {"a"}, "add");
  auto& clip = b.node("Clip", {"a"}, {"c"}, "clip");
  set_attr(clip, "min", 0.0f);
  set_attr(clip, "max", 6.0f);
  b.node("Mul", {"c", "sixth"}, {"d"}, "scale");
  b.node("Mul", {"d", "x"}, {"y"}, "mul");
  Graph g = b.load(structure_only());
  EXPECT_EQ(only_node(g).op, "HardSwish");
  EXPECT_EQ(g.nodes[0].origin.size(), 4u);

  // x * HardSigmoid(x; alpha = 1/6, beta = 0.5)
  ModelBuilder h(13);
  h.input("x", {1, 4}).output("y", {1, 4});
  auto& hs = h.node("HardSigmoid", {"x"}, {"s"}, "hsig");
  set_attr(hs, "alpha", 1.0f / 6.0f);
  set_attr(hs, "beta", 0.5f);
  h.node("Mul", {"x", "s"}, {"y"}, "mul");
  Graph hg = h.load(structure_only());
  EXPECT_EQ(only_node(hg).op, "HardSwish");
  EXPECT_EQ(hg.nodes[0].origin, (std::vector<std::string>{"hsig", "mul"}));
}

TEST(Passes, NearMissesOfHardSwishAreLeftAlone) {
  // Clip without a min (only max): x * min(x + 3, 6) / 6 is not HardSwish.
  ModelBuilder b(11);
  b.input("x", {1, 4}).output("y", {1, 4});
  b.initializer("three", {}, {3});
  b.initializer("six", {}, {6});
  b.node("Add", {"x", "three"}, {"a"}, "add");
  b.node("Clip", {"a", "", "six"}, {"c"}, "clip");
  b.node("Mul", {"x", "c"}, {"m"}, "mul");
  b.node("Div", {"m", "six"}, {"y"}, "div");
  EXPECT_EQ(ops_of(b.load(structure_only())), (Ops{"Add", "Clip", "Mul", "Div"}));

  // The clipped value is also a graph output.
  ModelBuilder o(11);
  o.input("x", {1, 4}).output("y", {1, 4}).output("c", {1, 4});
  o.initializer("three", {}, {3});
  o.initializer("zero", {}, {0});
  o.initializer("six", {}, {6});
  o.node("Add", {"x", "three"}, {"a"}, "add");
  o.node("Clip", {"a", "zero", "six"}, {"c"}, "clip");
  o.node("Mul", {"x", "c"}, {"m"}, "mul");
  o.node("Div", {"m", "six"}, {"y"}, "div");
  EXPECT_EQ(ops_of(o.load(structure_only())), (Ops{"Add", "Clip", "Mul", "Div"}));

  // HardSigmoid with ONNX's default alpha (0.2) is not the HardSwish gate.
  ModelBuilder h(13);
  h.input("x", {1, 4}).output("y", {1, 4});
  h.node("HardSigmoid", {"x"}, {"s"}, "hsig");
  h.node("Mul", {"x", "s"}, {"y"}, "mul");
  EXPECT_EQ(ops_of(h.load(structure_only())), (Ops{"HardSigmoid", "Mul"}));

  // 6 / (x * clip) is not (x * clip) / 6.
  ModelBuilder d(11);
  d.input("x", {1, 4}).output("y", {1, 4});
  d.initializer("three", {}, {3});
  d.initializer("zero", {}, {0});
  d.initializer("six", {}, {6});
  d.node("Add", {"x", "three"}, {"a"}, "add");
  d.node("Clip", {"a", "zero", "six"}, {"c"}, "clip");
  d.node("Mul", {"x", "c"}, {"m"}, "mul");
  d.node("Div", {"six", "m"}, {"y"}, "div");
  EXPECT_EQ(ops_of(d.load(structure_only())), (Ops{"Add", "Clip", "Mul", "Div"}));
}

// ---- constant folding --------------------------------------------------------------------------

bool have_kernels(const Ops& ops) {
  for (const auto& op : ops) {
    if (!find_op(op)) return false;
  }
  return true;
}

// x.view(x.size(0), -1) as torch exports it: Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
ModelBuilder view_batch_model(int64_t batch) {
  ModelBuilder b(13);
  b.input("x", {batch, 3, 4}).output("y", {batch, 12});
  b.initializer_i64("zero", {}, {0});
  b.initializer_i64("axes", {1}, {0});
  b.initializer_i64("minus_one", {1}, {-1});
  b.node("Shape", {"x"}, {"s"}, "shape");
  set_attr(b.node("Gather", {"s", "zero"}, {"n"}, "gather"), "axis", int64_t{0});
  b.node("Unsqueeze", {"n", "axes"}, {"n1"}, "unsqueeze");
  set_attr(b.node("Concat", {"n1", "minus_one"}, {"target"}, "concat"), "axis", int64_t{0});
  b.node("Reshape", {"x", "target"}, {"y"}, "reshape");
  return b;
}

TEST(Passes, ShapeChainFoldsWhenTheShapeIsStatic) {
  if (!have_kernels({"Gather", "Unsqueeze", "Concat"})) GTEST_SKIP() << "Gather/Unsqueeze/Concat kernels missing";
  Graph g = view_batch_model(2).load(structure_only());
  const Node& reshape = only_node(g);
  EXPECT_EQ(reshape.op, "Reshape");
  ASSERT_TRUE(g.is_constant(reshape.inputs[1]));
  EXPECT_EQ(g.constant(reshape.inputs[1]).to_i64_vector(), (std::vector<int64_t>{2, -1}));
}

TEST(Passes, ShapeChainStaysWhenTheBatchIsDynamic) {
  Graph g = view_batch_model(test::kDynamic).load(structure_only());
  EXPECT_EQ(ops_of(g), (Ops{"Shape", "Gather", "Unsqueeze", "Concat", "Reshape"}));
  EXPECT_FALSE(g.is_constant(g.nodes.back().inputs[1]));
}

TEST(Passes, ShapeOfAStaticValueFoldsWithStartAndEnd) {
  ModelBuilder b(15);
  b.input("x", {2, 3, 4}).output("s", {2}, onnx::TensorProto::INT64).output("y", {2, 3, 4});
  set_attr(b.node("Shape", {"x"}, {"s"}, "shape"), "start", int64_t{-2});
  b.node("Relu", {"x"}, {"y"}, "relu");
  Graph g = b.load(structure_only());
  EXPECT_EQ(ops_of(g), (Ops{"Relu"}));
  EXPECT_EQ(g.constant(g.outputs[0]).to_i64_vector(), (std::vector<int64_t>{3, 4}));
}

TEST(Passes, Float16InitializerCastChainFolds) {
  if (!have_kernels({"Cast"})) GTEST_SKIP() << "Cast kernel missing";
  ModelBuilder b(13);
  b.input("x", {1, 2}).output("y", {1, 2});
  auto& w = *b.graph().add_initializer();
  w.set_name("w16");
  w.set_data_type(onnx::TensorProto::FLOAT16);
  w.add_dims(2);
  w.add_int32_data(0x3C00);  // 1.0
  w.add_int32_data(0xC100);  // -2.5
  set_attr(b.node("Cast", {"w16"}, {"w"}, "cast"), "to", int64_t{onnx::TensorProto::FLOAT});
  b.node("Add", {"x", "w"}, {"y"}, "add");
  Graph g = b.load(structure_only());
  const Node& add = only_node(g);
  EXPECT_EQ(add.op, "Add");
  ASSERT_TRUE(g.is_constant(add.inputs[1]));
  const Tensor& folded = g.constant(add.inputs[1]);
  EXPECT_EQ(folded.dtype(), DType::kFloat32);
  EXPECT_EQ(folded.to_f32_vector(), (std::vector<float>{1.0f, -2.5f}));
}

TEST(Passes, ConstantFoldingCanBeTurnedOff) {
  ModelBuilder b(15);
  b.input("x", {2, 3}).output("s", {2}, onnx::TensorProto::INT64);
  b.node("Shape", {"x"}, {"s"}, "shape");
  LoadOptions off = structure_only();
  off.fold_constants = false;
  EXPECT_EQ(ops_of(b.load(off)), (Ops{"Shape"}));
}

// The foreign-exporter fixtures: the passes leave what their README says they exercise.
TEST(Passes, FixtureModelsAfterPasses) {
  const std::string dir = std::string(EFF_SOURCE_DIR) + "/tests/fixtures/models/";
  Graph hs = load_onnx(dir + "hardswish_pattern.onnx", structure_only());
  int hardswish = 0;
  for (const Node& n : hs.nodes) hardswish += n.op == "HardSwish";
  EXPECT_EQ(hardswish, 2);
  EXPECT_NE(hs.find_value("hswish"), kNoValue);

  Graph cw = load_onnx(dir + "constant_weights.onnx", structure_only());
  for (const Node& n : cw.nodes) EXPECT_NE(n.op, "Constant");

  Graph ks = load_onnx(dir + "keras_style.onnx", structure_only());
  for (const Node& n : ks.nodes) EXPECT_NE(n.op, "BatchNormalization");

  if (have_kernels({"Cast"})) {
    Graph fp = load_onnx(dir + "fp16_weights.onnx", structure_only());
    for (const Node& n : fp.nodes) EXPECT_NE(n.op, "Cast");
  }
}

// End to end: the rewritten graphs still compute what ONNX Runtime computed on the original
// files (references in tests/fixtures/models, see its README), with and without Relu fusion.
TEST(Passes, FixtureModelsStillMatchOnnxRuntime) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(EFF_SOURCE_DIR) / "tests/fixtures/models";
  int checked = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".onnx") continue;
    const std::string stem = e.path().stem().string();
    for (bool fuse : {true, false}) {
      SCOPED_TRACE(stem + (fuse ? " (fused)" : " (unfused)"));
      LoadOptions options;
      options.fuse_activations = fuse;
      ExecutorOptions single_thread;
      single_thread.threads = 1;
      Executor ex(load_onnx(e.path().string(), options), single_thread);
      const std::vector<Tensor> outs = ex.run({read_npy((dir / (stem + ".input.npy")).string())});
      for (size_t k = 0; k < outs.size(); ++k) {
        const std::string name = ex.graph().value(ex.graph().outputs[k]).name;
        const Tensor want = read_npy((dir / (stem + "." + name + ".npy")).string());
        ASSERT_EQ(outs[k].shape(), want.shape()) << name;
        const auto got = outs[k].to_f32_vector(), ref = want.to_f32_vector();
        for (size_t i = 0; i < got.size(); ++i) {
          ASSERT_NEAR(got[i], ref[i], 1e-4 + 1e-4 * std::fabs(ref[i])) << name << " element " << i;
        }
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 34);  // 13 models, 17 outputs, twice
}

}  // namespace
}  // namespace eff
