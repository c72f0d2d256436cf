// The compute-heavy kernels (conv, conv transpose, gemm, matmul), run through the executor on
// one-node graphs. Each op is checked against a naive loop written from the ONNX definition
// (dnnl_test_util.h), on small shapes chosen to hit the edge cases, plus results worked out by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "dnnl_test_util.h"

namespace eff {
namespace {

using namespace dnnl_test;

// ---- Conv --------------------------------------------------------------------------------------

TEST(DnnlConv, HandComputed3x3With2x2Kernel) {
  // x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,2],[3,4]], b = 1:
  // y00 = 1*1 + 2*2 + 4*3 + 5*4 + 1 = 38, y01 = 2 + 6 + 15 + 24 + 1 = 48,
  // y10 = 4 + 10 + 21 + 32 + 1 = 68, y11 = 5 + 12 + 24 + 36 + 1 = 78.
  OpSpec spec{"Conv", {F({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), F({1, 1, 2, 2}, {1, 2, 3, 4}), F({1}, {1})}};
  spec.constant_inputs = {1, 2};
  std::string impl;
  Tensor y = run1(spec, &impl);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(floats(y), (std::vector<float>{38, 48, 68, 78}));
  EXPECT_EQ(impl.rfind("dnnl:", 0), 0u) << impl;
}

TEST(DnnlConv, HandComputedPaddedStrided) {
  // 3x3 ones, 3x3 ones kernel, pads 1, stride 2: outputs at the corners see 2x2 = 4 inputs.
  OpSpec spec{"Conv", {F({1, 1, 3, 3}, std::vector<float>(9, 1)), F({1, 1, 3, 3}, std::vector<float>(9, 1))}};
  spec.attrs = {{"pads", ints_attr({1, 1, 1, 1})}, {"strides", ints_attr({2, 2})}};
  spec.constant_inputs = {1};
  Tensor y = run1(spec);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(floats(y), (std::vector<float>{4, 4, 4, 4}));
}

struct ConvCase {
  const char* name;
  Shape x, w;
  int64_t group;
  std::vector<int64_t> strides, pads, dilations;
  bool bias;
};

TEST(DnnlConv, MatchesReferenceOnEdgeCases) {
  const std::vector<ConvCase> cases = {
      {"plain 3x3", {2, 3, 7, 6}, {4, 3, 3, 3}, 1, {}, {1, 1, 1, 1}, {}, true},
      {"groups", {1, 4, 6, 6}, {6, 2, 3, 3}, 2, {}, {}, {}, true},
      {"depthwise", {2, 16, 9, 9}, {16, 1, 3, 3}, 16, {2, 2}, {1, 1, 1, 1}, {}, true},
      {"depthwise multiplier 2", {1, 3, 5, 5}, {6, 1, 3, 3}, 3, {}, {}, {}, false},
      {"strides 2 and 3", {1, 2, 9, 10}, {3, 2, 3, 2}, 1, {2, 3}, {}, {}, true},
      {"asymmetric pads", {1, 2, 5, 5}, {2, 2, 3, 3}, 1, {}, {0, 2, 1, 0}, {}, true},
      {"dilation 2", {1, 2, 9, 9}, {3, 2, 3, 3}, 1, {}, {2, 2, 2, 2}, {2, 2}, true},
      {"dilation + stride + asym pads", {1, 3, 11, 8}, {2, 3, 2, 3}, 1, {3, 2}, {1, 0, 0, 2}, {2, 3}, false},
      {"floor mode drops the tail", {1, 1, 6, 6}, {1, 1, 2, 2}, 1, {3, 3}, {0, 0, 1, 1}, {}, false},
      {"1x1 stride 2", {2, 32, 8, 8}, {64, 32, 1, 1}, 1, {2, 2}, {}, {}, true},
      {"blocked channels", {2, 32, 10, 10}, {48, 32, 3, 3}, 1, {}, {1, 1, 1, 1}, {}, true},
      {"odd channels", {1, 19, 6, 6}, {21, 19, 3, 3}, 1, {}, {1, 1, 1, 1}, {}, true},
      {"grouped blocked", {1, 32, 6, 6}, {32, 16, 3, 3}, 2, {}, {1, 1, 1, 1}, {}, true},
      {"1-D", {2, 3, 11}, {4, 3, 3}, 1, {2}, {1, 2}, {}, true},
      {"1-D dilated", {1, 2, 12}, {2, 2, 3}, 1, {}, {}, {3}, false},
      {"3-D", {1, 2, 5, 6, 4}, {3, 2, 2, 3, 2}, 1, {1, 2, 1}, {1, 0, 1, 0, 1, 1}, {}, true},
  };
  uint32_t seed = 1;
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(c.name);
    Tensor x = random_tensor(c.x, seed++), w = random_tensor(c.w, seed++), b = random_tensor({c.w[0]}, seed++);
    OpSpec spec{"Conv", {x, w}};
    if (c.bias) spec.inputs.push_back(b);
    spec.constant_inputs = {1, 2};
    if (c.group != 1) spec.attrs["group"] = int_attr(c.group);
    if (!c.strides.empty()) spec.attrs["strides"] = ints_attr(c.strides);
    if (!c.pads.empty()) spec.attrs["pads"] = ints_attr(c.pads);
    if (!c.dilations.empty()) spec.attrs["dilations"] = ints_attr(c.dilations);
    expect_close(run1(spec), conv_ref(x, w, c.bias ? &b : nullptr, c.group, {c.strides, c.pads, c.dilations}));
  }
}

TEST(DnnlConv, AutoPadSameUpperLowerAndValid) {
  // Input 7 wide, kernel 4, stride 2: out = ceil(7/2) = 4, total pad = 3*2 + 4 - 7 = 3:
  // SAME_UPPER puts 1 at the start and 2 at the end, SAME_LOWER 2 and 1; VALID: (7-4)/2+1 = 2.
  Tensor x = random_tensor({1, 2, 7, 7}, 3), w = random_tensor({3, 2, 4, 4}, 4);
  const std::vector<std::pair<std::string, std::vector<int64_t>>> modes = {
      {"SAME_UPPER", {1, 1, 2, 2}}, {"SAME_LOWER", {2, 2, 1, 1}}, {"VALID", {0, 0, 0, 0}}};
  for (const auto& [mode, pads] : modes) {
    SCOPED_TRACE(mode);
    OpSpec spec{"Conv", {x, w}};
    spec.attrs = {{"auto_pad", string_attr(mode)}, {"strides", ints_attr({2, 2})}};
    spec.constant_inputs = {1};
    Tensor want = conv_ref(x, w, nullptr, 1, {{2, 2}, pads, {}});
    expect_close(run1(spec), want);
    EXPECT_EQ(want.shape(), mode == "VALID" ? (Shape{1, 3, 2, 2}) : (Shape{1, 3, 4, 4}));
  }
}

TEST(DnnlConv, KernelShapeInferredOrGiven) {
  Tensor x = random_tensor({1, 2, 5, 5}, 5), w = random_tensor({2, 2, 3, 2}, 6);
  OpSpec spec{"Conv", {x, w}};
  spec.constant_inputs = {1};
  Tensor want = conv_ref(x, w, nullptr, 1, {});
  expect_close(run1(spec), want);
  spec.attrs["kernel_shape"] = ints_attr({3, 2});
  expect_close(run1(spec), want);
  spec.attrs["kernel_shape"] = ints_attr({3, 3});
  EXPECT_NE(error_of<ModelError>(spec).find("kernel_shape"), std::string::npos);
}

TEST(DnnlConv, FusedReluAndComputedWeights) {
  Tensor x = random_tensor({2, 20, 6, 6}, 7), w = random_tensor({24, 20, 3, 3}, 8), b = random_tensor({24}, 9);
  Window win{{}, {1, 1, 1, 1}, {}};
  for (bool constant : {true, false}) {
    SCOPED_TRACE(constant ? "constant weights" : "weights as graph input");
    OpSpec spec{"Conv", {x, w, b}};
    spec.attrs = {{"pads", ints_attr({1, 1, 1, 1})}, {"activation", string_attr("Relu")}};
    if (constant) spec.constant_inputs = {1, 2};
    Tensor y = run1(spec);
    expect_close(y, conv_ref(x, w, &b, 1, win, true));
    const std::vector<float> v = floats(y);
    EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float f) { return f >= 0.f; }));
  }
}

