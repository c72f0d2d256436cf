// Ops whose output size comes from input values (Expand, Tile, Range, ConstantOfShape), ArgMax/
// ArgMin, DepthToSpace/SpaceToDepth, Einsum, LayerNormalization and InstanceNormalization, run
// through the executor on one-node graphs, and constant folding of shape sub-graphs built with
// them. Expected values are worked out by hand in the comments.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "graph/passes.h"
#include "op_test_util.h"

namespace eff {
namespace {

using namespace op_test;

Attribute tensor_attr(Tensor t) {
  Attribute a;
  a.kind = Attribute::Kind::kTensor;
  a.t = std::move(t);
  return a;
}

// ---- Expand, Tile, Range, ConstantOfShape ------------------------------------------------------

TEST(OpsGenerate, ExpandBroadcastsBothWays) {
  // [3,1] expanded by [2,1,2]: the output is [2,3,2]; each value repeats along the last axis, the
  // whole block twice along the first.
  Tensor e = run1({"Expand", {F({3, 1}, {1, 2, 3}), I64({2, 1, 2})}});
  EXPECT_EQ(e.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(floats(e), (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  // A target dimension of 1 keeps the input's larger one (bidirectional).
  EXPECT_EQ(run1({"Expand", {F({2}, {1, 2}), I64({1})}}).shape(), (Shape{2}));
  EXPECT_NE(error_of<ShapeError>({"Expand", {F({2}, {1, 2}), I64({3})}}).find("n0"), std::string::npos);
}

TEST(OpsGenerate, TileRepeatsEachAxis) {
  EXPECT_EQ(floats(run1({"Tile", {F({2}, {1, 2}), I64({3})}})), (std::vector<float>{1, 2, 1, 2, 1, 2}));
  // [2,2] tiled (1,2): each row repeated twice along the columns.
  Tensor t = run1({"Tile", {F({2, 2}, {1, 2, 3, 4}), I64({1, 2})}});
  EXPECT_EQ(t.shape(), (Shape{2, 4}));
  EXPECT_EQ(floats(t), (std::vector<float>{1, 2, 1, 2, 3, 4, 3, 4}));
  EXPECT_NE(error_of<ShapeError>({"Tile", {F({2}, {1, 2}), I64({-1})}}), "no exception");
}

TEST(OpsGenerate, RangeCountsAndRefusesHugeOrZeroStep) {
  // (1, 2, 0.25): ceil((2 - 1) / 0.25) = 4 values.
  Tensor f = run1({"Range", {F({}, {1}), F({}, {2}), F({}, {0.25f})}});
  EXPECT_EQ(f.shape(), (Shape{4}));
  EXPECT_EQ(floats(f), (std::vector<float>{1, 1.25f, 1.5f, 1.75f}));
  // (10, 4, -3): ceil(-6 / -3) = 2 values.
  auto i32 = [](int32_t v) { return Tensor::from<int32_t>({}, {v}); };
  Tensor i = run1({"Range", {i32(10), i32(4), i32(-3)}});
  EXPECT_EQ(i.dtype(), DType::kInt32);
  EXPECT_EQ(ints(i), (std::vector<int64_t>{10, 7}));
  // An empty range when the step points away from the limit.
  EXPECT_EQ(run1({"Range", {i32(0), i32(5), i32(-1)}}).numel(), 0);
  EXPECT_NE(error_of<ShapeError>({"Range", {i32(0), i32(5), i32(0)}}).find("delta is 0"), std::string::npos);
  const std::string huge = error_of<ShapeError>({"Range", {I64({}, {0}), I64({}, {int64_t{1} << 60}), I64({}, {1})}});
  EXPECT_NE(huge.find("n0"), std::string::npos) << huge;
  EXPECT_NE(huge.find("limit"), std::string::npos) << huge;
}

TEST(OpsGenerate, ConstantOfShapeValueAndLimit) {
  Tensor z = run1({"ConstantOfShape", {I64({2, 3})}});
  EXPECT_EQ(z.dtype(), DType::kFloat32);
  EXPECT_EQ(floats(z), (std::vector<float>(6, 0.f)));
  Tensor seven = run1({"ConstantOfShape", {I64({2})}, {{"value", tensor_attr(I64({1}, {7}))}}});
  EXPECT_EQ(seven.dtype(), DType::kInt64);
  EXPECT_EQ(ints(seven), (std::vector<int64_t>{7, 7}));
  EXPECT_EQ(run1({"ConstantOfShape", {I64({0})}}).numel(), 0);
  // 2^40 * 2^40 floats: refused before any allocation, naming the node.
  const std::string msg = error_of<ShapeError>({"ConstantOfShape", {I64({int64_t{1} << 40, int64_t{1} << 40})}});
  EXPECT_NE(msg.find("n0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("limit"), std::string::npos) << msg;
}

// ---- the other reductions ----------------------------------------------------------------------

TEST(OpsGenerate, NormAndProductReductions) {
  // Rows {3,-4} and {1,2} reduced over axis 1: L1 7, 3; L2 5, sqrt 5 = 2.2360680; sum of squares
  // 25, 5; product -12, 2; log-sum of {1,2} = ln 3 = 1.0986123.
  Tensor x = F({2, 2}, {3, -4, 1, 2});
  auto reduce = [&](const char* op, const Tensor& t) {
    return run1({op, {t}, {{"axes", ints_attr({1})}, {"keepdims", int_attr(0)}}});
  };
  EXPECT_EQ(floats(reduce("ReduceL1", x)), (std::vector<float>{7, 3}));
  expect_near_all(reduce("ReduceL2", x), {5, 2.2360680f}, 1e-6f);
  EXPECT_EQ(floats(reduce("ReduceSumSquare", x)), (std::vector<float>{25, 5}));
  EXPECT_EQ(floats(reduce("ReduceProd", x)), (std::vector<float>{-12, 2}));
  expect_near_all(reduce("ReduceLogSum", F({1, 2}, {1, 2})), {1.0986123f}, 1e-6f);
  // log(e^0 + e^ln3) = log 4 = 1.3862944.
  expect_near_all(reduce("ReduceLogSumExp", F({1, 2}, {0, 1.0986123f})), {1.3862944f}, 1e-6f);
  // Integer products wrap like int64 arithmetic: 2^32 * 2^32 = 2^64 -> 0.
  EXPECT_EQ(ints(reduce("ReduceProd", I64({1, 2}, {int64_t{1} << 32, int64_t{1} << 32}))), (std::vector<int64_t>{0}));
}

// ---- ArgMax, ArgMin ----------------------------------------------------------------------------

TEST(OpsGenerate, ArgMaxArgMinTiesAndKeepdims) {
  Tensor x = F({2, 3}, {1, 5, 5, 7, 2, 7});
  // Row maxima 5 (columns 1, 2) and 7 (columns 0, 2): first index, or last with select_last_index.
  Tensor first = run1({"ArgMax", {x}, {{"axis", int_attr(1)}, {"keepdims", int_attr(0)}}});
  EXPECT_EQ(first.dtype(), DType::kInt64);
  EXPECT_EQ(first.shape(), (Shape{2}));
  EXPECT_EQ(ints(first), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(
      ints(run1(
          {"ArgMax", {x}, {{"axis", int_attr(-1)}, {"keepdims", int_attr(0)}, {"select_last_index", int_attr(1)}}})),
      (std::vector<int64_t>{2, 2}));
  // Column minima over rows: (1,7) -> 0, (5,2) -> 1, (5,7) -> 0; keepdims gives [1,3].
  Tensor mins = run1({"ArgMin", {x}});
  EXPECT_EQ(mins.shape(), (Shape{1, 3}));
  EXPECT_EQ(ints(mins), (std::vector<int64_t>{0, 1, 0}));
}

// ---- DepthToSpace, SpaceToDepth ----------------------------------------------------------------

TEST(OpsGenerate, DepthToSpaceModesAndSpaceToDepth) {
  Tensor x = iota_f({1, 8, 1, 1});  // channel c holds c
  // DCR: out[c'][b1][b2] = in[b1 * 4 + b2 * 2 + c'] -> c'=0: 0 2 4 6, c'=1: 1 3 5 7.
  Tensor dcr = run1({"DepthToSpace", {x}, {{"blocksize", int_attr(2)}}});
  EXPECT_EQ(dcr.shape(), (Shape{1, 2, 2, 2}));
  EXPECT_EQ(floats(dcr), (std::vector<float>{0, 2, 4, 6, 1, 3, 5, 7}));
  // CRD: out[c'][b1][b2] = in[c' * 4 + b1 * 2 + b2] -> 0 1 2 3, 4 5 6 7.
  Tensor crd = run1({"DepthToSpace", {x}, {{"blocksize", int_attr(2)}, {"mode", string_attr("CRD")}}});
  EXPECT_EQ(floats(crd), (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}));
  // SpaceToDepth of [1,2,2,2] with in[c][h][w] = 4c + 2h + w: output channel (2h + w) * 2 + c.
  Tensor s = run1({"SpaceToDepth", {iota_f({1, 2, 2, 2})}, {{"blocksize", int_attr(2)}}});
  EXPECT_EQ(s.shape(), (Shape{1, 8, 1, 1}));
  EXPECT_EQ(floats(s), (std::vector<float>{0, 4, 1, 5, 2, 6, 3, 7}));
  // DCR DepthToSpace inverts SpaceToDepth.
  Tensor big = iota_f({2, 3, 4, 6});
  Tensor there = run1({"SpaceToDepth", {big}, {{"blocksize", int_attr(2)}}});
  EXPECT_EQ(floats(run1({"DepthToSpace", {there}, {{"blocksize", int_attr(2)}}})), floats(big));
  EXPECT_NE(error_of<ShapeError>({"DepthToSpace", {iota_f({1, 3, 1, 1})}, {{"blocksize", int_attr(2)}}}),
            "no exception");
  const std::string huge =
      error_of<ShapeError>({"DepthToSpace", {iota_f({1, 4, 1, 1})}, {{"blocksize", int_attr(int64_t{1} << 40)}}});
  EXPECT_NE(huge.find("does not fit"), std::string::npos) << huge;
}

// ---- Einsum ------------------------------------------------------------------------------------

TEST(OpsGenerate, EinsumContractions) {
  Tensor a = F({2, 2}, {1, 2, 3, 4}), b = F({2, 2}, {5, 6, 7, 8});
  // [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]].
  EXPECT_EQ(floats(run1({"Einsum", {a, b}, {{"equation", string_attr("ij,jk->ik")}}})),
            (std::vector<float>{19, 22, 43, 50}));
  EXPECT_EQ(floats(run1({"Einsum", {a, b}, {{"equation", string_attr("ij,jk")}}})),
            (std::vector<float>{19, 22, 43, 50}));  // implicit output: labels seen once, sorted
  EXPECT_EQ(floats(run1({"Einsum", {a}, {{"equation", string_attr("ij->ji")}}})), (std::vector<float>{1, 3, 2, 4}));
  EXPECT_EQ(floats(run1({"Einsum", {a}, {{"equation", string_attr("ii->i")}}})), (std::vector<float>{1, 4}));
  EXPECT_EQ(floats(run1({"Einsum", {a}, {{"equation", string_attr("ii")}}})), (std::vector<float>{5}));  // trace
  // Two summed labels: sum over j, k of iota [2,2,2] times ones: 0+1+2+3 = 6 and 4+5+6+7 = 22.
  EXPECT_EQ(
      floats(run1({"Einsum", {iota_f({2, 2, 2}), F({2, 2}, {1, 1, 1, 1})}, {{"equation", string_attr("ijk,jk->i")}}})),
      (std::vector<float>{6, 22}));
  // Batch of two: the first is a, the second the identity, both times b.
  Tensor batch = F({2, 2, 2}, {1, 2, 3, 4, 1, 0, 0, 1});
  Tensor bm = run1({"Einsum", {batch, b}, {{"equation", string_attr("...ij,jk->...ik")}}});
  EXPECT_EQ(bm.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(floats(bm), (std::vector<float>{19, 22, 43, 50, 5, 6, 7, 8}));
  Tensor d = run1({"Einsum",
                   {Tensor::from<double>({3}, {1, 2, 3}), Tensor::from<double>({3}, {4, 5, 6})},
                   {{"equation", string_attr("i,i")}}});
  EXPECT_EQ(d.dtype(), DType::kFloat64);
  EXPECT_EQ(d.get_f64(0), 32.0);  // 4 + 10 + 18
  const std::string msg = error_of<UnsupportedError>({"Einsum", {batch}, {{"equation", string_attr("...ij->ij")}}});
  EXPECT_NE(msg.find("...ij->ij"), std::string::npos) << msg;
  EXPECT_NE(error_of<ShapeError>({"Einsum", {a, F({3}, {1, 2, 3})}, {{"equation", string_attr("ij,j->i")}}}),
            "no exception");
}

// ---- normalisation -----------------------------------------------------------------------------

TEST(OpsGenerate, LayerNormalizationWithStatistics) {
  // Row {1,2,3,4}: mean 2.5, variance 1.25, 1/sqrt(1.25) = 0.8944272, normalised
  // {-1.3416408,-0.4472136,0.4472136,1.3416408}; scale {1,1,2,2}, bias {0,0,0,1}:
  // {-1.3416408,-0.4472136,0.8944272,3.6832816}. Row {2,2,2,2}: centred all 0 -> the bias; with
  // epsilon 0.25 the variance term is 0.25, inverse std 2.
  OpSpec ln{"LayerNormalization",
            {F({1, 4}, {1, 2, 3, 4}), F({4}, {1, 1, 2, 2}), F({4}, {0, 0, 0, 1})},
            {{"epsilon", float_attr(0)}},
            3,
            17};
  std::vector<Tensor> out = run_op(ln);
  expect_near_all(out[0], {-1.3416408f, -0.4472136f, 0.8944272f, 3.6832816f}, 1e-5f);
  EXPECT_EQ(out[1].shape(), (Shape{1, 1}));
  EXPECT_NEAR(floats(out[1])[0], 2.5f, 1e-6);
  EXPECT_NEAR(floats(out[2])[0], 0.8944272f, 1e-6);
  ln.inputs[0] = F({1, 4}, {2, 2, 2, 2});
  ln.attrs["epsilon"] = float_attr(0.25f);
  out = run_op(ln);
  EXPECT_EQ(floats(out[0]), (std::vector<float>{0, 0, 0, 1}));
  EXPECT_EQ(floats(out[2]), (std::vector<float>{2}));
  // axis 0 over [2,2] without bias: all four values {1,2,3,4} normalised together.
  expect_near_all(run1({"LayerNormalization",
                        {F({2, 2}, {1, 2, 3, 4}), F({2, 2}, {1, 1, 1, 1})},
                        {{"axis", int_attr(0)}, {"epsilon", float_attr(0)}},
                        1,
                        17}),
                  {-1.3416408f, -0.4472136f, 0.4472136f, 1.3416408f}, 1e-5f);
}

TEST(OpsGenerate, InstanceNormalization) {
  // [1,2,2]: channel 0 {1,3} (mean 2, std 1) -> {-1,1}; channel 1 {2,6} (mean 4, std 2) ->
  // {-1,1}, times scale 2 plus bias 1 -> {-1,3}.
  Tensor y = run1({"InstanceNormalization",
                   {F({1, 2, 2}, {1, 3, 2, 6}), F({2}, {1, 2}), F({2}, {0, 1})},
                   {{"epsilon", float_attr(0)}}});
  expect_near_all(y, {-1, 1, -1, 3}, 1e-6f);
}

// ---- constant folding --------------------------------------------------------------------------

TEST(OpsGenerate, ShapeSubgraphsFoldThroughTheKernels) {
  // ConstantOfShape([3]) = {0,0,0} (int64 via value), Range(0, 3, 1) = {0,1,2}, their Add, then
  // Expand to [2,3]: every node has constant inputs, so folding leaves no nodes at all.
  Graph g;
  g.source = "fold.onnx";
  g.opset = 13;
  auto constant = [&](const std::string& name, Tensor t) {
    const ValueId v = g.add_value(name);
    g.value(v).constant = std::move(t);
    return v;
  };
  auto node = [&](const std::string& op, std::vector<ValueId> in, std::map<std::string, Attribute> attrs = {}) {
    Node n;
    n.op = op;
    n.name = op;
    n.origin = {op};
    n.inputs = std::move(in);
    n.attrs = std::move(attrs);
    const ValueId out = g.add_value(op + "_out");
    n.outputs = {out};
    g.nodes.push_back(n);
    return out;
  };
  const ValueId zeros = node("ConstantOfShape", {constant("shape", I64({3}))}, {{"value", tensor_attr(I64({1}, {0}))}});
  const ValueId range = node(
      "Range", {constant("start", I64({}, {0})), constant("limit", I64({}, {3})), constant("delta", I64({}, {1}))});
  const ValueId sum = node("Add", {zeros, range});
  const ValueId expanded = node("Expand", {sum, constant("target", I64({2, 3}))});
  g.outputs = {expanded};
  fold_constants(g);
  EXPECT_TRUE(g.nodes.empty());
  ASSERT_TRUE(g.is_constant(g.outputs[0]));
  const Tensor& folded = g.constant(g.outputs[0]);
  EXPECT_EQ(folded.shape(), (Shape{2, 3}));
  EXPECT_EQ(ints(folded), (std::vector<int64_t>{0, 1, 2, 0, 1, 2}));
}

}  // namespace
}  // namespace eff
