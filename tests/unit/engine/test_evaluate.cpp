// evaluate(): top-1/top-5 counting, and class scores holding NaN/Inf counted as wrong.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "data/dataset.h"
#include "engine/evaluate.h"
#include "op_test_util.h"

namespace eff {
namespace {

using op_test::F;

// An Identity model: the class scores are the inputs themselves, so each row is hand-chosen.
EvalResult evaluate_scores(const Tensor& scores, std::vector<int64_t> labels) {
  std::vector<Tensor> unused;
  Graph g = op_test::one_node_graph(op_test::OpSpec("Identity", {scores}), unused);
  ExecutorOptions options;
  options.threads = 1;
  Executor ex(std::move(g), options);
  const int64_t n = static_cast<int64_t>(labels.size());
  auto data = open_tensor_dataset({{"scores", scores}}, Tensor::from<int64_t>({n}, labels), "labels");
  EvalOptions eo;
  eo.batch = 2;
  eo.progress = false;
  return evaluate(ex, *data, eo);
}

TEST(Evaluate, CountsTop1AndTop5ByHand) {
  // Row 0: best class 2 (label 2: top-1). Row 1: label 0 is the second best (top-5 only).
  // Row 2: label 1 scores lowest of six, sixth: neither.
  const Tensor s = F({3, 6}, {0, 1, 5, 2, 3, 4,  //
                              4, 0, 1, 5, 2, 3,  //
                              6, -1, 5, 4, 3, 2});
  const EvalResult r = evaluate_scores(s, {2, 0, 1});
  EXPECT_EQ(r.count, 3);
  EXPECT_EQ(r.top1_correct, 1);
  EXPECT_EQ(r.top5_correct, 2);
}

// An all-NaN row ranks its classes by index, so class 0 came first and an image labelled 0 was
// counted right (eval on an all-NaN input reported 25% top-1 on labels 0..3). A row holding NaN
// or Inf counts as wrong, as `eval` says it does.
TEST(Evaluate, RowsHoldingNaNOrInfCountAsWrong) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const Tensor s = F({4, 3}, {nan, nan, nan,  //
                              nan, 0, 0,      //
                              inf, 1, 0,      //
                              3, 1, 0});
  const EvalResult r = evaluate_scores(s, {0, 1, 0, 0});
  EXPECT_EQ(r.count, 4);
  EXPECT_EQ(r.top1_correct, 1);  // only the finite row
  EXPECT_EQ(r.top5_correct, 1);
  EXPECT_EQ(r.output_non_finite.nan, 4);
  EXPECT_EQ(r.output_non_finite.inf, 1);
}

// eval on a probability map counted its 6144 pixels as classes; a label past the classes was
// silently wrong (a 1-based label file gives a plausible-looking, low top-1).
TEST(Evaluate, RefusesOutputsThatAreNotClassScoresAndLabelsOutsideTheClasses) {
  try {
    evaluate_scores(F({1, 1, 2, 3}, {0, 1, 2, 3, 4, 5}), {0});
    ADD_FAILURE() << "a [1, 1, 2, 3] map was taken for class scores";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("output 'out0' has shape [1, 1, 2, 3]; eval needs class scores"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(evaluate_scores(F({1, 3, 1, 1}, {0, 5, 1}), {1}).top1_correct, 1);  // a conv head's [N, C, 1, 1]
  try {
    evaluate_scores(F({2, 3}, {0, 1, 2, 3, 4, 5}), {2, 3});
    ADD_FAILURE() << "label 3 of 3 classes was accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("label 3 of item 1 is not one of the model's 3 classes (0 to 2)"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace eff