TEST(DnnlConv, CachedPlansFollowShapesAndWeights) {
  // One executor, inputs of two batch sizes alternating, weights given at run time and changed
  // between runs: every result must match the reference for that run's operands.
  Graph g;
  g.source = "test.onnx";
  g.opset = 13;
  Node n;
  n.op = "Conv";
  n.name = "conv";
  n.origin = {"conv"};
  n.attrs["pads"] = ints_attr({1, 1, 1, 1});
  const ValueId xv = g.add_value("x"), wv = g.add_value("w"), yv = g.add_value("y");
  n.inputs = {xv, wv};
  n.outputs = {yv};
  g.inputs = {xv, wv};
  g.outputs = {yv};
  g.nodes.push_back(n);
  ExecutorOptions options;
  options.threads = 1;
  Executor ex(std::move(g), options);
  uint32_t seed = 20;
  for (int64_t batch : {1, 3, 1, 3}) {
    Tensor x = random_tensor({batch, 16, 5, 5}, seed++), w = random_tensor({16, 16, 3, 3}, seed++);
    expect_close(ex.run({x, w}).at(0), conv_ref(x, w, nullptr, 1, {{}, {1, 1, 1, 1}, {}}));
  }
}

TEST(DnnlConv, SameResultWithTwoThreads) {
  Tensor x = random_tensor({4, 32, 12, 12}, 30), w = random_tensor({32, 32, 3, 3}, 31), b = random_tensor({32}, 32);
  OpSpec spec{"Conv", {x, w, b}};
  spec.attrs = {{"pads", ints_attr({1, 1, 1, 1})}};
  spec.constant_inputs = {1, 2};
  Tensor one = run1(spec);
  spec.threads = 2;
  Tensor two = run1(spec);
  expect_close(two, one, 1e-5f);
  expect_close(one, conv_ref(x, w, &b, 1, {{}, {1, 1, 1, 1}, {}}));
}

