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

}  // namespace
}  // namespace eff
