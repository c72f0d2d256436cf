// Trilu, CumSum, GatherElements, Hardmax, Mod, CastLike, TopK, NonZero, GatherND, ScatterND,
// ScatterElements, OneHot, EyeLike, NonMaxSuppression, GridSample, RNN, GRU and LSTM, run through the executor on
// one-node graphs. Expected values are worked out by hand in the comments.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "op_test_util.h"

namespace eff {
namespace {

using namespace op_test;

Attribute strings_attr(std::vector<std::string> v) {
  Attribute a;
  a.kind = Attribute::Kind::kStrings;
  a.strings = std::move(v);
  return a;
}

TEST(OpsIndex, TriluUpperLowerAndK) {
  Tensor x = iota_f({3, 3});  // 0 1 2 / 3 4 5 / 6 7 8
  // Upper (j >= i): 0 1 2 / 0 4 5 / 0 0 8. Lower with k = -1 (j <= i - 1): 0 0 0 / 3 0 0 / 6 7 0.
  EXPECT_EQ(floats(run1({"Trilu", {x}, {}, 1, 14})), (std::vector<float>{0, 1, 2, 0, 4, 5, 0, 0, 8}));
  EXPECT_EQ(floats(run1({"Trilu", {x, I64({}, {-1})}, {{"upper", int_attr(0)}}, 1, 14})),
            (std::vector<float>{0, 0, 0, 3, 0, 0, 6, 7, 0}));
  // A batch of two 1x2 matrices, upper with k = 1: only column 1 stays.
  EXPECT_EQ(floats(run1({"Trilu", {iota_f({2, 1, 2}), I64({}, {1})}, {}, 1, 14})), (std::vector<float>{0, 1, 0, 3}));
  EXPECT_NE(error_of<ShapeError>({"Trilu", {F({2}, {1, 2})}, {}, 1, 14}), "no exception");
}

TEST(OpsIndex, CumSumExclusiveReverse) {
  Tensor x = F({4}, {1, 2, 3, 4});
  EXPECT_EQ(floats(run1({"CumSum", {x, I64({}, {0})}})), (std::vector<float>{1, 3, 6, 10}));
  EXPECT_EQ(floats(run1({"CumSum", {x, I64({}, {0})}, {{"exclusive", int_attr(1)}}})),
            (std::vector<float>{0, 1, 3, 6}));
  EXPECT_EQ(floats(run1({"CumSum", {x, I64({}, {0})}, {{"reverse", int_attr(1)}}})), (std::vector<float>{10, 9, 7, 4}));
  // [2,2] along axis -1: rows 1 2 -> 1 3, 3 4 -> 3 7.
  EXPECT_EQ(floats(run1({"CumSum", {F({2, 2}, {1, 2, 3, 4}), I64({}, {-1})}})), (std::vector<float>{1, 3, 3, 7}));
}

TEST(OpsIndex, GatherElementsAlongAnAxis) {
  Tensor data = F({2, 2}, {1, 2, 3, 4});
  // axis 1: out[i][j] = data[i][idx[i][j]]: row 0 picks 0,0 -> 1 1; row 1 picks 1,0 -> 4 3.
  EXPECT_EQ(floats(run1({"GatherElements", {data, I64({2, 2}, {0, 0, 1, 0})}, {{"axis", int_attr(1)}}})),
            (std::vector<float>{1, 1, 4, 3}));
  // axis 0 with a negative index: out[0][j] = data[idx[0][j]][j]: idx -1 -> row 1 -> 3, idx 0 -> 2.
  EXPECT_EQ(floats(run1({"GatherElements", {data, I64({1, 2}, {-1, 0})}})), (std::vector<float>{3, 2}));
  EXPECT_NE(error_of<ShapeError>({"GatherElements", {data, I64({1, 2}, {2, 0})}}).find("out of range"),
            std::string::npos);
}

TEST(OpsIndex, HardmaxByOpset) {
  Tensor x = F({2, 2}, {1, 3, 4, 2});
  // Opset 13, axis -1: the row maxima 3 (column 1) and 4 (column 0).
  EXPECT_EQ(floats(run1({"Hardmax", {x}})), (std::vector<float>{0, 1, 1, 0}));
  // Opset 11, axis 0: flattened to one row of 4, whose maximum is the 4 at position 2.
  EXPECT_EQ(floats(run1({"Hardmax", {x}, {{"axis", int_attr(0)}}, 1, 11})), (std::vector<float>{0, 0, 1, 0}));
}

TEST(OpsIndex, ModSignConventions) {
  Tensor a = I64({-7, 7, -7, 7}), b = I64({3, -3, -3, 3});
  // Python-style (divisor's sign): -7 % 3 = 2, 7 % -3 = -2, -7 % -3 = -1, 7 % 3 = 1.
  EXPECT_EQ(ints(run1({"Mod", {a, b}})), (std::vector<int64_t>{2, -2, -1, 1}));
  // fmod (dividend's sign): -1, 1, -1, 1.
  EXPECT_EQ(ints(run1({"Mod", {a, b}, {{"fmod", int_attr(1)}}})), (std::vector<int64_t>{-1, 1, -1, 1}));
  EXPECT_EQ(floats(run1({"Mod", {F({2}, {-7.5f, 7.5f}), F({}, {2})}, {{"fmod", int_attr(1)}}})),
            (std::vector<float>{-1.5f, 1.5f}));
  EXPECT_NE(error_of<DataError>({"Mod", {a, I64({4}, {1, 0, 1, 1})}}).find("by zero"), std::string::npos);
  EXPECT_NE(error_of<ModelError>({"Mod", {F({1}, {1}), F({1}, {1})}}).find("fmod=1"), std::string::npos);
}

TEST(OpsIndex, CastLikeTakesTheSecondInputsType) {
  Tensor y = run1({"CastLike", {F({3}, {1.7f, -1.7f, 2}), I64({0})}, {}, 1, 15});
  EXPECT_EQ(y.dtype(), DType::kInt64);
  EXPECT_EQ(ints(y), (std::vector<int64_t>{1, -1, 2}));  // truncation toward zero
}

TEST(OpsIndex, TopKLargestSmallestAndTies) {
  // Row {3,1,3,2}: largest 2 -> 3 (index 0), 3 (index 2: ties keep the lower index first);
  // smallest 2 -> 1 (index 1), 2 (index 3).
  Tensor x = F({1, 4}, {3, 1, 3, 2});
  std::vector<Tensor> top = run_op({"TopK", {x, I64({2})}, {}, 2});
  EXPECT_EQ(floats(top[0]), (std::vector<float>{3, 3}));
  EXPECT_EQ(ints(top[1]), (std::vector<int64_t>{0, 2}));
  std::vector<Tensor> low = run_op({"TopK", {x, I64({2})}, {{"largest", int_attr(0)}}, 2});
  EXPECT_EQ(floats(low[0]), (std::vector<float>{1, 2}));
  EXPECT_EQ(ints(low[1]), (std::vector<int64_t>{1, 3}));
  EXPECT_NE(error_of<ShapeError>({"TopK", {x, I64({5})}, {}, 2}).find("K = 5"), std::string::npos);
  // Opset 9: K is the attribute 'k'.
  std::vector<Tensor> old_top = run_op({"TopK", {x}, {{"k", int_attr(1)}}, 2, 9});
  EXPECT_EQ(floats(old_top[0]), (std::vector<float>{3}));
  EXPECT_EQ(ints(old_top[1]), (std::vector<int64_t>{0}));
}

TEST(OpsIndex, NonZeroListsCoordinates) {
  // [[0,5],[7,0]]: non-zeros at (0,1) and (1,0) -> rows {0,1} and columns {1,0}.
  Tensor nz = run1({"NonZero", {F({2, 2}, {0, 5, 7, 0})}});
  EXPECT_EQ(nz.shape(), (Shape{2, 2}));
  EXPECT_EQ(ints(nz), (std::vector<int64_t>{0, 1, 1, 0}));
}

TEST(OpsIndex, GatherNDAndScatterND) {
  Tensor data = iota_f({2, 2});  // 0 1 / 2 3
  // Full tuples (1,0) -> 2 and (0,1) -> 1; a 1-tuple (1) takes row 1.
  EXPECT_EQ(floats(run1({"GatherND", {data, I64({2, 2}, {1, 0, 0, 1})}})), (std::vector<float>{2, 1}));
  EXPECT_EQ(floats(run1({"GatherND", {data, I64({1, 1}, {1})}})), (std::vector<float>{2, 3}));
  // batch_dims 1: batch 0 takes its element 1 (= 1), batch 1 its element 0 (= 2).
  EXPECT_EQ(floats(run1({"GatherND", {data, I64({2, 1}, {1, 0})}, {{"batch_dims", int_attr(1)}}})),
            (std::vector<float>{1, 2}));
  // ScatterND writes row 1 = {8,9}; with reduction add, element (0,0) += 5 twice.
  EXPECT_EQ(floats(run1({"ScatterND", {data, I64({1, 1}, {1}), F({1, 2}, {8, 9})}, {}, 1, 16})),
            (std::vector<float>{0, 1, 8, 9}));
  EXPECT_EQ(floats(run1({"ScatterND",
                         {data, I64({2, 2}, {0, 0, 0, 0}), F({2}, {5, 5})},
                         {{"reduction", string_attr("add")}},
                         1,
                         16})),
            (std::vector<float>{10, 1, 2, 3}));
  EXPECT_NE(error_of<ShapeError>({"GatherND", {data, I64({1, 2}, {2, 0})}}).find("out of range"), std::string::npos);
}

TEST(OpsIndex, ScatterElementsAlongAnAxis) {
  Tensor data = F({2, 2}, {0, 0, 0, 0});
  // axis 1: row 0 writes 5 to column 1, row 1 writes 6 to column 0 (index -2).
  EXPECT_EQ(floats(run1(
                {"ScatterElements", {data, I64({2, 1}, {1, -2}), F({2, 1}, {5, 6})}, {{"axis", int_attr(1)}}, 1, 16})),
            (std::vector<float>{0, 5, 6, 0}));
  // reduction add with a repeated index: column 0 of row 0 gets 1 + 2.
  EXPECT_EQ(floats(run1({"ScatterElements",
                         {data, I64({1, 2}, {0, 0}), F({1, 2}, {1, 2})},
                         {{"axis", int_attr(1)}, {"reduction", string_attr("add")}},
                         1,
                         16})),
            (std::vector<float>{3, 0, 0, 0}));
}

TEST(OpsIndex, OneHotAndEyeLike) {
  // Indices {0, 2, -1, 5} with depth 3: -1 means 2, 5 is out of range (all off); off 0, on 1.
  Tensor oh = run1({"OneHot", {I64({0, 2, -1, 5}), F({}, {3}), F({2}, {0, 1})}, {}, 1, 11});
  EXPECT_EQ(oh.shape(), (Shape{4, 3}));
  EXPECT_EQ(floats(oh), (std::vector<float>{1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0}));
  // axis 0 puts the depth first: [3, 2] for indices {1, 0}.
  EXPECT_EQ(floats(run1({"OneHot", {I64({1, 0}), F({}, {3}), F({2}, {0, 1})}, {{"axis", int_attr(0)}}, 1, 11})),
            (std::vector<float>{0, 1, 1, 0, 0, 0}));
  EXPECT_NE(error_of<ShapeError>({"OneHot", {I64({0}), F({}, {1e30f}), F({2}, {0, 1})}, {}, 1, 11}).find("limit"),
            std::string::npos);
  // EyeLike of a 2x3 with k = 1: ones at (0,1) and (1,2).
  Tensor eye = run1({"EyeLike", {F({2, 3}, {9, 9, 9, 9, 9, 9})}, {{"k", int_attr(1)}}, 1, 9});
  EXPECT_EQ(floats(eye), (std::vector<float>{0, 1, 0, 0, 0, 1}));
}

TEST(OpsIndex, NonMaxSuppressionGreedyByScore) {
  // Boxes [y1,x1,y2,x2]: 0 = [0,0,1,1] (score 0.9), 1 = [0,0.1,1,1.1] (0.8), 2 = [0,2,1,3] (0.7).
  // IoU(0,1) = 0.9 / 1.1 = 0.82 > 0.5: box 1 is suppressed; box 2 does not touch box 0.
  Tensor boxes = F({1, 3, 4}, {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, 2, 1, 3});
  Tensor scores = F({1, 1, 3}, {0.9f, 0.8f, 0.7f});
  auto nms = [&](int64_t max_boxes, float iou, float score) {
    return run1(
        {"NonMaxSuppression", {boxes, scores, I64({1}, {max_boxes}), F({1}, {iou}), F({1}, {score})}, {}, 1, 11});
  };
  Tensor sel = nms(10, 0.5f, 0.f);
  EXPECT_EQ(sel.shape(), (Shape{2, 3}));
  EXPECT_EQ(ints(sel), (std::vector<int64_t>{0, 0, 0, 0, 0, 2}));
  EXPECT_EQ(ints(nms(1, 0.5f, 0.f)), (std::vector<int64_t>{0, 0, 0}));     // at most one per class
  EXPECT_EQ(ints(nms(10, 0.9f, 0.f)).size(), 9u);                          // 0.82 < 0.9: all three kept
  EXPECT_EQ(ints(nms(10, 0.5f, 0.75f)), (std::vector<int64_t>{0, 0, 0}));  // 0.7 is below the threshold
  EXPECT_NE(error_of<ShapeError>({"NonMaxSuppression", {F({1, 3}, {0, 0, 1}), scores}, {}, 1, 11}), "no exception");
}

TEST(OpsIndex, GridSampleModesAndPadding) {
  Tensor x = F({1, 1, 2, 2}, {1, 2, 3, 4});
  auto sample = [&](float gx, float gy, std::map<std::string, Attribute> attrs) {
    return floats(run1({"GridSample", {x, F({1, 1, 1, 2}, {gx, gy})}, std::move(attrs), 1, 16}))[0];
  };
  // (0,0) without align_corners is pixel position ((0+1)*2-1)/2 = 0.5 on both axes: the mean 2.5.
  EXPECT_FLOAT_EQ(sample(0, 0, {}), 2.5f);
  // (-1,-1) is position -0.5: half-way to the out-of-image taps, each weight 1/4; zeros padding
  // reads 0 outside, so 0.25 * 1; border padding reads the corner pixel 1 for every tap.
  EXPECT_FLOAT_EQ(sample(-1, -1, {}), 0.25f);
  EXPECT_FLOAT_EQ(sample(-1, -1, {{"padding_mode", string_attr("border")}}), 1.f);
  // align_corners: (1,1) is pixel (1,1) exactly; nearest gives 4.
  EXPECT_FLOAT_EQ(sample(1, 1, {{"align_corners", int_attr(1)}, {"mode", string_attr("nearest")}}), 4.f);
  // A grid point far away reads zeros; NaN propagates.
  EXPECT_FLOAT_EQ(sample(1e30f, 0, {}), 0.f);
  EXPECT_TRUE(std::isnan(sample(NAN, 0, {})));
}

TEST(OpsIndex, RecurrentCellsOneUnit) {
  // RNN, W = 2, R = 0.5, Wb = 0.1, X = {1, 0}: h1 = tanh(2.1) = 0.9704519,
  // h2 = tanh(0.5 * 0.9704519 + 0.1) = tanh(0.5852260) = 0.5264534.
  std::vector<Tensor> rnn =
      run_op({"RNN",
              {F({2, 1, 1}, {1, 0}), F({1, 1, 1}, {2}), F({1, 1, 1}, {0.5f}), F({1, 2}, {0.1f, 0})},
              {{"hidden_size", int_attr(1)}},
              2,
              14});
  expect_near_all(rnn[0], {0.9704519f, 0.5264534f}, 1e-6f);
  expect_near_all(rnn[1], {0.5264534f}, 1e-6f);
  // LSTM, all weights 0 except the cell gate's W = 1, X = 1: i = o = f = sigmoid(0) = 0.5,
  // g = tanh(1) = 0.7615942, c = 0.5 * 0.7615942 = 0.3807971, h = 0.5 * tanh(c) = 0.1816997.
  std::vector<Tensor> lstm = run_op({"LSTM",
                                     {F({1, 1, 1}, {1}), F({1, 4, 1}, {0, 0, 0, 1}), F({1, 4, 1}, {0, 0, 0, 0})},
                                     {{"hidden_size", int_attr(1)}},
                                     3,
                                     14});
  expect_near_all(lstm[1], {0.1816997f}, 1e-6f);
  expect_near_all(lstm[2], {0.3807971f}, 1e-6f);
  // GRU, all weights 0 except the candidate's W = 1, X = 1: z = r = 0.5, candidate tanh(1), so
  // h = 0.5 * 0.7615942 + 0.5 * 0 = 0.3807971.
  std::vector<Tensor> gru = run_op({"GRU",
                                    {F({1, 1, 1}, {1}), F({1, 3, 1}, {0, 0, 1}), F({1, 3, 1}, {0, 0, 0})},
                                    {{"hidden_size", int_attr(1)}},
                                    2,
                                    14});
  expect_near_all(gru[1], {0.3807971f}, 1e-6f);
  std::string msg = error_of<UnsupportedError>({"RNN",
                                                {F({1, 1, 1}, {1}), F({1, 1, 1}, {1}), F({1, 1, 1}, {1})},
                                                {{"hidden_size", int_attr(1)}, {"activations", strings_attr({"Relu"})}},
                                                1,
                                                14});
  EXPECT_NE(msg.find("Relu"), std::string::npos) << msg;
  EXPECT_NE(
      error_of<ShapeError>(
          {"RNN", {F({1, 1, 1}, {1}), F({1, 1, 2}, {1, 1}), F({1, 1, 1}, {1})}, {{"hidden_size", int_attr(1)}}, 1, 14})
          .find("W has shape"),
      std::string::npos);
}

}  // namespace
}  // namespace eff