// The governor changes thread counts between runs, so the bits must not follow them. oneDNN picks
// its Winograd kernel by thread count (F(2x2, 3x3) with 2 threads on 2 cores for ResNet-18's 56x56
// layers, F(4x4, 3x3) with 1): the engine takes F(2x2, 3x3) only where every count would.
TEST(DnnlConv, WinogradLayerHasTheSameBitsOnOneAndTwoThreads) {
  Tensor x = random_tensor({2, 64, 56, 56}, 33), w = random_tensor({64, 64, 3, 3}, 34), b = random_tensor({64}, 35);
  OpSpec spec{"Conv", {x, w, b}};
  spec.attrs = {{"pads", ints_attr({1, 1, 1, 1})}};
  spec.constant_inputs = {1, 2};
  std::string impl_one, impl_two;
  Tensor one = run1(spec, &impl_one);
  spec.threads = 2;
  Tensor two = run1(spec, &impl_two);
  EXPECT_EQ(impl_one, impl_two);
  ASSERT_EQ(one.nbytes(), two.nbytes());
  EXPECT_EQ(std::memcmp(one.raw(), two.raw(), one.nbytes()), 0);
  expect_close(one, conv_ref(x, w, &b, 1, {{}, {1, 1, 1, 1}, {}}));
}

TEST(DnnlConv, ErrorsNameTheNode) {
  Tensor x = random_tensor({1, 4, 5, 5}, 40);
  OpSpec bad_group{"Conv", {x, random_tensor({6, 2, 3, 3}, 41)}};
  bad_group.attrs["group"] = int_attr(4);
  bad_group.constant_inputs = {1};
  EXPECT_NE(error_of<ModelError>(bad_group).find("test.onnx: node 'n0' (Conv): group=4"), std::string::npos);

  OpSpec mismatch{"Conv", {x, random_tensor({2, 3, 3, 3}, 42)}};
  mismatch.constant_inputs = {1};
  const std::string msg = error_of<ShapeError>(mismatch);
  EXPECT_NE(msg.find("node 'n0' (Conv)"), std::string::npos) << msg;

  OpSpec bad_pad{"Conv", {x, random_tensor({2, 4, 3, 3}, 43)}};
  bad_pad.attrs["auto_pad"] = string_attr("SAME_MIDDLE");
  EXPECT_NE(error_of<UnsupportedError>(bad_pad).find("auto_pad 'SAME_MIDDLE'"), std::string::npos);

  OpSpec bad_act{"Conv", {x, random_tensor({2, 4, 3, 3}, 44)}};
  bad_act.attrs["activation"] = string_attr("Sigmoid");
  EXPECT_NE(error_of<UnsupportedError>(bad_act).find("Sigmoid"), std::string::npos);

  OpSpec too_big{"Conv", {x, random_tensor({2, 4, 7, 7}, 45)}};
  too_big.constant_inputs = {1};
  EXPECT_NE(error_of<ShapeError>(too_big).find("does not fit"), std::string::npos);
}

