// The arithmetic, data-movement, resize and reduction kernels, run through the executor on
// one-node graphs. Every expected value is worked out by hand (see the comments) or follows from
// an index formula stated in the test.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>

#include "engine/executor.h"
#include "engine/kernel.h"
#include "op_test_util.h"

namespace eff {
namespace {

using namespace op_test;

// ---- binary arithmetic ---------------------------------------------------------------------------

TEST(MiscOpsBinary, BroadcastsTrailingDimension) {
  // [2,3] + [3]: the row [10,20,30] is added to each row.
  Tensor out = run1({"Add", {F({2, 3}, {1, 2, 3, 4, 5, 6}), F({3}, {10, 20, 30})}});
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  EXPECT_EQ(floats(out), (std::vector<float>{11, 22, 33, 14, 25, 36}));
}

TEST(MiscOpsBinary, BroadcastsBothOperands) {
  // [2,1] * [1,3] -> [2,3] outer product.
  Tensor out = run1({"Mul", {F({2, 1}, {1, 2}), F({1, 3}, {1, 10, 100})}});
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  EXPECT_EQ(floats(out), (std::vector<float>{1, 10, 100, 2, 20, 200}));
}

TEST(MiscOpsBinary, BroadcastsMiddleDimension) {
  // [2,3,2] + [3,1]: element (i,j,k) = 6i + 2j + k + 100(j+1).
  std::vector<float> a(12);
  for (int i = 0; i < 12; ++i) a[i] = static_cast<float>(i);
  Tensor out = run1({"Add", {F({2, 3, 2}, a), F({3, 1}, {100, 200, 300})}});
  EXPECT_EQ(out.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(floats(out), (std::vector<float>{100, 101, 202, 203, 304, 305, 106, 107, 208, 209, 310, 311}));
}

TEST(MiscOpsBinary, ScalarOnEitherSide) {
  EXPECT_EQ(floats(run1({"Sub", {F({3}, {5, 6, 7}), F({}, {1})}})), (std::vector<float>{4, 5, 6}));
  Tensor out = run1({"Sub", {F({}, {10}), F({3}, {1, 2, 3})}});
  EXPECT_EQ(out.shape(), (Shape{3}));
  EXPECT_EQ(floats(out), (std::vector<float>{9, 8, 7}));
}

TEST(MiscOpsBinary, LargeSameShapeAndScalarTensors) {
  // Big enough for the parallel path: out[i] = i + 2i = 3i exactly (all below 2^24).
  const int n = 100003;
  std::vector<float> a(n), b(n);
  for (int i = 0; i < n; ++i) {
    a[i] = static_cast<float>(i);
    b[i] = static_cast<float>(2 * i);
  }
  std::vector<float> sum = floats(run1({"Add", {F({n}, a), F({n}, b)}}));
  std::vector<float> scaled = floats(run1({"Mul", {F({1, n}, a), F({1}, {0.5f})}}));
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(sum[i], 3.0f * static_cast<float>(i)) << i;
    ASSERT_EQ(scaled[i], 0.5f * static_cast<float>(i)) << i;
  }
}

TEST(MiscOpsBinary, IntegerDivisionTruncatesTowardZero) {
  Tensor q = run1({"Div", {I64({4}, {7, -7, 7, -7}), I64({4}, {2, 2, -2, -2})}});
  EXPECT_EQ(ints(q), (std::vector<int64_t>{3, -3, -3, 3}));
  Tensor q32 = run1({"Div", {Tensor::from<int32_t>({2}, {9, -9}), Tensor::from<int32_t>({1}, {4})}});
  EXPECT_EQ(q32.dtype(), DType::kInt32);
  EXPECT_EQ(ints(q32), (std::vector<int64_t>{2, -2}));
  // INT64_MIN / -1 does not trap; it wraps to INT64_MIN.
  const int64_t lo = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(ints(run1({"Div", {I64({1}, {lo}), I64({1}, {-1})}})), (std::vector<int64_t>{lo}));
  EXPECT_NE(error_of<DataError>({"Div", {I64({2}, {1, 2}), I64({2}, {1, 0})}}).find("node 'n0'"), std::string::npos);
}

TEST(MiscOpsBinary, FloatDivisionFollowsIeee) {
  std::vector<float> r = floats(run1({"Div", {F({3}, {1, -1, 0}), F({3}, {0, 0, 0})}}));
  EXPECT_TRUE(std::isinf(r[0]) && r[0] > 0);
  EXPECT_TRUE(std::isinf(r[1]) && r[1] < 0);
  EXPECT_TRUE(std::isnan(r[2]));
}

TEST(MiscOpsBinary, Uint8WrapsAround) {
  Tensor s = run1({"Add", {Tensor::from<uint8_t>({2}, {250, 3}), Tensor::from<uint8_t>({2}, {10, 5})}});
  EXPECT_EQ(ints(s), (std::vector<int64_t>{4, 8}));  // 260 mod 256 = 4
  Tensor d = run1({"Sub", {Tensor::from<uint8_t>({1}, {3}), Tensor::from<uint8_t>({1}, {5})}});
  EXPECT_EQ(ints(d), (std::vector<int64_t>{254}));  // -2 mod 256
}

TEST(MiscOpsBinary, IncompatibleShapesNameTheNode) {
  const std::string msg = error_of<ShapeError>({"Add", {F({2, 3}, {1, 2, 3, 4, 5, 6}), F({2}, {1, 2})}});
  EXPECT_NE(msg.find("test.onnx: node 'n0' (Add)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
}

TEST(MiscOpsBinary, LegacyBroadcastAxis) {
  // Opset 6: broadcast=1, axis=1 aligns B of shape [3] with dimension 1 of A [2,3,2].
  OpSpec spec{"Add", {F({2, 3, 2}, {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1}), F({3}, {10, 20, 30})}};
  spec.attrs = {{"broadcast", int_attr(1)}, {"axis", int_attr(1)}};
  spec.opset = 6;
  EXPECT_EQ(floats(run1(spec)), (std::vector<float>{10, 10, 20, 20, 30, 30, 11, 11, 21, 21, 31, 31}));
}

// Broadcasting against a direct reading of the numpy rule: output index i maps to index
// (shape_k == 1 ? 0 : i_k) of each operand, right-aligned.
TEST(MiscOpsBinary, BroadcastMatchesIndexRule) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 3, 4}, {4}},          {{2, 3, 4}, {3, 1}},   {{2, 1, 4}, {1, 3, 1}}, {{1, 3, 1, 5}, {2, 1, 4, 1}},
      {{5, 1}, {1, 1, 6}},       {{3, 4}, {3, 4}},      {{}, {2, 2}},           {{2, 3, 1, 1}, {3, 2, 2}},
      {{1, 2, 1, 3}, {2, 1, 1}}, {{4, 1, 3}, {1, 1, 1}}};
  for (const auto& [sa, sb] : cases) {
    const size_t rank = std::max(sa.size(), sb.size());
    Shape pa(rank - sa.size(), 1), pb(rank - sb.size(), 1), out(rank);
    pa.insert(pa.end(), sa.begin(), sa.end());
    pb.insert(pb.end(), sb.begin(), sb.end());
    for (size_t d = 0; d < rank; ++d) out[d] = std::max(pa[d], pb[d]);
    Tensor a = iota_f(sa);
    std::vector<float> bv(static_cast<size_t>(shape_numel(sb)));
    for (size_t i = 0; i < bv.size(); ++i) bv[i] = 1000.0f * static_cast<float>(i + 1);
    Tensor b = F(sb, bv);
    Tensor got = run1({"Sub", {a, b}});
    ASSERT_EQ(got.shape(), out) << shape_str(sa) << " - " << shape_str(sb);
    const std::vector<float> g = floats(got);
    for (int64_t i = 0; i < shape_numel(out); ++i) {
      int64_t rest = i, ia = 0, ib = 0, stride_a = 1, stride_b = 1;
      for (int d = static_cast<int>(rank) - 1; d >= 0; --d) {
        const int64_t idx = rest % out[d];
        rest /= out[d];
        ia += (pa[d] == 1 ? 0 : idx) * stride_a;
        ib += (pb[d] == 1 ? 0 : idx) * stride_b;
        stride_a *= pa[d];
        stride_b *= pb[d];
      }
      ASSERT_EQ(g[i], static_cast<float>(ia) - bv[ib]) << shape_str(sa) << " - " << shape_str(sb) << " at " << i;
    }
  }
}

