// Dynamic input shapes (tests/fixtures/shapes, ONNX Runtime outputs stored beside the models by
// tools/make_shape_fixtures.py): a graph specialised per input shape gives ONNX Runtime's outputs
// for every shape; specialisations are cached; shapes the model fixes are enforced; inputs holding
// NaN propagate it as ONNX Runtime does.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "data/npy.h"
#include "engine/executor.h"
#include "engine/model.h"
#include "engine/non_finite.h"

namespace eff {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& file) {
  return (fs::path(EFF_SOURCE_DIR) / "tests" / "fixtures" / "shapes" / file).string();
}

// Largest difference relative to the largest reference magnitude.
double max_rel_error(const Tensor& got, const Tensor& want) {
  EXPECT_EQ(got.shape(), want.shape());
  const auto g = got.to_f32_vector(), w = want.to_f32_vector();
  double scale = 1e-6, worst = 0;
  for (float x : w) scale = std::max(scale, static_cast<double>(std::fabs(x)));
  for (size_t i = 0; i < g.size() && i < w.size(); ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(g[i]) - w[i]) / scale);
  }
  return worst;
}

Executor make_executor(const Model& m, int threads = 1) {
  ExecutorOptions o;
  o.threads = threads;
  o.specialize = m.specializer();
  return Executor(m.graph, o);
}

TEST(DynamicShapes, EveryInputShapeGivesOnnxRuntimeOutputs) {
  const Model m = load_model(fixture("dynamic_hw.onnx"));
  Executor ex = make_executor(m);
  for (int k : {0, 1, 0}) {  // back to the first shape: from the cache
    SCOPED_TRACE(k);
    const Tensor x = read_npy(fixture(fmt::format("dynamic_hw.{}.x.npy", k)));
    const std::vector<Tensor> out = ex.run({x});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_LT(max_rel_error(out[0], read_npy(fixture(fmt::format("dynamic_hw.{}.scores.npy", k)))), 1e-5);
    EXPECT_LT(max_rel_error(out[1], read_npy(fixture(fmt::format("dynamic_hw.{}.prob_map.npy", k)))), 1e-5);
  }
  // Cases 0 and 1 have different N, H and W: one specialisation each, the repeat reused.
  EXPECT_EQ(ex.specializations(), 2u);
}

TEST(DynamicShapes, SpecialisedGraphFoldsItsShapeArithmetic) {
  const Model m = load_model(fixture("dynamic_hw.onnx"));
  // As loaded, H and W are unknown: the flatten's Shape -> ... -> Reshape chain stays.
  auto count = [](const Graph& g, const std::string& op) {
    return std::count_if(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.op == op; });
  };
  EXPECT_EQ(count(m.graph, "Shape"), 1);
  const Graph g = m.graph_for_shapes({{2, 3, 33, 17}});
  EXPECT_EQ(count(g, "Shape"), 0);
  EXPECT_EQ(count(g, "Concat"), 0);
  // The Reshape now takes a constant target: [2, -1] from Concat(Unsqueeze(Shape(gap)[0]), [-1]).
  auto reshape = std::find_if(g.nodes.begin(), g.nodes.end(), [](const Node& n) { return n.op == "Reshape"; });
  ASSERT_NE(reshape, g.nodes.end());
  ASSERT_TRUE(g.is_constant(reshape->inputs[1]));
  EXPECT_EQ(g.constant(reshape->inputs[1]).to_f32_vector(), (std::vector<float>{2, -1}));
}

TEST(DynamicShapes, FixedDimsAreEnforcedNamingTheInput) {
  const Model m = load_model(fixture("dynamic_hw.onnx"));
  Executor ex = make_executor(m);
  // Channel dim is 3 in the model.
  try {
    ex.run({Tensor(DType::kFloat32, {1, 4, 8, 8})});
    FAIL() << "no error";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("input 'x' expects shape [N, 3, H, W], got [1, 4, 8, 8]"), std::string::npos)
        << e.what();
  }
  try {
    m.graph_for_shapes({{1, 4, 8, 8}});
    FAIL() << "no error";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("input 'x' expects shape [N, 3, H, W]"), std::string::npos) << e.what();
  }
}