// ---- ConvTranspose -----------------------------------------------------------------------------

TEST(DnnlConvTranspose, HandComputed2x2) {
  // x = [[1,2],[3,4]], w = ones(2x2), stride 1: each output sums the inputs whose 2x2 footprint
  // covers it: [[1,3,2],[4,10,6],[3,7,4]].
  OpSpec spec{"ConvTranspose", {F({1, 1, 2, 2}, {1, 2, 3, 4}), F({1, 1, 2, 2}, {1, 1, 1, 1})}};
  spec.constant_inputs = {1};
  Tensor y = run1(spec);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(floats(y), (std::vector<float>{1, 3, 2, 4, 10, 6, 3, 7, 4}));
}

TEST(DnnlConvTranspose, MatchesReference) {
  struct Case {
    const char* name;
    Shape x, w;
    int64_t group;
    std::vector<int64_t> strides, pads, dilations, output_padding;
  };
  const std::vector<Case> cases = {
      {"stride 2", {1, 2, 3, 4}, {2, 3, 3, 3}, 1, {2, 2}, {}, {}, {}},
      {"pads", {2, 3, 4, 4}, {3, 2, 3, 3}, 1, {2, 2}, {1, 1, 0, 2}, {}, {}},
      {"output_padding", {1, 2, 3, 3}, {2, 2, 3, 3}, 1, {2, 3}, {}, {}, {1, 2}},
      {"groups", {1, 4, 3, 3}, {4, 3, 2, 2}, 2, {2, 2}, {}, {}, {}},
      {"dilation", {1, 2, 4, 3}, {2, 2, 2, 3}, 1, {}, {}, {2, 2}, {}},
      {"blocked channels", {1, 32, 4, 4}, {32, 16, 3, 3}, 1, {2, 2}, {1, 1, 1, 1}, {}, {1, 1}},
      {"1-D", {1, 2, 5}, {2, 3, 3}, 1, {3}, {1, 0}, {}, {}},
  };
  uint32_t seed = 50;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Tensor x = random_tensor(c.x, seed++), w = random_tensor(c.w, seed++),
           b = random_tensor({c.w[1] * c.group}, seed++);
    OpSpec spec{"ConvTranspose", {x, w, b}};
    spec.constant_inputs = {1, 2};
    if (c.group != 1) spec.attrs["group"] = int_attr(c.group);
    if (!c.strides.empty()) spec.attrs["strides"] = ints_attr(c.strides);
    if (!c.pads.empty()) spec.attrs["pads"] = ints_attr(c.pads);
    if (!c.dilations.empty()) spec.attrs["dilations"] = ints_attr(c.dilations);
    if (!c.output_padding.empty()) spec.attrs["output_padding"] = ints_attr(c.output_padding);
    const size_t sp = c.x.size() - 2;
    const auto s = or_ones(c.strides, sp), d = or_ones(c.dilations, sp);
    std::vector<int64_t> pb(sp, 0);
    Shape out(sp);
    for (size_t i = 0; i < sp; ++i) {
      const int64_t p0 = c.pads.empty() ? 0 : c.pads[i], p1 = c.pads.empty() ? 0 : c.pads[i + sp];
      const int64_t adj = c.output_padding.empty() ? 0 : c.output_padding[i];
      pb[i] = p0;
      out[i] = s[i] * (c.x[i + 2] - 1) + adj + (c.w[i + 2] - 1) * d[i] + 1 - p0 - p1;
    }
    expect_close(run1(spec), conv_transpose_ref(x, w, &b, c.group, c.strides, pb, c.dilations, out));
  }
}

