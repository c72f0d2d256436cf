// Elementwise math (unary ops, Pow), comparisons and logic, Where and the variadic Min/Max/Sum/
// Mean, run through the executor on one-node graphs; and two patterns exporters write with them
// (Erf-based Gelu, paddle2onnx's LayerNorm with Pow). Expected values are worked out by hand in
// the comments.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "graph/passes.h"
#include "op_test_util.h"

namespace eff {
namespace {

using namespace op_test;

Tensor B(Shape s, std::vector<bool> v) {
  return Tensor::from<bool>(std::move(s), v);
}

// A bool tensor as a string of 0s and 1s. (Also sidesteps GCC 12.2 at -O3 -march=native, which
// builds some int64 vector literals such as {1, 1, 1, 0} as a broadcast of 1 in this file.)
std::string bools(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DType::kBool);
  std::string s;
  for (int64_t v : t.to_i64_vector()) s += v ? '1' : '0';
  return s;
}

// ---- unary -------------------------------------------------------------------------------------

TEST(OpsMathUnary, LoopKernels) {
  EXPECT_EQ(floats(run1({"Neg", {F({2}, {1, -2})}})), (std::vector<float>{-1, 2}));
  // INT32_MIN has no positive counterpart: it wraps to itself, as in ONNX Runtime.
  const int32_t lowest = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(ints(run1({"Neg", {Tensor::from<int32_t>({2}, {lowest, 5})}})), (std::vector<int64_t>{lowest, -5}));
  EXPECT_EQ(ints(run1({"Abs", {I64({-3, 4})}})), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(floats(run1({"Sign", {F({3}, {-2, 0, 5})}})), (std::vector<float>{-1, 0, 1}));
  EXPECT_EQ(floats(run1({"Floor", {F({2}, {-1.5f, 1.5f})}})), (std::vector<float>{-2, 1}));
  EXPECT_EQ(floats(run1({"Ceil", {F({2}, {-1.5f, 1.5f})}})), (std::vector<float>{-1, 2}));
  EXPECT_EQ(floats(run1({"Reciprocal", {F({2}, {4, -0.5f})}})), (std::vector<float>{0.25f, -2}));
  // erf(1/sqrt(2)) = P(|Z| < 1) = 0.6826895 for a standard normal Z; erf is odd.
  expect_near_all(run1({"Erf", {F({3}, {0, 0.70710678f, -0.70710678f})}}), {0, 0.6826895f, -0.6826895f}, 1e-6f);
  // Selu defaults: gamma = 1.0507010, alpha = 1.6732632. x = 1: gamma; x = -1:
  // gamma * alpha * (e^-1 - 1) = 1.7581 * -0.6321206 = -1.1113307.
  expect_near_all(run1({"Selu", {F({3}, {1, 0, -1})}}), {1.0507010f, 0, -1.1113307f}, 1e-6f);
  Tensor n = run1({"Not", {B({3}, {true, false, true})}});
  EXPECT_EQ(n.dtype(), DType::kBool);
  EXPECT_EQ(bools(n), "010");
}

TEST(OpsMathUnary, TrigonometryRoundingAndFlags) {
  // sin(pi/2) = 1, cos(pi) = -1, atan(1) = pi/4 = 0.7853982, cosh(0) = 1, asinh(0) = 0.
  expect_near_all(run1({"Sin", {F({1}, {1.5707964f})}}), {1}, 1e-6f);
  expect_near_all(run1({"Cos", {F({1}, {3.1415927f})}}), {-1}, 1e-6f);
  expect_near_all(run1({"Atan", {F({1}, {1})}}), {0.7853982f}, 1e-6f);
  expect_near_all(run1({"Cosh", {F({1}, {0})}}), {1}, 1e-6f);
  // Round goes half to even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -2.5 -> -2.
  EXPECT_EQ(floats(run1({"Round", {F({4}, {0.5f, 1.5f, 2.5f, -2.5f})}})), (std::vector<float>{0, 2, 2, -2}));
  // Softsign x / (1 + |x|): 1 -> 0.5, -3 -> -0.75. ThresholdedRelu (alpha 1): 1 -> 0, 2 -> 2.
  EXPECT_EQ(floats(run1({"Softsign", {F({2}, {1, -3})}})), (std::vector<float>{0.5f, -0.75f}));
  EXPECT_EQ(floats(run1({"ThresholdedRelu", {F({2}, {1, 2})}})), (std::vector<float>{0, 2}));
  // Shrink lambd 1, bias 0.5: |x| <= 1 -> 0, else x -+ 0.5 toward zero: -3 -> -2.5, 1 -> 0, 2 -> 1.5.
  EXPECT_EQ(floats(run1({"Shrink", {F({4}, {-3, -1, 1, 2})}, {{"lambd", float_attr(1)}, {"bias", float_attr(0.5f)}}})),
            (std::vector<float>{-2.5f, 0, 0, 1.5f}));
  // Celu alpha 2: x > 0 kept; -2 -> 2 * (e^-1 - 1) = -1.2642411.
  expect_near_all(run1({"Celu", {F({2}, {3, -2})}, {{"alpha", float_attr(2)}}}), {3, -1.2642411f}, 1e-6f);
  const float inf = std::numeric_limits<float>::infinity();
  Tensor special = F({4}, {NAN, inf, -inf, 1});
  EXPECT_EQ(bools(run1({"IsNaN", {special}})), "1000");
  EXPECT_EQ(bools(run1({"IsInf", {special}})), "0110");
  EXPECT_EQ(bools(run1({"IsInf", {special}, {{"detect_negative", int_attr(0)}}})), "0100");
}

TEST(OpsMathUnary, OneDnnKernels) {
  // e^1 = 2.7182818, ln(e^2) = 2, sqrt(9) = 3, softplus(0) = ln 2 = 0.6931472,
  // softplus(2) = ln(1 + e^2) = ln 8.3890561 = 2.1269280.
  expect_near_all(run1({"Exp", {F({2}, {0, 1})}}), {1, 2.7182818f}, 1e-5f);
  expect_near_all(run1({"Log", {F({2}, {1, 7.3890561f})}}), {0, 2}, 1e-5f);
  expect_near_all(run1({"Sqrt", {F({2}, {9, 0.25f})}}), {3, 0.5f}, 1e-6f);
  expect_near_all(run1({"Softplus", {F({2}, {0, 2})}}), {0.6931472f, 2.1269280f}, 1e-5f);
  // mish(x) = x * tanh(softplus(x)): mish(0) = 0, mish(1) = tanh(ln(1 + e)) = tanh(1.3132617) =
  // 0.8650984.
  expect_near_all(run1({"Mish", {F({2}, {0, 1})}}), {0, 0.8650984f}, 1e-5f);
}

TEST(OpsMathUnary, WrongTypeIsRefusedNamingTheNode) {
  const std::string msg = error_of<ShapeError>({"Not", {F({1}, {1})}});
  EXPECT_NE(msg.find("n0"), std::string::npos) << msg;
  EXPECT_NE(error_of<ShapeError>({"Floor", {I64({1})}}), "no exception");
}

// ---- Pow ---------------------------------------------------------------------------------------

TEST(OpsMathPow, ConstantExponentFastPaths) {
  Tensor x = F({4}, {1, 2, 3, 4});
  OpSpec square{"Pow", {x, F({}, {2})}};
  square.constant_inputs = {1};
  EXPECT_EQ(floats(run1(square)), (std::vector<float>{1, 4, 9, 16}));
  OpSpec root{"Pow", {x, F({}, {0.5f})}};
  root.constant_inputs = {1};
  expect_near_all(run1(root), {1, 1.4142136f, 1.7320508f, 2}, 1e-6f);
  OpSpec cube{"Pow", {x, F({1}, {3})}};  // not a fast path: the general loop
  cube.constant_inputs = {1};
  EXPECT_EQ(floats(run1(cube)), (std::vector<float>{1, 8, 27, 64}));
}

TEST(OpsMathPow, BroadcastsAndMixesTypes) {
  // [2,2] ^ [2]: columns raised to 2 and 3: 1^2, 2^3, 3^2, 4^3.
  EXPECT_EQ(floats(run1({"Pow", {F({2, 2}, {1, 2, 3, 4}), F({2}, {2, 3})}})), (std::vector<float>{1, 8, 9, 64}));
  // Integer powers: 2^10 = 1024, 3^0 = 1, (-2)^3 = -8, 2^-1 -> 0, (-1)^-3 = -1.
  EXPECT_EQ(ints(run1({"Pow", {I64({2, 3, -2, 2, -1}), I64({10, 0, 3, -1, -3})}})),
            (std::vector<int64_t>{1024, 1, -8, 0, -1}));
  // Float base, int exponent: 2.5^2 = 6.25, 4^-1 = 0.25; the output keeps the base's type.
  Tensor fi = run1({"Pow", {F({2}, {2.5f, 4}), I64({2, -1})}});
  EXPECT_EQ(fi.dtype(), DType::kFloat32);
  EXPECT_EQ(floats(fi), (std::vector<float>{6.25f, 0.25f}));
  // Int base, float exponent: 9^0.5 = 3, 2^1.5 = 2.83 truncated to 2.
  Tensor ifl = run1({"Pow", {I64({9, 2}), F({2}, {0.5f, 1.5f})}});
  EXPECT_EQ(ifl.dtype(), DType::kInt64);
  EXPECT_EQ(ints(ifl), (std::vector<int64_t>{3, 2}));
  EXPECT_NE(error_of<ShapeError>({"Pow", {F({3}, {1, 2, 3}), F({2}, {1, 2})}}).find("n0"), std::string::npos);
  // [2^20, 1] ^ [1, 2^20] would be 2^40 floats: refused naming the node, before allocating.
  Tensor column = F({1 << 20, 1}, std::vector<float>(1 << 20, 1.f));
  Tensor row = F({1, 1 << 20}, std::vector<float>(1 << 20, 1.f));
  const std::string huge = error_of<ShapeError>({"Pow", {column, row}});
  EXPECT_NE(huge.find("n0"), std::string::npos) << huge;
  EXPECT_NE(huge.find("limit"), std::string::npos) << huge;
}

// ---- comparisons and logic ---------------------------------------------------------------------

TEST(OpsMathCompare, BroadcastToBool) {
  Tensor x = F({2, 2}, {1, 2, 3, 4});
  Tensor two = F({2}, {2, 2});
  Tensor less = run1({"Less", {x, two}});
  EXPECT_EQ(less.dtype(), DType::kBool);
  EXPECT_EQ(bools(less), "1000");
  EXPECT_EQ(bools(run1({"LessOrEqual", {x, two}})), "1100");
  EXPECT_EQ(bools(run1({"Greater", {x, two}})), "0011");
  EXPECT_EQ(bools(run1({"GreaterOrEqual", {x, two}})), "0111");
  // [2,1] == [3] -> [2,3]: rows {1,2} against {1,2,3}.
  Tensor eq = run1({"Equal", {Tensor::from<int32_t>({2, 1}, {1, 2}), Tensor::from<int32_t>({3}, {1, 2, 3})}});
  EXPECT_EQ(eq.shape(), (Shape{2, 3}));
  EXPECT_EQ(bools(eq), "100010");
}

TEST(OpsMathCompare, LogicOnBool) {
  Tensor a = B({4}, {true, true, false, false});
  Tensor b = B({4}, {true, false, true, false});
  EXPECT_EQ(bools(run1({"And", {a, b}})), "1000");
  EXPECT_EQ(bools(run1({"Or", {a, b}})), "1110");
  EXPECT_EQ(bools(run1({"Xor", {a, b}})), "0110");
  // [2,1] and [2]: rows {1,0} against {1,0}.
  EXPECT_EQ(bools(run1({"And", {B({2, 1}, {true, false}), B({2}, {true, false})}})), "1000");
  EXPECT_NE(error_of<ShapeError>({"And", {F({1}, {1}), F({1}, {1})}}), "no exception");
}

TEST(OpsMathWhere, BroadcastsAllThree) {
  // cond [2,1] = {T, F}, X [2] = {1, 2}, Y scalar 9: row 0 takes X, row 1 takes Y.
  Tensor w = run1({"Where", {B({2, 1}, {true, false}), F({2}, {1, 2}), F({}, {9})}});
  EXPECT_EQ(w.shape(), (Shape{2, 2}));
  EXPECT_EQ(floats(w), (std::vector<float>{1, 2, 9, 9}));
  EXPECT_EQ(ints(run1({"Where", {B({2}, {false, true}), I64({1, 2}), I64({3, 4})}})), (std::vector<int64_t>{3, 2}));
}

// ---- variadic ----------------------------------------------------------------------------------

TEST(OpsMathVariadic, MinMaxSumMeanBroadcast) {
  // a [3] = {1,5,3}, b [2,1] = {2,4}, c scalar 3 -> [2,3]; element (i,j) combines a[j], b[i], 3.
  Tensor a = F({3}, {1, 5, 3}), b = F({2, 1}, {2, 4}), c = F({}, {3});
  // max: row 0 (1,2,3)->3 (5,2,3)->5 (3,2,3)->3; row 1 (1,4,3)->4 (5,4,3)->5 (3,4,3)->4.
  Tensor mx = run1({"Max", {a, b, c}});
  EXPECT_EQ(mx.shape(), (Shape{2, 3}));
  EXPECT_EQ(floats(mx), (std::vector<float>{3, 5, 3, 4, 5, 4}));
  // min: row 0 -> 1, 2, 2; row 1 -> 1, 3, 3.
  EXPECT_EQ(floats(run1({"Min", {a, b, c}})), (std::vector<float>{1, 2, 2, 1, 3, 3}));
  // sum: row 0 -> 6, 10, 8; row 1 -> 8, 12, 10; mean = sum / 3.
  EXPECT_EQ(floats(run1({"Sum", {a, b, c}})), (std::vector<float>{6, 10, 8, 8, 12, 10}));
  expect_near_all(run1({"Mean", {a, b, c}}), {2, 10.f / 3, 8.f / 3, 8.f / 3, 4, 10.f / 3}, 1e-6f);
  EXPECT_EQ(floats(run1({"Max", {a}})), (std::vector<float>{1, 5, 3}));
  EXPECT_EQ(ints(run1({"Min", {Tensor::from<int8_t>({2}, {-3, 7}), Tensor::from<int8_t>({2}, {2, 2})}})),
            (std::vector<int64_t>{-3, 2}));
}

// ---- patterns exporters write --------------------------------------------------------------------

// A chain of nodes over values named by strings; "x" is the one graph input, the last node's
// first output the graph output. Constants are initialisers.
struct Chain {
  Graph g;
  ValueId value(const std::string& name) {
    const ValueId v = g.find_value(name);
    return v != kNoValue ? v : g.add_value(name);
  }
  void constant(const std::string& name, Tensor t) { g.value(value(name)).constant = std::move(t); }
  void node(const std::string& op, std::vector<std::string> in, const std::string& out,
            std::map<std::string, Attribute> attrs = {}) {
    Node n;
    n.op = op;
    n.name = out;
    n.origin = {out};
    n.attrs = std::move(attrs);
    for (const std::string& i : in) n.inputs.push_back(value(i));
    n.outputs.push_back(value(out));
    g.nodes.push_back(std::move(n));
  }
  std::vector<float> run(const Tensor& x, const std::string& out, bool passes) {
    g.source = "chain.onnx";
    g.opset = 13;
    g.inputs = {value("x")};
    g.outputs = {value(out)};
    if (passes) run_default_passes(g);
    ExecutorOptions options;
    options.threads = 1;
    Executor ex(std::move(g), options);
    return floats(ex.run({x}).at(0));
  }
};

TEST(OpsMathPatterns, ErfGelu) {
  // gelu(x) = x * 0.5 * (1 + erf(x / sqrt 2)): gelu(0) = 0, gelu(1) = 0.5 * 1.6826895 = 0.8413447,
  // gelu(-1) = -0.5 * (1 - 0.6826895) = -0.1586553.
  for (bool passes : {false, true}) {
    Chain c;
    c.constant("sqrt2", F({}, {1.4142135f}));
    c.constant("one", F({}, {1}));
    c.constant("half", F({}, {0.5f}));
    c.node("Div", {"x", "sqrt2"}, "scaled");
    c.node("Erf", {"scaled"}, "erf");
    c.node("Add", {"erf", "one"}, "onep");
    c.node("Mul", {"x", "onep"}, "xm");
    c.node("Mul", {"xm", "half"}, "y");
    const std::vector<float> got = c.run(F({3}, {0, 1, -1}), "y", passes);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_NEAR(got[0], 0, 1e-6);
    EXPECT_NEAR(got[1], 0.8413447f, 1e-6);
    EXPECT_NEAR(got[2], -0.1586553f, 1e-6);
  }
}

TEST(OpsMathPatterns, PaddleLayerNormWithPow) {
  // Row {1,2,3,4}: mean 2.5, centred {-1.5,-0.5,0.5,1.5}, squares {2.25,0.25,0.25,2.25} with mean
  // 1.25, sqrt(1.25 + 0) = 1.1180340, normalised {-1.3416408,-0.4472136,0.4472136,1.3416408};
  // times 2 plus 1: {-1.6832816, 0.1055728, 1.8944272, 3.6832816}.
  Chain c;
  c.constant("two", F({}, {2}));
  c.constant("eps", F({}, {0}));
  c.constant("gamma", F({4}, {2, 2, 2, 2}));
  c.constant("beta", F({4}, {1, 1, 1, 1}));
  Attribute axes;
  axes.kind = Attribute::Kind::kInts;
  axes.ints = {-1};
  c.node("ReduceMean", {"x"}, "mean", {{"axes", axes}});
  c.node("Sub", {"x", "mean"}, "centred");
  c.node("Pow", {"centred", "two"}, "sq");
  c.node("ReduceMean", {"sq"}, "var", {{"axes", axes}});
  c.node("Add", {"var", "eps"}, "var_eps");
  c.node("Sqrt", {"var_eps"}, "std");
  c.node("Div", {"centred", "std"}, "norm");
  c.node("Mul", {"norm", "gamma"}, "scaled");
  c.node("Add", {"scaled", "beta"}, "y");
  const std::vector<float> got = c.run(F({1, 4}, {1, 2, 3, 4}), "y", true);
  const std::vector<float> want{-1.6832816f, 0.1055728f, 1.8944272f, 3.6832816f};
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << i;
}

}  // namespace
}  // namespace eff
