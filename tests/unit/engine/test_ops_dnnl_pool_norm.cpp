// Pools, BatchNormalization / LRN / Softmax and the activations, run through the executor on
// one-node graphs, against naive references (dnnl_test_util.h) and results worked out by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "dnnl_test_util.h"

namespace eff {
namespace {

using namespace dnnl_test;

// ---- pools -------------------------------------------------------------------------------------

TEST(DnnlPool, HandComputedMaxAndAverage) {
  Tensor x = F({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  OpSpec max{"MaxPool", {x}};
  max.attrs = {{"kernel_shape", ints_attr({2, 2})}};
  EXPECT_EQ(floats(run1(max)), (std::vector<float>{5, 6, 8, 9}));
  // Average with pads 1 and stride 2 over the 3x3 input: each corner window covers one 2x2
  // block of the input; excluding pads: (1+2+4+5)/4 = 3, (2+3+5+6)/4 = 4, 6, 7; including pads
  // the divisor is 9: 12/9, 16/9, 24/9, 28/9.
  OpSpec avg{"AveragePool", {x}};
  avg.attrs = {{"kernel_shape", ints_attr({3, 3})}, {"pads", ints_attr({1, 1, 1, 1})}, {"strides", ints_attr({2, 2})}};
  EXPECT_EQ(floats(run1(avg)), (std::vector<float>{3, 4, 6, 7}));
  avg.attrs["count_include_pad"] = int_attr(1);
  const std::vector<float> inc = floats(run1(avg));
  const std::vector<float> want = {12.f / 9, 16.f / 9, 24.f / 9, 28.f / 9};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(inc[i], want[i], 1e-6f);
}

TEST(DnnlPool, MatchesReference) {
  struct Case {
    const char* name;
    bool max;
    bool include_pad;
    Shape x, kernel;
    std::vector<int64_t> strides, pads, dilations;
    bool ceil;
    Shape out;
  };
  const std::vector<Case> cases = {
      {"max strided", true, false, {2, 3, 8, 7}, {3, 2}, {2, 2}, {}, {}, false, {3, 3}},
      {"max pads", true, false, {1, 2, 5, 5}, {3, 3}, {}, {1, 0, 2, 1}, {}, false, {6, 4}},
      {"max ceil", true, false, {1, 1, 6, 6}, {3, 3}, {2, 2}, {}, {}, true, {3, 3}},
      // 4 + 1 pad, kernel 2, stride 2: ceil gives 3 windows, but the third would start in the pad.
      {"max ceil drops window starting in the pad",
       true,
       false,
       {1, 1, 4, 4},
       {2, 2},
       {2, 2},
       {0, 0, 1, 1},
       {},
       true,
       {2, 2}},
      {"max dilated", true, false, {1, 2, 7, 7}, {2, 2}, {1, 1}, {}, {2, 2}, false, {5, 5}},
      {"max blocked", true, false, {2, 32, 6, 6}, {2, 2}, {2, 2}, {}, {}, false, {3, 3}},
      {"avg exclude pads", false, false, {1, 2, 5, 6}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, false, {3, 3}},
      {"avg include pads", false, true, {1, 2, 5, 6}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, false, {3, 3}},
      {"avg asymmetric include", false, true, {1, 1, 4, 4}, {2, 3}, {1, 2}, {0, 1, 1, 0}, {}, false, {4, 2}},
      {"avg ceil exclude", false, false, {1, 1, 6, 6}, {3, 3}, {2, 2}, {}, {}, true, {3, 3}},
      // ceil_mode adds a column past the explicit end pad; include_pad counts the pad only.
      {"avg ceil include", false, true, {1, 2, 6, 6}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, true, {4, 4}},
      {"1-D", true, false, {2, 3, 9}, {3}, {2}, {1, 1}, {}, false, {5}},
      {"1-D avg", false, false, {1, 2, 9}, {4}, {3}, {}, {}, true, {3}},
      {"3-D", false, false, {1, 2, 4, 5, 6}, {2, 2, 3}, {2, 1, 2}, {}, {}, false, {2, 4, 2}},
  };
  uint32_t seed = 70;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Tensor x = random_tensor(c.x, seed++);
    OpSpec spec{c.max ? "MaxPool" : "AveragePool", {x}};
    spec.attrs["kernel_shape"] = ints_attr(c.kernel);
    if (!c.strides.empty()) spec.attrs["strides"] = ints_attr(c.strides);
    if (!c.pads.empty()) spec.attrs["pads"] = ints_attr(c.pads);
    if (!c.dilations.empty()) spec.attrs["dilations"] = ints_attr(c.dilations);
    if (c.ceil) spec.attrs["ceil_mode"] = int_attr(1);
    if (c.include_pad) spec.attrs["count_include_pad"] = int_attr(1);
    expect_close(run1(spec), pool_ref(x, c.max, c.include_pad, c.kernel, {c.strides, c.pads, c.dilations}, c.out),
                 1e-5f);
  }
}

TEST(DnnlPool, AutoPadOddSizes) {
  // 5 wide, kernel 2, stride 2: out 3, total pad 1 -> SAME_UPPER pads the end, SAME_LOWER the start.
  Tensor x = random_tensor({1, 2, 5, 5}, 90);
  for (const auto& [mode, pads] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
           {"SAME_UPPER", {0, 0, 1, 1}}, {"SAME_LOWER", {1, 1, 0, 0}}}) {
    SCOPED_TRACE(mode);
    for (bool max : {true, false}) {
      OpSpec spec{max ? "MaxPool" : "AveragePool", {x}};
      spec.attrs = {
          {"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})}, {"auto_pad", string_attr(mode)}};
      expect_close(run1(spec), pool_ref(x, max, false, {2, 2}, {{2, 2}, pads, {}}, {3, 3}), 1e-6f);
    }
  }
}

TEST(DnnlPool, MaxPoolUint8) {
  Tensor x = Tensor::from<uint8_t>({1, 1, 2, 3}, {1, 200, 3, 40, 5, 6});
  OpSpec spec{"MaxPool", {x}};
  spec.attrs = {{"kernel_shape", ints_attr({2, 2})}};
  Tensor y = run1(spec);
  EXPECT_EQ(y.dtype(), DType::kUInt8);
  EXPECT_EQ(y.to_i64_vector(), (std::vector<int64_t>{200, 200}));
}

TEST(DnnlPool, MaxPoolIndices) {
  // Two images of one channel, 3x3 each; kernel 2, stride 1, pads 1 at the end. Flat indices
  // count over the whole input (9 per image); storage_order=1 numbers each image column-major.
  Tensor x = F({2, 1, 3, 3}, {1, 9, 2, 8, 3, 7, 4, 6, 5, /**/ 0, 0, 0, 0, -1, 0, 0, 0, 3});
  OpSpec spec{"MaxPool", {x}};
  spec.attrs = {{"kernel_shape", ints_attr({2, 2})}, {"pads", ints_attr({0, 0, 1, 1})}};
  spec.num_outputs = 2;
  std::vector<Tensor> runtime;
  Graph g = op_test::one_node_graph(spec, runtime);
  ExecutorOptions options;
  options.threads = 1;
  {
    Executor ex(g, options);
    std::vector<Tensor> out = ex.run(runtime);
    // Image 0 windows: (0,0): {1,9,8,3} -> 9 at 1; (0,1): {9,2,3,7} -> 9 at 1; (0,2): {2,7} -> 7 at 5;
    // (1,0): {8,3,4,6} -> 8 at 3; (1,1): {3,7,6,5} -> 7 at 5; (1,2): {7,5} -> 7 at 5;
    // (2,0): {4,6} -> 6 at 7; (2,1): {6,5} -> 6 at 7; (2,2): {5} -> 5 at 8.
    // Image 1 (offset 9): ties pick the first element in scan order, so the zero windows point at
    // their top-left element ((0,0), (0,1), (0,2) -> 9, 10, 11; (1,0) -> 12; (2,0) -> 15); the
    // rest see the 3 at 8 -> 17.
    EXPECT_EQ(floats(out[0]), (std::vector<float>{9, 9, 7, 8, 7, 7, 6, 6, 5, 0, 0, 0, 0, 3, 3, 0, 3, 3}));
    EXPECT_EQ(out[1].to_i64_vector(),
              (std::vector<int64_t>{1, 1, 5, 3, 5, 5, 7, 7, 8, 9, 10, 11, 12, 17, 17, 15, 17, 17}));
  }
  g.nodes[0].attrs["storage_order"] = int_attr(1);
  Executor ex(g, options);
  // Column-major position of (h, w) is w * 3 + h. Image 0: 9 at (0,1) -> 3, 7 at (1,2) -> 7,
  // 8 at (1,0) -> 1, 6 at (2,1) -> 5, 5 at (2,2) -> 8. Image 1: (0,0) -> 9, (0,1) -> 12, (0,2) -> 15,
  // (1,0) -> 10, (2,0) -> 11, and 3 at (2,2) -> 17.
  EXPECT_EQ(ex.run(runtime)[1].to_i64_vector(),
            (std::vector<int64_t>{3, 3, 7, 1, 7, 7, 5, 5, 8, 9, 12, 15, 10, 17, 17, 11, 17, 17}));
}

TEST(DnnlPool, GlobalPools) {
  Tensor x = F({1, 2, 2, 2}, {1, 2, 3, 6, -1, -2, -3, -6});
  Tensor avg = run1({"GlobalAveragePool", {x}});
  EXPECT_EQ(avg.shape(), (Shape{1, 2, 1, 1}));
  EXPECT_EQ(floats(avg), (std::vector<float>{3, -3}));
  Tensor mx = run1({"GlobalMaxPool", {x}});
  EXPECT_EQ(floats(mx), (std::vector<float>{6, -1}));
  Tensor x1 = F({2, 1, 3}, {1, 5, 3, 0, 0, 3});
  Tensor avg1 = run1({"GlobalAveragePool", {x1}});
  EXPECT_EQ(avg1.shape(), (Shape{2, 1, 1}));
  EXPECT_EQ(floats(avg1), (std::vector<float>{3, 1}));
}

// ---- BatchNormalization, LRN, Softmax -----------------------------------------------------------

TEST(DnnlNorm, BatchNormalizationAnyRank) {
  // y = (x - mean) / sqrt(var + eps) * scale + B, channel = dimension 1.
  Tensor scale = F({2}, {2, 0.5f}), bias = F({2}, {1, -1}), mean = F({2}, {1, 3}), var = F({2}, {4, 0.25f});
  for (const Shape& s : std::vector<Shape>{{3, 2}, {2, 2, 3}, {1, 2, 2, 3}, {1, 2, 1, 2, 2}}) {
    SCOPED_TRACE(shape_str(s));
    Tensor x = random_tensor(s, 500);
    for (int constant = 0; constant < 2; ++constant) {
      OpSpec spec{"BatchNormalization", {x, scale, bias, mean, var}};
      spec.attrs["epsilon"] = float_attr(0.f);
      if (constant) spec.constant_inputs = {1, 2, 3, 4};
      Tensor y = run1(spec);
      const int64_t plane = x.numel() / (s[0] * 2);
      for (int64_t i = 0; i < x.numel(); ++i) {
        const int64_t ch = (i / plane) % 2;
        const float want = ch == 0 ? (x.data<float>()[i] - 1) / 2 * 2 + 1 : (x.data<float>()[i] - 3) / 0.5f * 0.5f - 1;
        ASSERT_NEAR(y.data<float>()[i], want, 1e-5f) << i;
      }
    }
  }
  OpSpec training{"BatchNormalization", {random_tensor({1, 2, 2}, 1), scale, bias, mean, var}};
  training.attrs["training_mode"] = int_attr(1);
  training.opset = 15;
  EXPECT_NE(error_of<UnsupportedError>(training).find("training_mode=1"), std::string::npos);
}

TEST(DnnlNorm, LrnOddAndEvenSizes) {
  const Shape s{2, 5, 2, 3};
  Tensor x = random_tensor(s, 510);
  for (int64_t size : {3, 4}) {
    SCOPED_TRACE(size);
    OpSpec spec{"LRN", {x}};
    spec.attrs = {
        {"size", int_attr(size)}, {"alpha", float_attr(0.3f)}, {"beta", float_attr(0.6f)}, {"bias", float_attr(1.5f)}};
    Tensor y = run1(spec);
    const int64_t c = 5, plane = 6;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t ch = (i / plane) % c, base = i - ch * plane;
      double sq = 0;
      // Channels ch - floor((size-1)/2) .. ch + ceil((size-1)/2).
      for (int64_t k = ch - (size - 1) / 2; k <= ch + size / 2; ++k) {
        if (k < 0 || k >= c) continue;
        const double v = x.data<float>()[base + k * plane];
        sq += v * v;
      }
      const double want = x.data<float>()[i] / std::pow(1.5 + 0.3 / size * sq, 0.6);
      ASSERT_NEAR(y.data<float>()[i], want, 1e-5) << i;
    }
  }
}

TEST(DnnlNorm, SoftmaxHandComputed) {
  // softmax([0, ln 3]) = [1/4, 3/4]; huge inputs must not overflow: [1000, 1000 + ln 3] too.
  const float l3 = std::log(3.f);
  Tensor y = run1({"Softmax", {F({2, 2}, {0, l3, 1000, 1000 + l3})}});
  const std::vector<float> v = floats(y);
  EXPECT_NEAR(v[0], 0.25f, 1e-6f);
  EXPECT_NEAR(v[1], 0.75f, 1e-6f);
  EXPECT_NEAR(v[2], 0.25f, 1e-4f);
  EXPECT_NEAR(v[3], 0.75f, 1e-4f);
  Tensor ly = run1({"LogSoftmax", {F({1, 2}, {0, l3})}});
  EXPECT_NEAR(floats(ly)[0], std::log(0.25f), 1e-6f);
  EXPECT_NEAR(floats(ly)[1], std::log(0.75f), 1e-6f);
}

// Softmax over the elements [outer][len][inner] along len.
std::vector<float> softmax_ref(const Tensor& x, int64_t outer, int64_t len, int64_t inner, bool log) {
  std::vector<float> y(static_cast<size_t>(x.numel()));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      double mx = -1e30, sum = 0;
      for (int64_t i = 0; i < len; ++i)
        mx = std::max(mx, static_cast<double>(x.data<float>()[(o * len + i) * inner + j]));
      for (int64_t i = 0; i < len; ++i) sum += std::exp(x.data<float>()[(o * len + i) * inner + j] - mx);
      for (int64_t i = 0; i < len; ++i) {
        const double v = x.data<float>()[(o * len + i) * inner + j] - mx;
        y[(o * len + i) * inner + j] = static_cast<float>(log ? v - std::log(sum) : std::exp(v) / sum);
      }
    }
  return y;
}

TEST(DnnlNorm, SoftmaxAxisSemanticsByOpset) {
  Tensor x = random_tensor({2, 3, 4}, 520);
  for (bool log : {false, true}) {
    SCOPED_TRACE(log ? "LogSoftmax" : "Softmax");
    const char* op = log ? "LogSoftmax" : "Softmax";
    auto check = [&](OpSpec spec, const std::vector<float>& want) {
      const std::vector<float> got = floats(run1(spec));
      for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5f) << i;
    };
    // Opset 13: along axis alone (default -1).
    check({op, {x}}, softmax_ref(x, 6, 4, 1, log));
    OpSpec axis1{op, {x}};
    axis1.attrs["axis"] = int_attr(1);
    check(axis1, softmax_ref(x, 2, 3, 4, log));
    // Opset 11: flattened to [2, 12] at axis 1 (the default).
    OpSpec old{op, {x}};
    old.opset = 11;
    check(old, softmax_ref(x, 2, 12, 1, log));
    old.attrs["axis"] = int_attr(0);
    check(old, softmax_ref(x, 1, 24, 1, log));
    old.attrs["axis"] = int_attr(-1);
    check(old, softmax_ref(x, 6, 4, 1, log));
  }
}

// ---- activations -------------------------------------------------------------------------------

TEST(DnnlActivation, HandComputed) {
  Tensor x = F({6}, {-3, -1, -0.5f, 0, 0.5f, 4});
  auto run = [&](const char* op, std::map<std::string, Attribute> attrs = {}) {
    OpSpec spec{op, {x}};
    spec.attrs = std::move(attrs);
    return floats(run1(spec));
  };
  EXPECT_EQ(run("Relu"), (std::vector<float>{0, 0, 0, 0, 0.5f, 4}));
  EXPECT_EQ(run("LeakyRelu", {{"alpha", float_attr(0.5f)}}), (std::vector<float>{-1.5f, -0.5f, -0.25f, 0, 0.5f, 4}));
  // HardSigmoid default alpha 0.2, beta 0.5: clamp(0.2x + 0.5, 0, 1).
  const std::vector<float> hs = run("HardSigmoid");
  const std::vector<float> hs_want = {0, 0.3f, 0.4f, 0.5f, 0.6f, 1};
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(hs[i], hs_want[i], 1e-6f);
  // HardSwish: x * clamp(x/6 + 1/2, 0, 1): -3 -> 0, -1 -> -1/3, -0.5 -> -5/24, 0.5 -> 7/24, 4 -> 4.
  const std::vector<float> sw = run("HardSwish");
  const std::vector<float> sw_want = {0, -1.f / 3, -5.f / 24, 0, 7.f / 24, 4};
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(sw[i], sw_want[i], 1e-6f);
  const std::vector<float> sg = run("Sigmoid"), th = run("Tanh"), el = run("Elu", {{"alpha", float_attr(2.f)}});
  for (size_t i = 0; i < 6; ++i) {
    const double v = x.data<float>()[i];
    EXPECT_NEAR(sg[i], 1 / (1 + std::exp(-v)), 1e-6);
    EXPECT_NEAR(th[i], std::tanh(v), 1e-6);
    EXPECT_NEAR(el[i], v < 0 ? 2 * (std::exp(v) - 1) : v, 1e-6);
  }
}

TEST(DnnlActivation, ClipBoundsByOpset) {
  Tensor x = F({5}, {-5, -1, 0, 2, 9});
  OpSpec inputs{"Clip", {x, F({}, {-1.5f}), F({}, {3})}};
  EXPECT_EQ(floats(run1(inputs)), (std::vector<float>{-1.5f, -1, 0, 2, 3}));
  OpSpec only_max{"Clip", {x, std::nullopt, F({}, {1})}};
  EXPECT_EQ(floats(run1(only_max)), (std::vector<float>{-5, -1, 0, 1, 1}));
  OpSpec none{"Clip", {x}};
  EXPECT_EQ(floats(run1(none)), (std::vector<float>{-5, -1, 0, 2, 9}));
  OpSpec attrs{"Clip", {x}};
  attrs.opset = 6;
  attrs.attrs = {{"min", float_attr(0)}, {"max", float_attr(6)}};
  EXPECT_EQ(floats(run1(attrs)), (std::vector<float>{0, 0, 0, 2, 6}));
  OpSpec ints{"Clip",
              {Tensor::from<int8_t>({4}, {-100, -3, 5, 100}), Tensor::scalar<int8_t>(-4), Tensor::scalar<int8_t>(50)}};
  Tensor yi = run1(ints);
  EXPECT_EQ(yi.dtype(), DType::kInt8);
  EXPECT_EQ(yi.to_i64_vector(), (std::vector<int64_t>{-4, -3, 5, 50}));
}

TEST(DnnlActivation, LargeTensorsAgreeAcrossThreadCounts) {
  // Past the parallel threshold: each element is computed alone, so one and two threads must
  // agree bit for bit, and with the definition.
  Tensor x = random_tensor({3, 50000}, 600);
  for (const char* op : {"Relu", "LeakyRelu", "HardSwish", "Sigmoid", "Tanh"}) {
    SCOPED_TRACE(op);
    OpSpec spec{op, {x}};
    Tensor one = run1(spec);
    spec.threads = 2;
    Tensor two = run1(spec);
    ASSERT_EQ(floats(one), floats(two));
    const std::string name = op;
    for (int64_t i = 0; i < x.numel(); i += 997) {
      const double v = x.data<float>()[i];
      double want = 0;
      if (name == "Relu") want = std::max(v, 0.0);
      if (name == "LeakyRelu") want = v < 0 ? 0.01 * v : v;
      if (name == "HardSwish") want = v * std::clamp(v / 6 + 0.5, 0.0, 1.0);
      if (name == "Sigmoid") want = 1 / (1 + std::exp(-v));
      if (name == "Tanh") want = std::tanh(v);
      ASSERT_NEAR(one.data<float>()[i], want, 1e-6) << i;
    }
  }
}

}  // namespace
}  // namespace eff