TEST(DnnlConvTranspose, OutputShapeAndAutoPad) {
  // Input 3 wide, kernel 3, stride 2: the full result is 2*2 + 3 = 7 wide.
  Tensor x = random_tensor({1, 1, 3, 3}, 60), w = random_tensor({1, 2, 3, 3}, 61);
  {
    // SAME_UPPER: out = 3*2 = 6, total padding 1, at the end (ONNX's test_convtranspose_autopad_same).
    OpSpec spec{"ConvTranspose", {x, w}};
    spec.attrs = {{"strides", ints_attr({2, 2})}, {"auto_pad", string_attr("SAME_UPPER")}};
    spec.constant_inputs = {1};
    expect_close(run1(spec), conv_transpose_ref(x, w, nullptr, 1, {2, 2}, {0, 0}, {}, {6, 6}));
  }
  {
    // output_shape [5, 9]: rows: total padding 2 -> 1 at each end; columns: 2 past the full result.
    OpSpec spec{"ConvTranspose", {x, w}};
    spec.attrs = {{"strides", ints_attr({2, 2})}, {"output_shape", ints_attr({5, 9})}};
    spec.constant_inputs = {1};
    expect_close(run1(spec), conv_transpose_ref(x, w, nullptr, 1, {2, 2}, {1, 0}, {}, {5, 9}));
  }
}

// ---- Gemm, MatMul ------------------------------------------------------------------------------

TEST(DnnlGemm, HandComputed) {
  // [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]; alpha 2, beta 0.5, C = [10, 20]:
  // [[38+5, 44+10], [86+5, 100+10]].
  OpSpec spec{"Gemm", {F({2, 2}, {1, 2, 3, 4}), F({2, 2}, {5, 6, 7, 8}), F({2}, {10, 20})}};
  spec.attrs = {{"alpha", float_attr(2.f)}, {"beta", float_attr(0.5f)}};
  spec.constant_inputs = {1, 2};
  EXPECT_EQ(floats(run1(spec)), (std::vector<float>{43, 54, 91, 110}));
}

TEST(DnnlGemm, MatchesReferenceForEveryForm) {
  const int64_t m = 3, k = 5, n = 4;
  const std::vector<Shape> c_shapes = {{}, {n}, {1, n}, {m, 1}, {m, n}, {1}, {1, 1}};
  uint32_t seed = 100;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (const Shape& cs : c_shapes)
        for (float alpha : {1.f, -0.5f})
          for (float beta : {1.f, 0.f, 2.f})
            for (int constants = 0; constants < 2; ++constants) {
              SCOPED_TRACE(::testing::Message() << "transA=" << ta << " transB=" << tb << " C=" << shape_str(cs)
                                                << " alpha=" << alpha << " beta=" << beta << " const=" << constants);
              Tensor a = random_tensor(ta ? Shape{k, m} : Shape{m, k}, seed++);
              Tensor b = random_tensor(tb ? Shape{n, k} : Shape{k, n}, seed++);
              Tensor c = random_tensor(cs, seed++);
              OpSpec spec{"Gemm", {a, b, c}};
              spec.attrs = {{"transA", int_attr(ta)},
                            {"transB", int_attr(tb)},
                            {"alpha", float_attr(alpha)},
                            {"beta", float_attr(beta)}};
              if (constants) spec.constant_inputs = {1, 2};
              expect_close(run1(spec), gemm_ref(a, b, &c, ta, tb, alpha, beta));
            }
}

TEST(DnnlGemm, NoCFusedReluAndBadShapes) {
  Tensor a = random_tensor({4, 6}, 200), b = random_tensor({3, 6}, 201);
  OpSpec spec{"Gemm", {a, b}};
  spec.attrs = {{"transB", int_attr(1)}, {"activation", string_attr("Relu")}};
  spec.constant_inputs = {1};
  Tensor want = gemm_ref(a, b, nullptr, false, true, 1.f, 0.f);
  for (int64_t i = 0; i < want.numel(); ++i) want.data<float>()[i] = std::max(want.data<float>()[i], 0.f);
  expect_close(run1(spec), want);

  OpSpec bad{"Gemm", {a, random_tensor({5, 3}, 202)}};
  EXPECT_NE(error_of<ShapeError>(bad).find("node 'n0' (Gemm)"), std::string::npos);
  OpSpec bad_c{"Gemm", {a, random_tensor({6, 3}, 203), random_tensor({2, 3}, 204)}};
  EXPECT_NE(error_of<ShapeError>(bad_c).find("does not broadcast"), std::string::npos);
}

