// Quantization kernels (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger,
// QLinearMatMul, ConvInteger, QLinearConv) on one-node graphs, with every expected value worked out
// by hand in the comments; then the float16 lowering, and the fixture models of
// tests/fixtures/models/quant against the ONNX Runtime outputs stored beside them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>

#include "../onnx/model_builder.h"
#include "data/npy.h"
#include "engine/executor.h"
#include "engine/quantized_layers.h"
#include "onnx/loader.h"
#include "op_test_util.h"

namespace eff {
namespace {

using test::ModelBuilder;
using test::set_attr;

Attribute int_attr(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}
Attribute ints_attr(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}

using op_test::F;
using op_test::I32;
using op_test::I8;
using op_test::U8;

struct OpSpec {
  std::string op;
  std::vector<std::optional<Tensor>> inputs;  // nullopt: omitted optional input
  std::map<std::string, Attribute> attrs = {};
  int num_outputs = 1;
  std::vector<int> constant_inputs = {};  // given as initializers (checked when the model loads)
};

std::vector<Tensor> run_op(const OpSpec& spec) {
  std::vector<Tensor> runtime;
  Graph g = op_test::one_node_graph(spec, runtime);
  ExecutorOptions options;
  options.threads = 1;
  Executor ex(std::move(g), options);
  return ex.run(runtime);
}

Tensor run1(const OpSpec& spec) {
  return run_op(spec).at(0);
}

std::vector<int64_t> ints(const Tensor& t) {
  return t.to_i64_vector();
}

template <class E>
std::string error_of(const OpSpec& spec) {
  try {
    run_op(spec);
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no exception";
}

// ---- QuantizeLinear / DequantizeLinear ---------------------------------------------------------

TEST(QuantOps, QuantizeLinearRoundsHalfToEvenAndSaturates) {
  // scale 2, zero point 128: x / 2 = [0.5, 1.5, 2.5, -0.5, 150, -150, 0.7]
  // half to even -> [0, 2, 2, -0, 150, -150, 1]; + 128 -> [128, 130, 130, 128, 278, -22, 129];
  // saturated to uint8 -> [128, 130, 130, 128, 255, 0, 129].
  const Tensor y = run1({"QuantizeLinear", {F({7}, {1, 3, 5, -1, 300, -300, 1.4f}), F({}, {2.0f}), U8({}, {128})}});
  EXPECT_EQ(y.dtype(), DType::kUInt8);
  EXPECT_EQ(ints(y), (std::vector<int64_t>{128, 130, 130, 128, 255, 0, 129}));
}

// ONNX Runtime 1.30 quantizes NaN to the lowest code (uint8 0, int8 -128) in QuantizeLinear and
// DynamicQuantizeLinear, measured on 37-element tensors with NaN in the vector body and the tail;
// the zero point (what effectual gave) made a NaN image look like a grey one to a QDQ model.
TEST(QuantOps, NaNQuantizesToTheLowestCodeAsOnnxRuntime) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(ints(run1({"QuantizeLinear", {F({3}, {nan, 1, -nan}), F({}, {0.1f}), U8({}, {128})}})),
            (std::vector<int64_t>{0, 138, 0}));
  EXPECT_EQ(ints(run1({"QuantizeLinear", {F({3}, {nan, 1, -nan}), F({}, {0.1f}), I8({}, {3})}})),
            (std::vector<int64_t>{-128, 13, -128}));
  // Range [-1, 2] (NaN ignored): scale 3/255, zero point round(1 / scale) = 85; NaN -> 0.
  const std::vector<Tensor> d = run_op({"DynamicQuantizeLinear", {F({4}, {-1, nan, 2, 0})}, {}, 3});
  EXPECT_EQ(ints(d.at(2)), (std::vector<int64_t>{85}));
  EXPECT_EQ(ints(d.at(0)), (std::vector<int64_t>{0, 0, 255, 85}));
  // All NaN: no range; ORT gives scale NaN, zero point 255 and every code 0 (an all-NaN image then
  // gives NaN scores in a dynamically quantized model, not ordinary-looking ones).
  const std::vector<Tensor> all = run_op({"DynamicQuantizeLinear", {F({3}, {nan, nan, nan})}, {}, 3});
  EXPECT_TRUE(std::isnan(all.at(1).to_f32_vector()[0]));
  EXPECT_EQ(ints(all.at(2)), (std::vector<int64_t>{255}));
  EXPECT_EQ(ints(all.at(0)), (std::vector<int64_t>{0, 0, 0}));
}

TEST(QuantOps, QuantizeLinearWithoutZeroPointIsUint8) {
  // zero point omitted: uint8 with 0; -3 / 1 -> -3 saturates to 0; 2.5 -> 2 (even).
  const Tensor y = run1({"QuantizeLinear", {F({3}, {-3, 2.5f, 7}), F({}, {1.0f})}});
  EXPECT_EQ(y.dtype(), DType::kUInt8);
  EXPECT_EQ(ints(y), (std::vector<int64_t>{0, 2, 7}));
}

TEST(QuantOps, QuantizeLinearPerAxisInt8) {
  // axis 1 of [2, 3]: scales [1, 2, 4], zero points [0, -1, 10].
  // row 0 = 10, 10, 10: 10/1 + 0 = 10; 10/2 - 1 = 4; 10/4 = 2.5 -> 2, + 10 = 12.
  // row 1 = -200, 7, -3: -200 saturates to -128; 7/2 = 3.5 -> 4, - 1 = 3; -3/4 = -0.75 -> -1, + 10 = 9.
  const Tensor y = run1({"QuantizeLinear",
                         {F({2, 3}, {10, 10, 10, -200, 7, -3}), F({3}, {1, 2, 4}), I8({3}, {0, -1, 10})},
                         {{"axis", int_attr(1)}}});
  EXPECT_EQ(y.dtype(), DType::kInt8);
  EXPECT_EQ(ints(y), (std::vector<int64_t>{10, 4, 12, -128, 3, 9}));
}

TEST(QuantOps, DequantizeLinearPerTensorPerAxisAndInt32) {
  // (q - 128) * 0.5 for q = 0, 128, 255: -64, 0, 63.5.
  EXPECT_EQ(run1({"DequantizeLinear", {U8({3}, {0, 128, 255}), F({}, {0.5f}), U8({}, {128})}}).to_f32_vector(),
            (std::vector<float>{-64, 0, 63.5f}));
  // axis 0 of [2, 2], scales [0.25, 2], zero points [0, 5]:
  // row 0: -128 * 0.25 = -32, 127 * 0.25 = 31.75; row 1: (5 - 5) * 2 = 0, (-5 - 5) * 2 = -20.
  EXPECT_EQ(run1({"DequantizeLinear",
                  {I8({2, 2}, {-128, 127, 5, -5}), F({2}, {0.25f, 2}), I8({2}, {0, 5})},
                  {{"axis", int_attr(0)}}})
                .to_f32_vector(),
            (std::vector<float>{-32, 31.75f, 0, -20}));
  // int32 (biases): 1000 * 0.5 = 500, -7 * 0.5 = -3.5.
  EXPECT_EQ(run1({"DequantizeLinear", {I32({2}, {1000, -7}), F({}, {0.5f})}}).to_f32_vector(),
            (std::vector<float>{500, -3.5f}));
}

TEST(QuantOps, DynamicQuantizeLinearFollowsOnnxRuntime) {
  // range [min(0, -0.5), max(0, 2)] = [-0.5, 2]: scale = 2.5 / 255; zero point = 0.5 / scale = 51.
  // y = x / scale + 51: -0.5 -> -51 + 51 = 0; 0 -> 51; 2 -> 204 + 51 = 255; 1 -> 102 + 51 = 153.
  const std::vector<Tensor> out = run_op({"DynamicQuantizeLinear", {F({4}, {-0.5f, 0, 2, 1})}, {}, 3});
  EXPECT_EQ(ints(out[0]), (std::vector<int64_t>{0, 51, 255, 153}));
  EXPECT_FLOAT_EQ(out[1].to_f32_vector()[0], 2.5f / 255.0f);
  EXPECT_EQ(out[2].dtype(), DType::kUInt8);
  EXPECT_EQ(ints(out[2]), (std::vector<int64_t>{51}));
}

// ---- integer products --------------------------------------------------------------------------

TEST(QuantOps, MatMulIntegerWithPerColumnZeroPoints) {
  // A - 1 = [[0, 1, 2], [3, 4, 5]]; B minus column zero points [0, 1] = [[1, -2], [2, -1], [0, 2]].
  // row 0: [0*1 + 1*2 + 2*0, 0*-2 + 1*-1 + 2*2] = [2, 3]
  // row 1: [3*1 + 4*2 + 5*0, 3*-2 + 4*-1 + 5*2] = [11, 0]
  const Tensor y =
      run1({"MatMulInteger",
            {U8({2, 3}, {1, 2, 3, 4, 5, 6}), I8({3, 2}, {1, -1, 2, 0, 0, 3}), U8({}, {1}), I8({2}, {0, 1})}});
  EXPECT_EQ(y.dtype(), DType::kInt32);
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(ints(y), (std::vector<int64_t>{2, 3, 11, 0}));
}

TEST(QuantOps, MatMulIntegerBroadcastsBatches) {
  // A [2, 1, 2] (two 1x2 rows), B [2, 1] shared: [1, 2].[3, 4] = 11, [-1, 0].[3, 4] = -3.
  const Tensor y = run1({"MatMulInteger", {I8({2, 1, 2}, {1, 2, -1, 0}), I8({2, 1}, {3, 4})}});
  EXPECT_EQ(y.shape(), (Shape{2, 1, 1}));
  EXPECT_EQ(ints(y), (std::vector<int64_t>{11, -3}));
}

TEST(QuantOps, QLinearMatMulRequantizesHalfToEven) {
  // a - 10 = [0, 10]; b = [3, 4]: acc = 40; multiplier = 0.5 * 0.25 / 2 = 0.0625;
  // 40 * 0.0625 = 2.5 -> 2 (even), + 100 = 102.
  const Tensor y = run1({"QLinearMatMul",
                         {U8({1, 2}, {10, 20}), F({}, {0.5f}), U8({}, {10}), I8({2, 1}, {3, 4}), F({}, {0.25f}),
                          I8({}, {0}), F({}, {2.0f}), U8({}, {100})}});
  EXPECT_EQ(y.dtype(), DType::kUInt8);
  EXPECT_EQ(ints(y), (std::vector<int64_t>{102}));
}

TEST(QuantOps, ConvIntegerPadsWithTheZeroPoint) {
  // x = 1..9 with zero point 1 -> x' = 0..8 (3x3); w = [[1, 0], [0, -1]]; pads 1 -> 4x4 output,
  // out[i][j] = xp[i][j] - xp[i+1][j+1] with xp the padded x' (padding is the zero point: 0 in x').
  // row 0: 0-0, 0-1, 0-2, 0-0        -> 0, -1, -2, 0
  // row 1: 0-3, 0-4, 1-5, 2-0        -> -3, -4, -4, 2
  // row 2: 0-6, 3-7, 4-8, 5-0        -> -6, -4, -4, 5
  // row 3: 0-0, 6-0, 7-0, 8-0        -> 0, 6, 7, 8
  const Tensor y = run1({"ConvInteger",
                         {U8({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), I8({1, 1, 2, 2}, {1, 0, 0, -1}), U8({}, {1})},
                         {{"pads", ints_attr({1, 1, 1, 1})}},
                         1,
                         {1}});
  EXPECT_EQ(y.dtype(), DType::kInt32);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(ints(y), (std::vector<int64_t>{0, -1, -2, 0, -3, -4, -4, 2, -6, -4, -4, 5, 0, 6, 7, 8}));
}

TEST(QuantOps, QLinearConvPerChannelWithBiasAndGroups) {
  // group 2, 1x1 kernels. x - 10 = [2, 4]; w = [3, -2]; bias = [1, -2]:
  // acc = [2*3 + 1, 4*-2 - 2] = [7, -10]; multipliers x_s * w_s[c] / y_s = 0.5 * [1, 0.5] / 0.25 = [2, 1]
  // -> [14, -10] + 128 = [142, 118].
  const Tensor y = run1({"QLinearConv",
                         {U8({1, 2, 1, 1}, {12, 14}), F({}, {0.5f}), U8({}, {10}), I8({2, 1, 1, 1}, {3, -2}),
                          F({2}, {1.0f, 0.5f}), I8({2}, {0, 0}), F({}, {0.25f}), U8({}, {128}), I32({2}, {1, -2})},
                         {{"group", int_attr(2)}},
                         1,
                         {3}});
  EXPECT_EQ(y.dtype(), DType::kUInt8);
  EXPECT_EQ(ints(y), (std::vector<int64_t>{142, 118}));
}

// ---- bad input: one line naming the node -------------------------------------------------------

TEST(QuantOps, WrongScaleLengthNamesTheNode) {
  // Three scales for an axis of length 2.
  const std::string e = error_of<ShapeError>(
      {"DequantizeLinear", {I8({2, 2}, {1, 2, 3, 4}), F({3}, {1, 1, 1})}, {{"axis", int_attr(0)}}});
  EXPECT_NE(e.find("node 'n0' (DequantizeLinear)"), std::string::npos) << e;
  EXPECT_NE(e.find("3 values"), std::string::npos) << e;
}

TEST(QuantOps, ZeroPointTypeMismatchNamesTheNode) {
  const std::string e = error_of<ShapeError>({"DequantizeLinear", {U8({2}, {1, 2}), F({}, {1.0f}), I8({}, {0})}});
  EXPECT_NE(e.find("node 'n0' (DequantizeLinear)"), std::string::npos) << e;
  EXPECT_NE(e.find("zero point has type int8"), std::string::npos) << e;
}

TEST(QuantOps, AxisOutOfRangeIsRefusedWhenTheModelLoads) {
  // Constant scale and zero point: checked once, when the kernel is made.
  OpSpec spec{"QuantizeLinear", {F({2, 2}, {1, 2, 3, 4}), F({2}, {1, 1}), U8({2}, {0, 0})}, {{"axis", int_attr(3)}}};
  spec.constant_inputs = {1, 2};
  std::string e;
  try {
    run_op(spec);
  } catch (const ModelError& err) {
    e = err.what();
  } catch (const ShapeError& err) {
    e = err.what();
  }
  EXPECT_NE(e.find("node 'n0' (QuantizeLinear)"), std::string::npos) << e;
  EXPECT_NE(e.find("axis 3 is out of range"), std::string::npos) << e;
}

TEST(QuantOps, QLinearConvBiasOfWrongLength) {
  const std::string e =
      error_of<ShapeError>({"QLinearConv",
                            {U8({1, 1, 1, 1}, {1}), F({}, {1.0f}), U8({}, {0}), I8({2, 1, 1, 1}, {1, 1}), F({}, {1.0f}),
                             I8({}, {0}), F({}, {1.0f}), U8({}, {0}), I32({3}, {1, 2, 3})}});
  EXPECT_NE(e.find("node 'n0' (QLinearConv)"), std::string::npos) << e;
  EXPECT_NE(e.find("bias must be 2 int32 values"), std::string::npos) << e;
}

// ---- float16: fp16 storage, fp32 arithmetic ----------------------------------------------------

// fp16 input -> Relu -> Cast(FLOAT) -> Mul(1/3) -> Cast(FLOAT16) -> Add(fp16 constant) -> fp16 output
// y; the Cast(FLOAT16) result widened again is a float32 output z.
ModelBuilder float16_chain() {
  using onnx::TensorProto;
  ModelBuilder b(13);
  b.input("x", {4}, TensorProto::FLOAT16).output("y", {4}, TensorProto::FLOAT16).output("z", {4});
  auto& one = *b.graph().add_initializer();
  one.set_name("one16");
  one.set_data_type(TensorProto::FLOAT16);
  one.add_dims(1);
  one.add_int32_data(0x3C00);  // 1.0
  b.initializer("third", {}, {1.0f / 3.0f});
  b.node("Relu", {"x"}, {"r"}, "relu");
  set_attr(b.node("Cast", {"r"}, {"r32"}, "widen"), "to", int64_t{TensorProto::FLOAT});
  b.node("Mul", {"r32", "third"}, {"m"}, "mul");
  set_attr(b.node("Cast", {"m"}, {"m16"}, "narrow"), "to", int64_t{TensorProto::FLOAT16});
  b.node("Add", {"m16", "one16"}, {"y"}, "add");
  set_attr(b.node("Cast", {"m16"}, {"z"}, "back"), "to", int64_t{TensorProto::FLOAT});
  return b;
}

Tensor halves(const std::vector<uint16_t>& bits) {
  Tensor t(DType::kFloat16, {static_cast<int64_t>(bits.size())});
  std::copy(bits.begin(), bits.end(), static_cast<uint16_t*>(t.raw()));
  return t;
}

std::vector<uint16_t> bits_of(const Tensor& t) {
  const auto* p = static_cast<const uint16_t*>(t.raw());
  return std::vector<uint16_t>(p, p + t.numel());
}

TEST(QuantFloat16, CastToFloat16RoundsInsideTheGraphAndOutputsStayFloat16) {
  ExecutorOptions single;
  single.threads = 1;
  Executor ex(float16_chain().load(), single);
  // x = [1, -2, 3, 0.5] (0x3C00, 0xC000, 0x4200, 0x3800). Relu: [1, 0, 3, 0.5].
  // * (float)(1/3) = [0.33333334, 0, 1, 0.16666667]; to float16 (half to even):
  //   0.33333334 / 2^-12 = 1365.33 -> 1365 * 2^-12 = 0.333251953125; 0.16666667 -> 0.1666259765625.
  // + 1: [1.333251953125, 1, 2, 1.1666259765625]; narrowed on exit (ulp 2^-10 in [1, 2)):
  //   1 + 341.25 ulps -> 1 + 341/1024 = 0x3D55; 1 = 0x3C00; 2 = 0x4000; 1 + 170.625 ulps -> 171: 0x3CAB.
  const std::vector<Tensor> out = ex.run({halves({0x3C00, 0xC000, 0x4200, 0x3800})});
  ASSERT_EQ(out[0].dtype(), DType::kFloat16);
  EXPECT_EQ(bits_of(out[0]), (std::vector<uint16_t>{0x3D55, 0x3C00, 0x4000, 0x3CAB}));
  // z is the float16-rounded product, not 0.33333334 / 0.16666667.
  ASSERT_EQ(out[1].dtype(), DType::kFloat32);
  EXPECT_EQ(out[1].to_f32_vector(), (std::vector<float>{0.333251953125f, 0, 1, 0.1666259765625f}));
}

TEST(QuantFloat16, Float32FedToAFloat16InputIsRoundedToFloat16) {
  ExecutorOptions single;
  single.threads = 1;
  Executor ex(float16_chain().load(), single);
  // 1.0004 is not a float16: rounded on entry to 1 (ulp 2^-10 = 0.00098), so the result is that of
  // x = 1: 1 + 0.333251953125 -> 0x3D55.
  const std::vector<Tensor> out = ex.run({Tensor::from<float>({4}, {1.0004f, 0, 0, 0})});
  ASSERT_EQ(out[0].dtype(), DType::kFloat16);
  EXPECT_EQ(bits_of(out[0])[0], 0x3D55);
}

TEST(QuantFloat16, NoFloat16ValueReachesAKernelExceptAtTheBorders) {
  const Graph g = float16_chain().load();
  for (const Node& n : g.nodes) {
    if (n.op == "Cast") continue;  // the only nodes that read or write float16
    for (ValueId v : n.inputs) EXPECT_NE(g.value(v).dtype, DType::kFloat16) << n.name;
  }
}

// ---- fixture models against ONNX Runtime -------------------------------------------------------

// Runs tests/fixtures/models/quant/NAME.onnx on its stored input; returns each output with the ORT
// reference stored beside it (see tools/make_quant_fixtures.py).
struct FixtureRun {
  Graph graph;
  std::vector<std::pair<Tensor, Tensor>> outputs;  // (ours, ORT's)
};

FixtureRun run_fixture(const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(EFF_SOURCE_DIR) / "tests/fixtures/models/quant";
  ExecutorOptions single;
  single.threads = 1;
  Executor ex(load_onnx((dir / (name + ".onnx")).string()), single);
  const std::vector<Tensor> outs = ex.run({read_npy((dir / (name + ".input.npy")).string())});
  FixtureRun r;
  for (size_t k = 0; k < outs.size(); ++k) {
    const std::string out_name = ex.graph().value(ex.graph().outputs[k]).name;
    r.outputs.emplace_back(outs[k], read_npy((dir / (name + "." + out_name + ".npy")).string()));
  }
  r.graph = ex.graph();
  return r;
}

// The integer paths (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger,
// DynamicQuantizeLinear) are exact integer arithmetic with ORT's float requantization: the
// dequantized outputs are identical to ONNX Runtime's.
TEST(QuantFixtures, QLinearAndIntegerModelsAreIdenticalToOnnxRuntime) {
  for (const std::string name : {"qlinear_ops", "integer_ops"}) {
    const FixtureRun r = run_fixture(name);
    ASSERT_FALSE(r.outputs.empty());
    for (const auto& [got, want] : r.outputs) {
      ASSERT_EQ(got.shape(), want.shape()) << name;
      const auto g = got.to_f32_vector(), w = want.to_f32_vector();
      for (size_t i = 0; i < g.size(); ++i) {
        // integer_ops rescales int32 results with a float Mul, as ORT does: same float operations.
        EXPECT_NEAR(g[i], w[i], 1e-6f * std::fabs(w[i])) << name << " element " << i;
      }
    }
  }
}

// QDQ: the loader fuses DQ -> Conv/Gemm -> Q (and GlobalAveragePool, Reshape) into integer ops as
// ORT does, with ORT's requantization: the codes, and so the dequantized outputs, are ORT's.
TEST(QuantFixtures, QdqModelIsIdenticalToOnnxRuntime) {
  const FixtureRun r = run_fixture("qdq_cnn");
  const auto g = r.outputs.at(0).first.to_f32_vector(), w = r.outputs.at(0).second.to_f32_vector();
  ASSERT_EQ(g.size(), w.size());
  for (size_t i = 0; i < g.size(); ++i) EXPECT_EQ(g[i], w[i]) << "element " << i;
  // Every layer ran on integer codes: no float Conv or Gemm is left.
  for (const Node& n : r.graph.nodes) EXPECT_TRUE(n.op != "Conv" && n.op != "Gemm") << n.name << " " << n.op;
}

// float16: ORT stores every float16 intermediate (each conv, relu, resize, concat output) in
// float16, rounding each time (relative 2^-11 = 4.9e-4); we round only where the model casts. The
// output is a softmax (values in [0, 1]) after three convolutions: a few such roundings stay below
// 1e-3 absolute (measured: at most 4.9e-4, 4 float16 ulps on small probabilities).
TEST(QuantFixtures, Float16ModelTracksOnnxRuntime) {
  const FixtureRun r = run_fixture("fp16_cnn");
  const auto& [got, want] = r.outputs.at(0);
  EXPECT_EQ(got.dtype(), DType::kFloat16);
  ASSERT_EQ(got.shape(), want.shape());
  const auto g = got.to_f32_vector(), w = want.to_f32_vector();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], w[i], 1e-3f) << "element " << i;
}

// ---- quantized layers as profile and simulate see them -----------------------------------------

// x -> QuantizeLinear(0.5, 10 uint8) -> DequantizeLinear -> Conv(DequantizeLinear(w int8 [3, -4],
// per-channel scales [0.25, 0.125], zero points 0)) -> y.
ModelBuilder qdq_conv() {
  using onnx::TensorProto;
  ModelBuilder b(13);
  b.input("x", {1, 1, 2, 2}).output("y", {1, 2, 2, 2});
  b.initializer("xs", {}, {0.5f});
  b.initializer("ws", {2}, {0.25f, 0.125f});
  auto& xz = *b.graph().add_initializer();
  xz.set_name("xz");
  xz.set_data_type(TensorProto::UINT8);
  xz.add_int32_data(10);
  auto& wq = *b.graph().add_initializer();
  wq.set_name("wq");
  wq.set_data_type(TensorProto::INT8);
  for (int64_t d : {2, 1, 1, 1}) wq.add_dims(d);
  wq.add_int32_data(3);
  wq.add_int32_data(-4);
  b.node("QuantizeLinear", {"x", "xs", "xz"}, {"xq"}, "quant");
  b.node("DequantizeLinear", {"xq", "xs", "xz"}, {"xd"}, "dequant");
  set_attr(b.node("DequantizeLinear", {"wq", "ws"}, {"w"}, "dequant_w"), "axis", int64_t{0});
  b.node("Conv", {"xd", "w"}, {"y"}, "conv");
  return b;
}

struct CaptureOperands final : LayerObserver {
  const Graph* graph = nullptr;
  std::vector<int16_t> acts, wgts;
  LayerQuantization q;
  void on_layer(const LayerInfo& layer, const Tensor& a, const Tensor& w, const Tensor&) override {
    q = layer_quantization(*graph, layer);
    acts = activation_codes(q, a);
    wgts = weight_codes(q, w);
  }
};

TEST(QuantLayers, QdqConvOperandsAreTheIntegerCodesMinusZeroPoint) {
  const Graph g = qdq_conv().load();
  const std::vector<LayerInfo> layers = find_layers(g);
  ASSERT_EQ(layers.size(), 1u);  // the weights were folded to a float constant: a layer
  CaptureOperands capture;
  ExecutorOptions options;
  options.threads = 1;
  options.observer = &capture;
  Executor ex(g, options);
  capture.graph = &ex.graph();
  // x / 0.5 = [2, -2, 5.2, 0] -> [2, -2, 5, 0]; + 10 = [12, 8, 15, 10] (uint8); minus the zero
  // point: [2, -2, 5, 0]. Weights: the int8 codes 3 and -4 (zero point 0).
  ex.run({Tensor::from<float>({1, 1, 2, 2}, {1, -1, 2.6f, 0})});
  ASSERT_TRUE(capture.q.present);
  EXPECT_EQ(capture.acts, (std::vector<int16_t>{2, -2, 5, 0}));
  EXPECT_EQ(capture.wgts, (std::vector<int16_t>{3, -4}));
  // uint8 minus 10 spans [-10, 245]: 9 bits with the sign (no Clip bounds the codes). The weights
  // report the width their stored codes use, [-4, 3]: 3 bits (sub-8-bit exports keep their
  // codes in int8).
  EXPECT_EQ(capture.q.act_bits, 9);
  EXPECT_EQ(capture.q.wgt_bits, 3);
  EXPECT_EQ(capture.q.wgt_scale, (std::vector<float>{0.25f, 0.125f}));
}

TEST(QuantLayers, BitsForRange) {
  EXPECT_EQ(bits_for_range(-128, 127), 8);
  EXPECT_EQ(bits_for_range(0, 255), 9);
  EXPECT_EQ(bits_for_range(-1, 0), 1);
  EXPECT_EQ(bits_for_range(-129, 0), 9);
}

// The fixture's per-channel int8 weights, recovered from the folded float weights, are exactly the
// codes stored in the model file.
TEST(QuantLayers, QdqFixtureWeightCodesMatchTheFile) {
  const std::string path = std::string(EFF_SOURCE_DIR) + "/tests/fixtures/models/quant/qdq_cnn.onnx";
  LoadOptions raw;
  raw.run_passes = false;
  const Graph file = load_onnx(path, raw);
  const Graph g = load_onnx(path);
  const std::vector<LayerInfo> layers = find_layers(g);
  ASSERT_EQ(layers.size(), 3u);
  const char* stored[] = {"w1_q", "w2_q", "wf_q"};
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerQuantization q = layer_quantization(g, layers[i]);
    ASSERT_TRUE(q.present) << layers[i].name;
    const Tensor& w = g.constant(layers[i].weights);
    const std::vector<int16_t> codes = weight_codes(q, w);
    const Tensor& file_w = file.constant(file.find_value(stored[i]));
    std::vector<int64_t> want = file_w.to_i64_vector();
    ASSERT_EQ(codes.size(), want.size());
    // The Gemm's [N, K] codes (transB) become QLinearMatMul's [K, N] (the QDQ fusion pass).
    if (file_w.rank() == 2 && w.rank() == 2 && w.dim(0) == file_w.dim(1) && w.dim(0) != w.dim(1)) {
      const int64_t n = file_w.dim(0), k = file_w.dim(1);
      std::vector<int64_t> t(want.size());
      for (int64_t r = 0; r < n; ++r) {
        for (int64_t c = 0; c < k; ++c) t[c * n + r] = want[r * k + c];
      }
      want = t;
    }
    for (size_t k = 0; k < want.size(); ++k) EXPECT_EQ(codes[k], want[k]) << layers[i].name << " " << k;
  }
}