TEST(MiscOpsPRelu, SlopeBroadcastsToInput) {
  // Negative inputs are multiplied by the slope of their column: -1*0.5, -3*0.125, -5*0.25.
  Tensor out = run1({"PRelu", {F({2, 3}, {-1, 2, -3, 4, -5, 6}), F({3}, {0.5f, 0.25f, 0.125f})}, {}, 1, 16});
  EXPECT_EQ(floats(out), (std::vector<float>{-0.5f, 2, -0.375f, 4, -1.25f, 6}));
  // A slope that would enlarge the output is refused.
  EXPECT_NE(error_of<ShapeError>({"PRelu", {F({3}, {1, 2, 3}), F({2, 3}, {1, 1, 1, 1, 1, 1})}}), "no exception");
}

// ---- Concat / Split ------------------------------------------------------------------------------

TEST(MiscOpsConcat, NegativeAxis) {
  Tensor out = run1({"Concat", {F({2, 1}, {1, 2}), F({2, 2}, {3, 4, 5, 6})}, {{"axis", int_attr(-1)}}});
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  EXPECT_EQ(floats(out), (std::vector<float>{1, 3, 4, 2, 5, 6}));
  Tensor rows = run1({"Concat", {F({1, 2}, {1, 2}), F({0, 2}, {}), F({2, 2}, {3, 4, 5, 6})}, {{"axis", int_attr(0)}}});
  EXPECT_EQ(rows.shape(), (Shape{3, 2}));
  EXPECT_EQ(floats(rows), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(MiscOpsSplit, EqualAndVariableParts) {
  std::vector<Tensor> parts = run_op({"Split", {F({6}, {1, 2, 3, 4, 5, 6})}, {}, 3});
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(floats(parts[0]), (std::vector<float>{1, 2}));
  EXPECT_EQ(floats(parts[2]), (std::vector<float>{5, 6}));
  // Opset 13: sizes [1,2] along axis 1 of [2,3] from the optional input.
  std::vector<Tensor> v = run_op({"Split", {F({2, 3}, {1, 2, 3, 4, 5, 6}), I64({1, 2})}, {{"axis", int_attr(1)}}, 2});
  EXPECT_EQ(v[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(floats(v[0]), (std::vector<float>{1, 4}));
  EXPECT_EQ(floats(v[1]), (std::vector<float>{2, 3, 5, 6}));
  // Opset 11: the same sizes as an attribute.
  std::vector<Tensor> a =
      run_op({"Split", {F({2, 3}, {1, 2, 3, 4, 5, 6})}, {{"axis", int_attr(-1)}, {"split", ints_attr({2, 1})}}, 2, 11});
  EXPECT_EQ(floats(a[0]), (std::vector<float>{1, 2, 4, 5}));
  EXPECT_EQ(floats(a[1]), (std::vector<float>{3, 6}));
  // Opset 18 num_outputs: 5 = 2 + 2 + 1.
  std::vector<Tensor> n = run_op({"Split", {F({5}, {1, 2, 3, 4, 5})}, {{"num_outputs", int_attr(3)}}, 3, 18});
  EXPECT_EQ(floats(n[2]), (std::vector<float>{5}));
  // Without sizes, 5 does not split into 2 equal parts.
  EXPECT_NE(error_of<ShapeError>({"Split", {F({5}, {1, 2, 3, 4, 5})}, {}, 2}).find("node 'n0'"), std::string::npos);
}

// ---- Slice ---------------------------------------------------------------------------------------

OpSpec slice_spec(Tensor x, std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int64_t> axes,
                  std::vector<int64_t> steps) {
  OpSpec s{"Slice", {std::move(x), I64(starts), I64(ends)}};
  if (!axes.empty()) s.inputs.push_back(I64(axes));
  if (!steps.empty()) {
    if (axes.empty()) s.inputs.push_back(std::nullopt);
    s.inputs.push_back(I64(steps));
  }
  return s;
}

TEST(MiscOpsSlice, NegativeStepsAndHugeEnds) {
  const int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();
  // From the last element backwards in steps of 3: 9, 6, 3, 0.
  EXPECT_EQ(floats(run1(slice_spec(iota_f({10}), {-1}, {kMin}, {0}, {-3}))), (std::vector<float>{9, 6, 3, 0}));
  // INT64_MAX means "to the end".
  EXPECT_EQ(floats(run1(slice_spec(iota_f({10}), {7}, {kMax}, {}, {}))), (std::vector<float>{7, 8, 9}));
  // Reverse each row of [3,4]; the end -1000 clamps to "before the first element".
  Tensor rev = run1(slice_spec(iota_f({3, 4}), {-1}, {-1000}, {1}, {-1}));
  EXPECT_EQ(rev.shape(), (Shape{3, 4}));
  EXPECT_EQ(floats(rev), (std::vector<float>{3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8}));
  // Negative axis -2 = rows 1..2.
  EXPECT_EQ(floats(run1(slice_spec(iota_f({3, 4}), {1}, {3}, {-2}, {}))),
            (std::vector<float>{4, 5, 6, 7, 8, 9, 10, 11}));
  // Start beyond the end selects nothing.
  EXPECT_EQ(run1(slice_spec(iota_f({3, 4}), {5}, {10}, {1}, {})).shape(), (Shape{3, 0}));
  // Step 2 on both axes: rows 0 and 2, columns 1 and 3.
  EXPECT_EQ(floats(run1(slice_spec(iota_f({3, 4}), {0, 1}, {3, 4}, {0, 1}, {2, 2}))),
            (std::vector<float>{1, 3, 9, 11}));
}

TEST(MiscOpsSlice, ExtremeSteps) {
  const int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(floats(run1(slice_spec(iota_f({10}), {0}, {10}, {0}, {kMax}))), (std::vector<float>{0}));
  EXPECT_EQ(floats(run1(slice_spec(iota_f({10}), {-1}, {kMin}, {0}, {kMin}))), (std::vector<float>{9}));
  EXPECT_NE(error_of<ShapeError>(slice_spec(iota_f({10}), {0}, {10}, {0}, {0})), "no exception");
}

TEST(MiscOpsSlice, Opset1Attributes) {
  OpSpec s{"Slice", {iota_f({3, 4})}};
  s.attrs = {{"starts", ints_attr({1})}, {"ends", ints_attr({3})}, {"axes", ints_attr({1})}};
  s.opset = 9;
  EXPECT_EQ(floats(run1(s)), (std::vector<float>{1, 2, 5, 6, 9, 10}));
}

// ---- shape ops -----------------------------------------------------------------------------------

TEST(MiscOpsReshape, ZeroCopiesAndMinusOneInfers) {
  Tensor x = iota_f({2, 3, 4});
  Tensor a = run1({"Reshape", {x, I64({0, -1})}});
  EXPECT_EQ(a.shape(), (Shape{2, 12}));
  EXPECT_EQ(a.raw(), x.raw()) << "Reshape must return a view";
  EXPECT_EQ(run1({"Reshape", {x, I64({4, 0, -1})}}).shape(), (Shape{4, 3, 2}));
  // allowzero=1: 0 is a real size (an empty input may become [0, 3]).
  OpSpec z{"Reshape", {F({3, 0}, {}), I64({0, 3})}, {{"allowzero", int_attr(1)}}, 1, 14};
  EXPECT_EQ(run1(z).shape(), (Shape{0, 3}));
  // An empty input: the -1 in [3, -1] becomes 0 elements / 3 = 0.
  EXPECT_EQ(run1({"Reshape", {F({0, 3}, {}), I64({3, -1})}}).shape(), (Shape{3, 0}));
  const int64_t big = int64_t{1} << 40;
  EXPECT_NE(error_of<ShapeError>({"Reshape", {x, I64({big, big})}}).find("node 'n0'"), std::string::npos);
  EXPECT_NE(error_of<ShapeError>({"Reshape", {x, I64({-1, -1})}}), "no exception");
  EXPECT_NE(error_of<ShapeError>({"Reshape", {x, I64({5, -1})}}), "no exception");  // 24 is not a multiple of 5
  EXPECT_NE(error_of<ShapeError>({"Reshape", {x, I64({2, 3})}}), "no exception");
}

TEST(MiscOpsFlatten, NegativeAxis) {
  Tensor x = iota_f({2, 3, 4});
  Tensor a = run1({"Flatten", {x}, {{"axis", int_attr(-1)}}});
  EXPECT_EQ(a.shape(), (Shape{6, 4}));
  EXPECT_EQ(a.raw(), x.raw());
  EXPECT_EQ(run1({"Flatten", {x}, {{"axis", int_attr(0)}}}).shape(), (Shape{1, 24}));
  EXPECT_EQ(run1({"Flatten", {x}}).shape(), (Shape{2, 12}));
  EXPECT_EQ(run1({"Flatten", {x}, {{"axis", int_attr(3)}}}).shape(), (Shape{24, 1}));
  EXPECT_NE(error_of<ShapeError>({"Flatten", {x}, {{"axis", int_attr(-4)}}}), "no exception");
}

TEST(MiscOpsSqueeze, NegativeAxesAndDefaults) {
  Tensor x = iota_f({2, 1, 3, 1});
  EXPECT_EQ(run1({"Squeeze", {x, I64({-1})}}).shape(), (Shape{2, 1, 3}));
  EXPECT_EQ(run1({"Squeeze", {x}}).shape(), (Shape{2, 3}));
  EXPECT_EQ(run1({"Squeeze", {x}, {{"axes", ints_attr({1})}}, 1, 11}).shape(), (Shape{2, 3, 1}));
  EXPECT_NE(error_of<ShapeError>({"Squeeze", {x, I64({2})}}), "no exception");  // size 3
  // Unsqueeze: -1 refers to the output rank (4), so [2,3] -> [1,2,3,1].
  EXPECT_EQ(run1({"Unsqueeze", {iota_f({2, 3}), I64({-1, 0})}}).shape(), (Shape{1, 2, 3, 1}));
  EXPECT_EQ(run1({"Unsqueeze", {iota_f({2, 3}), I64({1})}}).shape(), (Shape{2, 1, 3}));
  EXPECT_EQ(run1({"Unsqueeze", {iota_f({2, 3})}, {{"axes", ints_attr({2})}}, 1, 11}).shape(), (Shape{2, 3, 1}));
  EXPECT_NE(error_of<ShapeError>({"Unsqueeze", {iota_f({2, 3}), I64({0, 0})}}), "no exception");
}

TEST(MiscOpsTranspose, DefaultReversesAndPermMovesAxes) {
  Tensor t = run1({"Transpose", {F({2, 3}, {1, 2, 3, 4, 5, 6})}});
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  EXPECT_EQ(floats(t), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  // perm [1,2,0] on x[i][j][k] = 12i + 4j + k: out[j][k][i] = x[i][j][k].
  Tensor p = run1({"Transpose", {iota_f({2, 3, 4})}, {{"perm", ints_attr({1, 2, 0})}}});
  ASSERT_EQ(p.shape(), (Shape{3, 4, 2}));
  const std::vector<float> v = floats(p);
  for (int j = 0; j < 3; ++j) {
    for (int k = 0; k < 4; ++k) {
      for (int i = 0; i < 2; ++i) EXPECT_EQ(v[(j * 4 + k) * 2 + i], 12 * i + 4 * j + k);
    }
  }
  EXPECT_NE(error_of<ShapeError>({"Transpose", {iota_f({2, 3})}, {{"perm", ints_attr({0, 0})}}}), "no exception");
}

// Larger than one copy tile, against the definition out[i_0..i_n] = in[i at perm positions].
TEST(MiscOpsTranspose, MatchesIndexRuleOnLargerTensors) {
  const Shape in_shape = {2, 3, 70, 5};
  const std::vector<std::vector<int64_t>> perms = {{0, 2, 3, 1}, {3, 1, 0, 2}, {2, 0, 3, 1}, {0, 1, 3, 2}};
  Tensor x = iota_f(in_shape);
  for (const auto& perm : perms) {
    Tensor t = run1({"Transpose", {x}, {{"perm", ints_attr(perm)}}});
    Shape out_shape(4);
    for (int d = 0; d < 4; ++d) out_shape[d] = in_shape[perm[d]];
    ASSERT_EQ(t.shape(), out_shape);
    const std::vector<float> v = floats(t);
    const int64_t in_strides[4] = {3 * 70 * 5, 70 * 5, 5, 1};
    for (int64_t i = 0; i < t.numel(); ++i) {
      int64_t rest = i, src = 0;
      for (int d = 3; d >= 0; --d) {
        src += (rest % out_shape[d]) * in_strides[perm[d]];
        rest /= out_shape[d];
      }
      ASSERT_EQ(v[i], static_cast<float>(src)) << "perm " << perm[0] << perm[1] << perm[2] << perm[3] << " at " << i;
    }
  }
}

TEST(MiscOpsShape, StartAndEnd) {
  Tensor x = iota_f({2, 3, 4, 5});
  Tensor s = run1({"Shape", {x}, {}, 1, 15});
  EXPECT_EQ(s.dtype(), DType::kInt64);
  EXPECT_EQ(ints(s), (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(ints(run1({"Shape", {x}, {{"start", int_attr(1)}, {"end", int_attr(-1)}}, 1, 15})),
            (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(ints(run1({"Shape", {x}, {{"start", int_attr(-10)}, {"end", int_attr(2)}}, 1, 15})),
            (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(run1({"Shape", {x}, {{"start", int_attr(3)}, {"end", int_attr(1)}}, 1, 15}).numel(), 0);
}

// ---- Pad -----------------------------------------------------------------------------------------

OpSpec pad_spec(const std::string& mode, Tensor x, std::vector<int64_t> pads) {
  return {"Pad", {std::move(x), I64(pads)}, {{"mode", string_attr(mode)}}};
}

TEST(MiscOpsPad, ReflectEdgeConstant) {
  Tensor x = F({3}, {1, 2, 3});
  // reflect mirrors without repeating the edge: [3 2 | 1 2 3 | 2 1].
  EXPECT_EQ(floats(run1(pad_spec("reflect", x, {2, 2}))), (std::vector<float>{3, 2, 1, 2, 3, 2, 1}));
  EXPECT_EQ(floats(run1(pad_spec("edge", x, {2, 2}))), (std::vector<float>{1, 1, 1, 2, 3, 3, 3}));
  OpSpec c = pad_spec("constant", x, {2, 1});
  c.inputs.push_back(F({}, {9}));
  EXPECT_EQ(floats(run1(c)), (std::vector<float>{9, 9, 1, 2, 3, 9}));
  // Negative pads crop: drop 1 at the front, add one 0 at the back.
  EXPECT_EQ(floats(run1(pad_spec("constant", x, {-1, 1}))), (std::vector<float>{2, 3, 0}));
}

TEST(MiscOpsPad, TwoDimensionalReflectAndEdge) {
  // The ONNX Pad documentation's reflect example: two columns mirrored on the left.
  Tensor x = F({3, 2}, {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f});
  Tensor r = run1(pad_spec("reflect", x, {0, 2, 0, 0}));
  EXPECT_EQ(r.shape(), (Shape{3, 4}));
  EXPECT_EQ(floats(r), (std::vector<float>{1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f, 4.5f, 5.7f}));
  // Edge on both axes of [[1,2],[3,4]] with one row/column everywhere.
  Tensor e = run1(pad_spec("edge", F({2, 2}, {1, 2, 3, 4}), {1, 1, 1, 1}));
  EXPECT_EQ(floats(e), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
  // int32 data, constant rows above.
  Tensor i = run1(pad_spec("constant", Tensor::from<int32_t>({1, 2}, {5, 6}), {1, 0, 0, 0}));
  EXPECT_EQ(i.dtype(), DType::kInt32);
  EXPECT_EQ(ints(i), (std::vector<int64_t>{0, 0, 5, 6}));
}

TEST(MiscOpsPad, Opset18AxesAndWrap) {
  OpSpec s = pad_spec("constant", F({2, 2}, {1, 2, 3, 4}), {1, 1});
  s.inputs.push_back(std::nullopt);
  s.inputs.push_back(I64({1}));
  s.opset = 18;
  EXPECT_EQ(floats(run1(s)), (std::vector<float>{0, 1, 2, 0, 0, 3, 4, 0}));
  // wrap continues periodically: [2 3 | 1 2 3 | 1].
  EXPECT_EQ(floats(run1(pad_spec("wrap", F({3}, {1, 2, 3}), {2, 1}))), (std::vector<float>{2, 3, 1, 2, 3, 1}));
}

TEST(MiscOpsPad, Opset2Attributes) {
  OpSpec s{"Pad", {F({1, 2}, {1, 2})}, {{"pads", ints_attr({0, 1, 0, 1})}, {"value", float_attr(7.5f)}}, 1, 2};
  EXPECT_EQ(floats(run1(s)), (std::vector<float>{7.5f, 1, 2, 7.5f}));
}

// ---- Resize / Upsample ---------------------------------------------------------------------------

OpSpec resize_scales(Tensor x, std::vector<float> scales, std::map<std::string, Attribute> attrs) {
  const int64_t n = static_cast<int64_t>(scales.size());
  return {"Resize", {std::move(x), std::nullopt, F({n}, scales)}, std::move(attrs)};
}
OpSpec resize_sizes(Tensor x, std::vector<int64_t> sizes, std::map<std::string, Attribute> attrs) {
  return {"Resize", {std::move(x), std::nullopt, std::nullopt, I64(sizes)}, std::move(attrs)};
}

TEST(MiscOpsResize, NearestAsymmetricFloorRepeats) {
  Tensor out = run1(resize_scales(F({1, 1, 2, 2}, {1, 2, 3, 4}), {1, 1, 2, 2},
                                  {{"mode", string_attr("nearest")},
                                   {"coordinate_transformation_mode", string_attr("asymmetric")},
                                   {"nearest_mode", string_attr("floor")}}));
  EXPECT_EQ(out.shape(), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(floats(out), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
}

TEST(MiscOpsResize, NearestTieBreaking) {
  // asymmetric, x2: output x maps to x/2 = 0, .5, 1, 1.5, 2, 2.5, 3, 3.5.
  Tensor x = F({4}, {10, 20, 30, 40});
  auto with_mode = [&](const char* m) {
    return floats(run1(resize_sizes(
        x, {8}, {{"coordinate_transformation_mode", string_attr("asymmetric")}, {"nearest_mode", string_attr(m)}})));
  };
  EXPECT_EQ(with_mode("round_prefer_ceil"), (std::vector<float>{10, 20, 20, 30, 30, 40, 40, 40}));
  EXPECT_EQ(with_mode("round_prefer_floor"), (std::vector<float>{10, 10, 20, 20, 30, 30, 40, 40}));
  EXPECT_EQ(with_mode("ceil"), (std::vector<float>{10, 20, 20, 30, 30, 40, 40, 40}));
  // half_pixel, x0.5: x maps to (x + 0.5) * 2 - 0.5 = 0.5, 2.5 -> round_prefer_floor 0, 2.
  EXPECT_EQ(floats(run1(resize_scales(x, {0.5f}, {}))), (std::vector<float>{10, 30}));
}

TEST(MiscOpsResize, LinearHalfPixelAndAlignCorners) {
  Tensor x = F({1, 1, 2, 2}, {1, 2, 3, 4});
  // half_pixel x2: coordinates (x + 0.5)/2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped to [0, 1];
  // the value is 1 + cx + 2 cy.
  Tensor h = run1(resize_scales(x, {1, 1, 2, 2}, {{"mode", string_attr("linear")}}));
  EXPECT_EQ(h.shape(), (Shape{1, 1, 4, 4}));
  expect_near_all(h, {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4});
  // Several planes (the one-pass bilinear kernel indexes rows per plane): plane k is x + 10k.
  Tensor planes = F({1, 3, 2, 2}, {1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24});
  const std::vector<float> one = {1,    1.25f, 1.75f, 2,    1.5f, 1.75f, 2.25f, 2.5f,
                                  2.5f, 2.75f, 3.25f, 3.5f, 3,    3.25f, 3.75f, 4};
  std::vector<float> three;
  for (float add : {0.f, 10.f, 20.f}) {
    for (float v : one) three.push_back(v + add);
  }
  expect_near_all(run1(resize_scales(planes, {1, 1, 2, 2}, {{"mode", string_attr("linear")}})), three);
  // align_corners to 3x3: coordinates 0, 0.5, 1.
  Tensor a = run1(resize_sizes(
      x, {1, 1, 3, 3},
      {{"mode", string_attr("linear")}, {"coordinate_transformation_mode", string_attr("align_corners")}}));
  expect_near_all(a, {1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4});
  // pytorch_half_pixel to a single column maps to coordinate 0.
  Tensor p = run1(resize_sizes(
      x, {1, 1, 2, 1},
      {{"mode", string_attr("linear")}, {"coordinate_transformation_mode", string_attr("pytorch_half_pixel")}}));
  expect_near_all(p, {1, 3});
}

TEST(MiscOpsResize, CubicByHandAndAntialiasRefusedAtLoad) {
  // x = {0, 1, 0, 0} doubled, asymmetric: positions 0, 0.5, ..., 3.5. Keys' weights at fraction
  // 0.5 with a = -0.75: a/8 = -0.09375 for the outer taps, 0.5 - a/8 = 0.59375 for the inner ones;
  // taps beyond the input take the edge value. 0.5 -> taps {x0, x0, x1, x2} -> 0.59375; 1.5 ->
  // 0.59375; 2.5 -> taps {x1, x2, x3, x3} -> -0.09375 (linear would give 0.5, 0.5, 0).
  const Tensor x = F({1, 1, 1, 4}, {0, 1, 0, 0});
  const std::map<std::string, Attribute> cubic = {{"mode", string_attr("cubic")},
                                                  {"coordinate_transformation_mode", string_attr("asymmetric")}};
  expect_near_all(run1(resize_scales(x, {1, 1, 1, 2}, cubic)), {0, 0.59375f, 1, 0.59375f, 0, -0.09375f, 0, 0});
  // exclude_outside: at 0.5 the tap at -1 is dropped, the rest renormalised: 0.59375 / 1.09375.
  auto excluded = cubic;
  excluded["exclude_outside"] = int_attr(1);
  const std::vector<float> got = floats(run1(resize_scales(x, {1, 1, 1, 2}, excluded)));
  EXPECT_NEAR(got.at(1), 0.59375f / 1.09375f, 1e-6f);
  std::vector<Tensor> runtime;
  auto antialias = cubic;
  antialias["antialias"] = int_attr(1);
  Graph g = one_node_graph(resize_scales(x, {1, 1, 1, 2}, antialias), runtime);
  try {
    Executor ex(std::move(g));
    FAIL() << "antialias accepted";
  } catch (const UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("node 'n0' (Resize)"), std::string::npos) << e.what();
  }
}

TEST(MiscOpsResize, UpsampleOpset9AndOpset7) {
  // The ONNX Upsample example: scales [1,1,2,3] repeats rows twice and columns three times.
  const std::vector<float> want = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
  Tensor x = F({1, 1, 2, 2}, {1, 2, 3, 4});
  OpSpec s9{"Upsample", {x, F({4}, {1, 1, 2, 3})}, {{"mode", string_attr("nearest")}}, 1, 9};
  EXPECT_EQ(floats(run1(s9)), want);
  OpSpec s7{"Upsample", {x}, {{"mode", string_attr("nearest")}, {"scales", floats_attr({1, 1, 2, 3})}}, 1, 7};
  Tensor out = run1(s7);
  EXPECT_EQ(out.shape(), (Shape{1, 1, 4, 6}));
  EXPECT_EQ(floats(out), want);
}

TEST(MiscOpsResize, UpsampleLinearIsAsymmetric) {
  // Upsample-9 linear x2: coordinates x/2 = 0, 0.5, 1, 1.5 (clamped to 1) on both axes.
  OpSpec s{"Upsample", {F({1, 1, 2, 2}, {1, 2, 3, 4}), F({4}, {1, 1, 2, 2})}, {{"mode", string_attr("linear")}}, 1, 9};
  expect_near_all(run1(s), {1, 1.5f, 2, 2, 2, 2.5f, 3, 3, 3, 3.5f, 4, 4, 3, 3.5f, 4, 4});
}

TEST(MiscOpsResize, Opset18AxesAndAspectRatio) {
  Tensor x = iota_f({1, 1, 2, 4});
  auto sized = [&](const char* policy) {
    OpSpec s =
        resize_sizes(x, {4, 4}, {{"axes", ints_attr({2, 3})}, {"keep_aspect_ratio_policy", string_attr(policy)}});
    s.opset = 18;
    return run1(s).shape();
  };
  // Per-axis scales would be 2 and 1: not_larger uses 1 for both, not_smaller uses 2.
  EXPECT_EQ(sized("stretch"), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(sized("not_larger"), (Shape{1, 1, 2, 4}));
  EXPECT_EQ(sized("not_smaller"), (Shape{1, 1, 4, 8}));
  // Only the listed axis is scaled: columns repeat, rows stay.
  OpSpec s = resize_scales(x, {2},
                           {{"axes", ints_attr({-1})},
                            {"nearest_mode", string_attr("floor")},
                            {"coordinate_transformation_mode", string_attr("asymmetric")}});
  s.opset = 18;
  EXPECT_EQ(floats(run1(s)), (std::vector<float>{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7}));
}

TEST(MiscOpsResize, TfCropAndResizeExtrapolates) {
  // roi [0.5, 1.5] on a 1-D input of 3: coordinates 0.5 * 2 + x * 1 * 2 / 2 = 1, 2, 3; 3 is
  // outside [0, 2] and takes the extrapolation value.
  OpSpec s{"Resize",
           {F({3}, {10, 20, 30}), F({2}, {0.5f, 1.5f}), std::nullopt, I64({3})},
           {{"mode", string_attr("linear")},
            {"coordinate_transformation_mode", string_attr("tf_crop_and_resize")},
            {"extrapolation_value", float_attr(-1)}}};
  expect_near_all(run1(s), {20, 30, -1});
}

// ---- Gather --------------------------------------------------------------------------------------

TEST(MiscOpsGather, NegativeIndicesAnyAxis) {
  Tensor data = F({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor rows = run1({"Gather", {data, I64({-1, 0})}});
  EXPECT_EQ(rows.shape(), (Shape{2, 2}));
  EXPECT_EQ(floats(rows), (std::vector<float>{5, 6, 1, 2}));
  // axis 1 with int32 indices of shape [2]: columns 1 and -2 (= 0).
  Tensor cols = run1({"Gather", {data, Tensor::from<int32_t>({2}, {1, -2})}, {{"axis", int_attr(1)}}});
  EXPECT_EQ(cols.shape(), (Shape{3, 2}));
  EXPECT_EQ(floats(cols), (std::vector<float>{2, 1, 4, 3, 6, 5}));
  // A scalar index drops the axis; int64 data works the same.
  Tensor s = run1({"Gather", {I64({3}, {7, 8, 9}), I64({}, {-2})}});
  EXPECT_EQ(s.shape(), Shape{});
  EXPECT_EQ(ints(s), (std::vector<int64_t>{8}));
  const std::string msg = error_of<ShapeError>({"Gather", {data, I64({3})}});
  EXPECT_NE(msg.find("node 'n0' (Gather)"), std::string::npos) << msg;
  EXPECT_NE(error_of<ShapeError>({"Gather", {data, I64({-4})}}), "no exception");
}

// ---- reductions ----------------------------------------------------------------------------------

TEST(MiscOpsReduce, MeanSumMax) {
  Tensor x = F({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor m = run1({"ReduceMean", {x}, {{"axes", ints_attr({1})}}});
  EXPECT_EQ(m.shape(), (Shape{2, 1}));
  EXPECT_EQ(floats(m), (std::vector<float>{2, 5}));
  Tensor m0 = run1({"ReduceMean", {x}, {{"axes", ints_attr({-1})}, {"keepdims", int_attr(0)}}});
  EXPECT_EQ(m0.shape(), (Shape{2}));
  Tensor all = run1({"ReduceMean", {x}});
  EXPECT_EQ(all.shape(), (Shape{1, 1}));
  EXPECT_EQ(floats(all), (std::vector<float>{3.5f}));
  // Opset 13 ReduceSum takes axes as an input.
  Tensor s = run1({"ReduceSum", {x, I64({0})}});
  EXPECT_EQ(floats(s), (std::vector<float>{5, 7, 9}));
  OpSpec noop{"ReduceSum", {x, I64({0}, {})}, {{"noop_with_empty_axes", int_attr(1)}}};
  EXPECT_EQ(run1(noop).shape(), (Shape{2, 3}));
  // Opset 18 ReduceMean takes axes as an input too.
  EXPECT_EQ(floats(run1({"ReduceMean", {x, I64({0})}, {}, 1, 18})), (std::vector<float>{2.5f, 3.5f, 4.5f}));
  EXPECT_EQ(floats(run1({"ReduceMax", {x}, {{"axes", ints_attr({0})}, {"keepdims", int_attr(0)}}})),
            (std::vector<float>{4, 5, 6}));
  // Middle axis of [2,3,2] with x[i][j][k] = 6i + 2j + k: the sum over j is 18i + 3k + 6.
  EXPECT_EQ(floats(run1({"ReduceSum", {iota_f({2, 3, 2}), I64({1})}, {{"keepdims", int_attr(0)}}})),
            (std::vector<float>{6, 9, 24, 27}));
}

// ---- Cast / Constant / Dropout -------------------------------------------------------------------

TEST(MiscOpsCast, TruncatesAndConverts) {
  Tensor i = run1({"Cast", {F({3}, {1.7f, -1.7f, 300})}, {{"to", int_attr(6)}}});  // INT32
  EXPECT_EQ(i.dtype(), DType::kInt32);
  EXPECT_EQ(ints(i), (std::vector<int64_t>{1, -1, 300}));
  Tensor b = run1({"Cast", {F({3}, {0, 0.5f, NAN})}, {{"to", int_attr(9)}}});  // BOOL
  EXPECT_EQ(b.dtype(), DType::kBool);
  EXPECT_EQ(ints(b), (std::vector<int64_t>{0, 1, 1}));
  // float -> float16 -> float keeps values float16 can represent exactly.
  Tensor h = run1({"Cast", {F({3}, {1.0009765625f, 65504, -0.5f})}, {{"to", int_attr(10)}}});
  EXPECT_EQ(h.dtype(), DType::kFloat16);
  EXPECT_EQ(floats(h), (std::vector<float>{1.0009765625f, 65504, -0.5f}));
  // double 1 + 2^-11 + 2^-40 is just above the half-way point between the float16 values 1 and
  // 1 + 2^-10, so it rounds up; rounding through float first would land on the tie and go to 1.
  const double d = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  Tensor hd = run1({"Cast", {Tensor::from<double>({1}, {d})}, {{"to", int_attr(10)}}});
  EXPECT_EQ(floats(hd), (std::vector<float>{1.0009765625f}));
  Tensor l = run1({"Cast", {Tensor::from<int32_t>({2}, {-3, 7})}, {{"to", int_attr(1)}}});
  EXPECT_EQ(floats(l), (std::vector<float>{-3, 7}));
  // STRING (8) is not a type the engine holds.
  std::vector<Tensor> runtime;
  Graph g = one_node_graph(OpSpec{"Cast", {F({1}, {1})}, {{"to", int_attr(8)}}}, runtime);
  EXPECT_THROW(Executor ex(std::move(g)), UnsupportedError);
}

TEST(MiscOpsConstant, ValueKinds) {
  Tensor a = run1({"Constant", {}, {{"value_ints", ints_attr({1, 2, 3})}}});
  EXPECT_EQ(a.dtype(), DType::kInt64);
  EXPECT_EQ(ints(a), (std::vector<int64_t>{1, 2, 3}));
  Tensor f = run1({"Constant", {}, {{"value_float", float_attr(2.5f)}}});
  EXPECT_EQ(f.shape(), Shape{});
  EXPECT_EQ(floats(f), (std::vector<float>{2.5f}));
  Attribute t;
  t.kind = Attribute::Kind::kTensor;
  t.t = F({2}, {4, 5});
  EXPECT_EQ(floats(run1({"Constant", {}, {{"value", t}}})), (std::vector<float>{4, 5}));
}

TEST(MiscOpsDropout, InferenceIsIdentityWithTrueMask) {
  Tensor x = F({2, 2}, {1, -2, 3, -4});
  std::vector<Tensor> out = run_op({"Dropout", {x}, {}, 2});
  EXPECT_EQ(floats(out[0]), floats(x));
  EXPECT_EQ(out[1].dtype(), DType::kBool);
  EXPECT_EQ(ints(out[1]), (std::vector<int64_t>{1, 1, 1, 1}));
  // Training mode with a non-zero ratio would be random: refused when the model is loaded.
  OpSpec training{"Dropout", {x, F({}, {0.5f}), Tensor::from<bool>({}, {true})}, {}, 1};
  training.constant_inputs = {1, 2};
  std::vector<Tensor> runtime;
  Graph g = one_node_graph(training, runtime);
  EXPECT_THROW(Executor ex(std::move(g)), UnsupportedError);
}

}  // namespace
}  // namespace eff