// numpy matmul: 1-D operands are promoted and the added dimension removed; batch dimensions
// broadcast.
Tensor matmul_ref(const Tensor& a, const Tensor& b) {
  Shape as = a.shape(), bs = b.shape();
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const size_t br = std::max(as.size(), bs.size()) - 2;
  Shape batch(br), ab(br, 1), bb(br, 1);
  for (size_t i = 0; i < br; ++i) {
    if (i + as.size() - 2 >= br) ab[i] = as[i + as.size() - 2 - br];
    if (i + bs.size() - 2 >= br) bb[i] = bs[i + bs.size() - 2 - br];
    batch[i] = std::max(ab[i], bb[i]);
  }
  Shape ys = batch;
  if (a.rank() > 1) ys.push_back(m);
  if (b.rank() > 1) ys.push_back(n);
  Tensor y(DType::kFloat32, ys);
  const int64_t nb = shape_numel(batch);
  for (int64_t t = 0; t < nb; ++t) {
    int64_t rem = t, ai = 0, bi = 0, astride = 1, bstride = 1;
    for (int i = static_cast<int>(br) - 1; i >= 0; --i) {
      const int64_t idx = rem % batch[i];
      rem /= batch[i];
      ai += (ab[i] == 1 ? 0 : idx) * astride;
      bi += (bb[i] == 1 ? 0 : idx) * bstride;
      astride *= ab[i];
      bstride *= bb[i];
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p) {
          acc += static_cast<double>(a.data<float>()[ai * m * k + i * k + p]) * b.data<float>()[bi * k * n + p * n + j];
        }
        y.data<float>()[t * m * n + i * n + j] = static_cast<float>(acc);
      }
  }
  return y;
}

TEST(DnnlMatMul, HandComputedOneDimensional) {
  // [1,2,3] . [4,5,6] = 32, a 0-D result; [1,2] x [[1,2,3],[4,5,6]] = [9,12,15].
  Tensor dot = run1({"MatMul", {F({3}, {1, 2, 3}), F({3}, {4, 5, 6})}});
  EXPECT_EQ(dot.shape(), Shape{});
  EXPECT_EQ(floats(dot), (std::vector<float>{32}));
  Tensor row = run1({"MatMul", {F({2}, {1, 2}), F({2, 3}, {1, 2, 3, 4, 5, 6})}});
  EXPECT_EQ(row.shape(), (Shape{3}));
  EXPECT_EQ(floats(row), (std::vector<float>{9, 12, 15}));
  Tensor col = run1({"MatMul", {F({2, 3}, {1, 2, 3, 4, 5, 6}), F({3}, {1, 0, -1})}});
  EXPECT_EQ(col.shape(), (Shape{2}));
  EXPECT_EQ(floats(col), (std::vector<float>{-2, -2}));
}

TEST(DnnlMatMul, MatchesReferenceWithBroadcasting) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3, 4}, {4, 5}},
      {{2, 3, 4}, {4, 5}},
      {{4}, {2, 4, 3}},
      {{2, 3, 4}, {4}},
      {{2, 1, 3, 4}, {3, 4, 2}},
      {{1, 3, 4}, {2, 4, 5}},
      {{2, 2, 3, 4}, {2, 2, 4, 3}},
      {{5, 1, 4}, {1, 4, 1}},
  };
  uint32_t seed = 300;
  for (const auto& [sa, sb] : cases) {
    for (int constant = 0; constant < 2; ++constant) {
      SCOPED_TRACE(shape_str(sa) + " x " + shape_str(sb) + (constant ? " constant B" : ""));
      Tensor a = random_tensor(sa, seed++), b = random_tensor(sb, seed++);
      OpSpec spec{"MatMul", {a, b}};
      if (constant) spec.constant_inputs = {1};
      expect_close(run1(spec), matmul_ref(a, b));
    }
  }
  OpSpec bad{"MatMul", {random_tensor({2, 3, 4}, 1), random_tensor({3, 4, 5}, 2)}};
  EXPECT_NE(error_of<ShapeError>(bad).find("batch dimensions"), std::string::npos);
}

TEST(DnnlMatMul, FusedRelu) {
  Tensor a = random_tensor({3, 7}, 400), b = random_tensor({7, 2}, 401);
  OpSpec spec{"MatMul", {a, b}};
  spec.attrs["activation"] = string_attr("Relu");
  spec.constant_inputs = {1};
  Tensor want = matmul_ref(a, b);
  for (int64_t i = 0; i < want.numel(); ++i) want.data<float>()[i] = std::max(want.data<float>()[i], 0.f);
  expect_close(run1(spec), want);
}

}  // namespace
}  // namespace eff