// QLinearConv with constant parameters: a layer whose weights are input 3; its operands are the
// codes minus their zero points.
TEST(QuantLayers, QLinearConvIsALayerOfIntegerCodes) {
  using onnx::TensorProto;
  ModelBuilder b(13);
  b.input("x", {1, 1, 1, 2}, TensorProto::UINT8).output("y", {1, 1, 1, 2}, TensorProto::UINT8);
  auto scalar = [&](const char* name, int type, int32_t v) {
    auto& t = *b.graph().add_initializer();
    t.set_name(name);
    t.set_data_type(type);
    t.add_int32_data(v);
  };
  b.initializer("xs", {}, {0.5f});
  b.initializer("ws", {}, {1.0f});
  b.initializer("ys", {}, {1.0f});
  scalar("xz", TensorProto::UINT8, 10);
  scalar("wz", TensorProto::INT8, 0);
  scalar("yz", TensorProto::UINT8, 0);
  auto& w = *b.graph().add_initializer();
  w.set_name("w");
  w.set_data_type(TensorProto::INT8);
  for (int64_t d : {1, 1, 1, 1}) w.add_dims(d);
  w.add_int32_data(3);
  b.node("QLinearConv", {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz"}, {"y"}, "qconv");
  const Graph g = b.load();
  const std::vector<LayerInfo> layers = find_layers(g);
  ASSERT_EQ(layers.size(), 1u);
  EXPECT_EQ(layers[0].weights, g.find_value("w"));
  CaptureOperands capture;
  ExecutorOptions options;
  options.threads = 1;
  options.observer = &capture;
  Executor ex(g, options);
  capture.graph = &ex.graph();
  // x - 10 = [2, -3]; w = 3 (zero point 0). The output: 0.5 * [6, -9] = [3, -4.5] -> [3, 0]
  // (uint8 saturates -4 to 0; -4.5 rounds to -4, even).
  const std::vector<Tensor> out = ex.run({Tensor::from<uint8_t>({1, 1, 1, 2}, {12, 7})});
  EXPECT_EQ(out[0].to_i64_vector(), (std::vector<int64_t>{3, 0}));
  ASSERT_TRUE(capture.q.present);
  EXPECT_TRUE(capture.q.integer_operands);
  EXPECT_EQ(capture.acts, (std::vector<int16_t>{2, -3}));
  EXPECT_EQ(capture.wgts, (std::vector<int16_t>{3}));
  EXPECT_EQ(capture.q.act_bits, 9);  // uint8 - 10: [-10, 245]
  EXPECT_EQ(capture.q.wgt_bits, 8);
}

}  // namespace
}  // namespace eff
