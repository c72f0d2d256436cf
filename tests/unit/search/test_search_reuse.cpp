// Evaluations that start at a layer (its inputs computed once under the earlier layers' formats)
// give exactly the tallies of whole-graph runs, on the shipped VGG whose convs pass activations to
// each other in the channel-blocked layout.
#include <gtest/gtest.h>

#include <random>

#include "engine/geometry.h"
#include "engine/model.h"
#include "search/evaluator.h"
#include "search/precision_search.h"

namespace eff::search {
namespace {

EvalSet random_images(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-0.5f, 2.0f);
  std::vector<float> x(static_cast<size_t>(n * 28 * 28));
  for (float& v : x) v = u(rng);
  EvalSet s;
  s.inputs = {Tensor::from<float>({n, 1, 28, 28}, x)};
  for (int64_t i = 0; i < n; ++i) {
    s.indices.push_back(i);
    s.labels.push_back(i % 10);
  }
  s.source = "random";
  return s;
}

LayerTransform fixed(int int_bits, int frac_bits, bool is_signed) {
  LayerTransform t;
  t.activations.kind = OperandTransform::kFixedPoint;
  t.activations.fixed = {int_bits, frac_bits, is_signed};
  t.weights.kind = OperandTransform::kFixedPoint;
  t.weights.fixed = {1, 5, true};
  return t;
}

TEST(SearchReuse, FromEveryLayerUnderQuantizedPrefixEqualsTheWholeGraph) {
  const Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/vgg.onnx");
  const EvalSet set = random_images(12, 7);
  Evaluator whole(m.graph, 1, 5);
  const Reference ref = whole.reference(set);
  const Judge judge(Target{}, ref, true);
  std::map<std::string, LayerTransform> all;
  for (const LayerInfo& l : whole.layers()) all[l.name] = fixed(l.index == 0 ? 2 : 4, 3, l.index == 0);
  const Tally full = whole.run(set, ref, judge, all, false);
  int suffixes = 0;
  for (const LayerInfo& l : whole.layers()) {
    const std::optional<Graph> suffix = graph_from_layer(m.graph, l);
    if (!suffix) continue;
    ++suffixes;
    std::map<std::string, LayerTransform> before, after;
    for (const auto& [name, t] : all) {
      bool earlier = false;
      for (const LayerInfo& o : whole.layers()) earlier = earlier || (o.name == name && o.index < l.index);
      (earlier ? before : after)[name] = t;
    }
    const EvalSet inputs = whole.layer_inputs(set, l, before);
    Evaluator part(*suffix, 1, 5);
    const Tally t = part.run(inputs, ref, judge, after, false);
    EXPECT_EQ(t.correct, full.correct) << l.name;
    EXPECT_EQ(t.agree, full.agree) << l.name;
    EXPECT_EQ(t.lost, full.lost) << l.name;
    EXPECT_EQ(t.noise_energy, full.noise_energy) << l.name;
  }
  EXPECT_EQ(suffixes, 7);  // every layer but the first
}

TEST(SearchReuse, SearchIsTheSameOnOneAndTwoThreads) {
  // Every phase reuses prefixes here (LeNet-5 has no connection around a layer); labels are fp32's
  // own predictions, so every image is one fp32 gets right and each lost image counts.
  const Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/lenet5.onnx");
  EvalSet set = random_images(24, 11);
  const Reference fp32 = Evaluator(m.graph, 1, 8).reference(set);
  set.labels = fp32.top1;
  Executor ex(m.graph);
  const std::vector<LayerGeometry> geometry = model_geometry(ex, {1, 1, 28, 28});
  SearchOptions o;
  o.batch = 8;
  o.progress = false;
  o.target.keep = 0.75;
  std::vector<SearchResult> runs;
  for (int threads : {1, 2}) {
    o.threads = threads;
    runs.push_back(search_precision(m.graph, geometry, set, set, o));
  }
  ASSERT_EQ(runs[0].layers.size(), 5u);
  for (size_t l = 0; l < runs[0].layers.size(); ++l) {
    EXPECT_EQ(runs[0].layers[l].activations.format, runs[1].layers[l].activations.format) << l;
    EXPECT_EQ(runs[0].layers[l].weights.format, runs[1].layers[l].weights.format) << l;
  }
  EXPECT_EQ(runs[0].evaluations.total(), runs[1].evaluations.total());
  EXPECT_EQ(runs[0].evaluations.images, runs[1].evaluations.images);
  EXPECT_GT(runs[0].evaluations.prefix_passes, 0);
  EXPECT_EQ(runs[0].search.lost, runs[1].search.lost);
  EXPECT_TRUE(runs[0].search.met);
}

}  // namespace
}  // namespace eff::search