TEST(DynamicShapes, InputShapesResolveFromOverridesAndSayWhatIsMissing) {
  Model m = load_model(fixture("dynamic_hw.onnx"));
  try {
    m.input_shapes();
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("input 'x' has dynamic dimension(s) 2 (H), 3 (W)"), std::string::npos)
        << e.what();
  }
  m.shape_overrides["x"] = {1, 3, 16, 12};
  EXPECT_EQ(m.input_shapes(), (std::vector<Shape>{{1, 3, 16, 12}}));
  // Only the batch is dynamic: it resolves to 1.
  const Model two = load_model(fixture("two_inputs.onnx"));
  EXPECT_EQ(two.input_shapes(), (std::vector<Shape>{{1, 4}, {1, 4}}));
}

TEST(DynamicShapes, TwoNamedInputsMatchOnnxRuntime) {
  const Model m = load_model(fixture("two_inputs.onnx"));
  Executor ex = make_executor(m);
  const auto out = ex.run({read_npy(fixture("two_inputs.0.a.npy")), read_npy(fixture("two_inputs.0.b.npy"))});
  EXPECT_LT(max_rel_error(out[0], read_npy(fixture("two_inputs.0.y.npy"))), 1e-5);
}

TEST(DynamicShapes, UnsortedGraphMatchesOnnxRuntime) {
  const Model m = load_model(fixture("unsorted.onnx"));
  Executor ex = make_executor(m);
  const auto out = ex.run({read_npy(fixture("unsorted.0.x.npy"))});
  EXPECT_LT(max_rel_error(out[0], read_npy(fixture("unsorted.0.scores.npy"))), 1e-5);
  EXPECT_LT(max_rel_error(out[1], read_npy(fixture("unsorted.0.prob_map.npy"))), 1e-5);
}

TEST(NonFiniteInputs, CountsAreExact) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const Tensor t = Tensor::from<float>({2, 3}, {1.0f, nan, -inf, inf, 0.0f, nan});
  const NonFinite c = count_non_finite(t);
  EXPECT_EQ(c.nan, 2);
  EXPECT_EQ(c.inf, 2);
  EXPECT_FALSE(count_non_finite(Tensor::from<int64_t>({2}, {1, 2})).any());
  EXPECT_EQ(to_string(c), "2 NaN, 2 Inf");
  // The quick check agrees, wherever the value sits (vector body or remainder) and whatever it is.
  for (int64_t n : {1, 17, 64, 1000}) {
    for (float bad : {nan, inf, -inf}) {
      Tensor x(DType::kFloat32, {n});
      for (int64_t i = 0; i < n; ++i) x.data<float>()[i] = static_cast<float>(i) - 3.5f;
      EXPECT_FALSE(has_non_finite(x)) << n;
      x.data<float>()[n - 1] = bad;
      EXPECT_TRUE(has_non_finite(x)) << n << " " << bad;
      x.data<float>()[n - 1] = 1e38f;  // large but finite: x * 0 is 0
      EXPECT_FALSE(has_non_finite(x)) << n;
    }
  }
}

TEST(NonFiniteInputs, NanPropagatesThroughFusedReluAsInOnnxRuntime) {
  // conv1 has a fused Relu: oneDNN's ReLU post-op turns NaN into 0, ONNX Runtime's Relu keeps it.
  // A NaN input pixel must reach the class scores (every score depends on every pixel through
  // the global average pool), and a finite input must still use the fused plan.
  const Model m = load_model(fixture("dynamic_hw.onnx"));
  Executor ex = make_executor(m);
  Tensor x = read_npy(fixture("dynamic_hw.0.x.npy")).clone();
  x.data<float>()[7] = std::numeric_limits<float>::quiet_NaN();
  const auto out = ex.run({x});
  const NonFinite scores = count_non_finite(out[0]);
  EXPECT_EQ(scores.nan, 5);  // all 5 class scores
  // The probability map: only pixels within the 3x3 window of the NaN pixel are NaN (1x1 head).
  const NonFinite map = count_non_finite(out[1]);
  EXPECT_GT(map.nan, 0);
  EXPECT_LE(map.nan, 9);
  const auto clean = ex.run({read_npy(fixture("dynamic_hw.0.x.npy"))});
  EXPECT_FALSE(count_non_finite(clean[0]).any());
  EXPECT_LT(max_rel_error(clean[0], read_npy(fixture("dynamic_hw.0.scores.npy"))), 1e-5);
}

}  // namespace
}  // namespace eff
