// The precision search on a model whose answer is known by construction, subsets, determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "../onnx/model_builder.h"
#include "engine/geometry.h"
#include "search/formats.h"
#include "search/frontier.h"
#include "search/precision_search.h"
#include "search/target.h"
#include "search/threshold_search.h"

namespace eff::search {
namespace {

// One MatMul layer: scores = x . I (2 inputs, 2 classes), so the prediction is argmax(x0, x1)
// (ties: class 0). Inputs are multiples of 2^-3 in [0, 2^4): pairs (k/8, (k+1)/8) labelled 1 and
// ((k+1)/8, k/8) labelled 0 for odd k = 1, 3, ..., 125 (largest value 126/8 = 15.75 >= 8).
//   - integer bits: max 15.75 < 2^4, no negative value: unsigned, 4 integer bits;
//   - 3 fraction bits hold every input exactly: top-1 is 100%, as fp32;
//   - at 2 fraction bits k/8 (k odd) rounds up to (k+1)/8 (ties away from zero): the pairs
//     labelled 1 become ties and are predicted 0, so half the images are lost.
// The weights (0 and 1, none negative) need unsigned 1.0: P = 1.
struct KnownAnswer {
  Graph graph;
  EvalSet set;
  std::vector<LayerGeometry> geometry;
};

KnownAnswer known_answer_model() {
  test::ModelBuilder b;
  b.input("x", {test::kDynamic, 2}).output("y", {test::kDynamic, 2});
  b.initializer("w", {2, 2}, {1, 0, 0, 1});
  b.node("MatMul", {"x", "w"}, {"y"}, "fc");
  KnownAnswer k;
  k.graph = b.load();
  std::vector<float> x;
  for (int odd = 1; odd <= 125; odd += 2) {
    const float lo = odd / 8.0f, hi = (odd + 1) / 8.0f;
    x.insert(x.end(), {lo, hi, hi, lo});
    k.set.labels.insert(k.set.labels.end(), {1, 0});
  }
  const int64_t n = static_cast<int64_t>(k.set.labels.size());
  k.set.inputs = {Tensor::from<float>({n, 2}, x)};
  for (int64_t i = 0; i < n; ++i) k.set.indices.push_back(i);
  k.set.source = "known-answer";
  Executor ex(k.graph);
  k.geometry = model_geometry(ex, {1, 2});
  return k;
}

SearchOptions options(int threads) {
  SearchOptions o;
  o.threads = threads;
  o.batch = 16;
  o.progress = false;
  return o;  // keep 100% of fp32 top-1
}

TEST(SearchKnownAnswer, FindsUnsignedFourDotThree) {
  const KnownAnswer k = known_answer_model();
  const SearchResult r = search_precision(k.graph, k.geometry, k.set, k.set, options(1));
  ASSERT_EQ(r.layers.size(), 1u);
  EXPECT_EQ(r.layers[0].activations.format, (FixedPointFormat{4, 3, false}));
  EXPECT_EQ(r.layers[0].activations.sensitivity_frac_bits, 3);
  EXPECT_EQ(r.layers[0].weights.format, (FixedPointFormat{1, 0, false}));
  EXPECT_DOUBLE_EQ(r.search.fp32_top1, 100.0);
  EXPECT_DOUBLE_EQ(r.search.top1, 100.0);
  EXPECT_TRUE(r.search.met);
  EXPECT_TRUE(r.report.met);
  // MAC-weighted 16 / P with P = 7.
  EXPECT_NEAR(stripes_ideal_speedup({4}, {7}), 16.0 / 7.0, 1e-12);
}

TEST(SearchKnownAnswer, OneFractionBitFewerLosesHalfTheImages) {
  const KnownAnswer k = known_answer_model();
  Evaluator e(k.graph, 1, 16);
  const Reference ref = e.reference(k.set);
  EXPECT_EQ(ref.correct, 126);  // 63 odd k, two images each, all correct in fp32
  const Judge judge(Target{}, ref, true);
  std::map<std::string, LayerTransform> t;
  t["fc"].activations.kind = OperandTransform::kFixedPoint;
  t["fc"].activations.fixed = {4, 2, false};
  const Tally two = e.run(k.set, ref, judge, t, false);
  EXPECT_EQ(two.correct, 63);  // the 63 images labelled 1 become ties, predicted 0
  EXPECT_FALSE(two.met);
  t["fc"].activations.fixed = {4, 3, false};
  EXPECT_EQ(e.run(k.set, ref, judge, t, false).correct, 126);
  // Early stop: after the first batch of 16 images 8 are lost, none allowed: missed.
  t["fc"].activations.fixed = {4, 2, false};
  const Tally early = e.run(k.set, ref, judge, t, true);
  EXPECT_FALSE(early.met);
  EXPECT_FALSE(early.complete);
  EXPECT_EQ(early.images, 16);
}

TEST(SearchKnownAnswer, SameResultForAnyThreadCount) {
  const KnownAnswer k = known_answer_model();
  SearchOptions o = options(1);
  o.target.keep = 0.9;  // a target with room: interactions between layers matter less here
  const SearchResult one = search_precision(k.graph, k.geometry, k.set, k.set, o);
  o.threads = 2;
  const SearchResult two = search_precision(k.graph, k.geometry, k.set, k.set, o);
  EXPECT_EQ(one.layers[0].activations.format, two.layers[0].activations.format);
  EXPECT_EQ(one.layers[0].weights.format, two.layers[0].weights.format);
  EXPECT_EQ(one.evaluations.total(), two.evaluations.total());
  EXPECT_EQ(one.search.top1, two.search.top1);
}

TEST(SearchSweep, SharedMemoryGivesTheIndependentSearchesResults) {
  // Invariant: a tally's counts do not depend on the target, so each search of a sweep must find
  // what the same search alone finds; a repeated target runs nothing but the report check.
  const KnownAnswer k = known_answer_model();
  Target keep100, keep50;
  keep50.keep = 0.5;
  const std::vector<PrecisionPoint> sweep =
      sweep_precision(k.graph, k.geometry, k.set, k.set, options(1), {keep100, keep50, keep100});
  ASSERT_EQ(sweep.size(), 3u);
  for (size_t i = 0; i < sweep.size(); ++i) {
    SearchOptions alone_options = options(1);
    alone_options.target = sweep[i].target;
    const SearchResult alone = search_precision(k.graph, k.geometry, k.set, k.set, alone_options);
    const SearchResult& r = sweep[i].result;
    ASSERT_EQ(r.layers.size(), alone.layers.size());
    EXPECT_EQ(r.layers[0].activations.format, alone.layers[0].activations.format) << i;
    EXPECT_EQ(r.layers[0].weights.format, alone.layers[0].weights.format) << i;
    EXPECT_EQ(r.search.top1, alone.search.top1) << i;
    EXPECT_EQ(r.search.met, alone.search.met) << i;
    EXPECT_EQ(r.report.top1, alone.report.top1) << i;
  }
  EXPECT_EQ(sweep[0].result.evaluations.from_memory, 0);
  EXPECT_GT(sweep[1].result.evaluations.from_memory, 0);
  EXPECT_EQ(sweep[2].result.evaluations.total(), 1);                                         // the report subset only
  EXPECT_EQ(sweep[0].result.layers[0].activations.format, (FixedPointFormat{4, 3, false}));  // as found alone
}

TEST(SearchSweep, ThresholdSweepMatchesIndependentSearches) {
  const KnownAnswer k = known_answer_model();
  ThresholdOptions o;
  o.threads = 1;
  o.batch = 16;
  o.progress = false;
  Target keep100, keep90;
  keep90.keep = 0.9;
  const std::vector<ThresholdPoint> sweep = sweep_thresholds(k.graph, k.geometry, k.set, k.set, o, {keep100, keep90});
  ASSERT_EQ(sweep.size(), 2u);
  for (const ThresholdPoint& p : sweep) {
    ThresholdOptions alone_options = o;
    alone_options.target = p.target;
    const ThresholdResult alone = search_thresholds(k.graph, k.geometry, k.set, k.set, alone_options);
    EXPECT_EQ(p.result.layers[0].threshold, alone.layers[0].threshold);
    EXPECT_EQ(p.result.search.top1, alone.search.top1);
    EXPECT_EQ(p.result.skipped_mac_weighted, alone.skipped_mac_weighted);
  }
  EXPECT_NEAR(sweep[0].result.layers[0].threshold, 15.75 / 64, 1e-6);  // SearchThresholds' known answer
  EXPECT_GT(sweep[1].result.evaluations.from_memory, 0);
}

TEST(SearchSweep, TargetsParsedOrRefused) {
  const std::vector<Target> d = sweep_targets(Target{}, "");
  ASSERT_EQ(d.size(), 7u);
  EXPECT_DOUBLE_EQ(d[0].keep, 1.0);
  EXPECT_DOUBLE_EQ(d[1].keep, 0.995);
  EXPECT_DOUBLE_EQ(d[6].keep, 0.9);
  const std::vector<Target> l = sweep_targets(Target{}, "99%,95");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_DOUBLE_EQ(l[1].keep, 0.95);
  Target snr;
  snr.metric = Metric::kOutputSnr;
  EXPECT_THROW(sweep_targets(snr, ""), UsageError);
  EXPECT_DOUBLE_EQ(sweep_targets(snr, "40,20")[1].min_snr_db, 20.0);
  Target loss;
  loss.max_loss_points = 1;
  EXPECT_THROW(sweep_targets(loss, ""), UsageError);
  EXPECT_THROW(sweep_targets(Target{}, "0"), UsageError);
}

TEST(SearchSubsets, DisjointSeededAndReproducible) {
  const SplitIndices a = split_indices(1000, 100, 50, 7);
  ASSERT_EQ(a.search.size(), 100u);
  ASSERT_EQ(a.report.size(), 50u);
  std::set<int64_t> all(a.search.begin(), a.search.end());
  all.insert(a.report.begin(), a.report.end());
  EXPECT_EQ(all.size(), 150u);  // no index in both subsets, none twice
  EXPECT_GE(*all.begin(), 0);
  EXPECT_LT(*all.rbegin(), 1000);
  const SplitIndices again = split_indices(1000, 100, 50, 7);
  EXPECT_EQ(a.search, again.search);
  EXPECT_EQ(a.report, again.report);
  EXPECT_NE(split_indices(1000, 100, 50, 8).search, a.search);
  // A permutation: every index exactly once.
  std::vector<int64_t> p = seeded_permutation(37, 3);
  std::sort(p.begin(), p.end());
  for (int64_t i = 0; i < 37; ++i) EXPECT_EQ(p[i], i);
}

TEST(SearchSubsets, EmptyOrOversizedSubsetsAreUsageErrors) {
  EXPECT_THROW(split_indices(100, 0, 10, 1), UsageError);
  EXPECT_THROW(split_indices(100, 10, 0, 1), UsageError);
  EXPECT_THROW(split_indices(100, 60, 41, 1), UsageError);
  EXPECT_NO_THROW(split_indices(100, 60, 40, 1));
}

TEST(SearchTargets, RequiredCountsByHand) {
  Reference ref;
  ref.images = 200;
  ref.correct = 180;  // fp32 top-1 90%
  Target keep99;
  keep99.keep = 0.99;
  // Top-1 targets allow lost images: 1% of fp32's 180 right images is 1.8, less the margin
  // 1.645 sqrt(1.8) = 2.2: none. With 1800 right of 2000: 18 - 1.645 sqrt(18) = 11.02 -> 11.
  EXPECT_EQ(Judge(keep99, ref, true).required_count(), 0);
  Reference big = ref;
  big.images = 2000;
  big.correct = 1800;
  EXPECT_EQ(Judge(keep99, big, true).required_count(), 11);
  ref.correct = 1000;  // (a test judge: 10 allowed, 10 - 1.645 sqrt(10) = 4.8 -> 4 lost at most)
  const Judge j99(keep99, ref, true);
  EXPECT_EQ(j99.required_count(), 4);
  // Per image: gained images do not pay for lost ones (net 1001 correct, but 5 lost: missed).
  EXPECT_FALSE(j99.met(Tally{200, 1001, 190, 5, 0, true, false}));
  EXPECT_TRUE(j99.met(Tally{200, 996, 190, 4, 0, true, false}));
  // Early: 5 lost after 50 images is a sure miss; 0 lost with 4 images left is a sure pass.
  EXPECT_TRUE(j99.surely_missed(Tally{50, 45, 48, 5, 0, false, false}));
  EXPECT_FALSE(j99.surely_met(Tally{195, 178, 190, 0, 0, false, false}));
  EXPECT_TRUE(j99.surely_met(Tally{196, 179, 190, 0, 0, false, false}));
  // Its metric, the retained top-1: (1000 - 4) / 200 images = 498 points (a test judge).
  EXPECT_DOUBLE_EQ(j99.score(Tally{200, 1001, 190, 4, 0, true, true}), 498);
  // As stated (the report subset): net counts, no margin: ceil(0.99 x 1000) = 990 correct.
  const Judge stated(keep99, ref, true, true);
  EXPECT_EQ(stated.required_count(), 990);
  EXPECT_TRUE(stated.met(Tally{200, 990, 190, 30, 0, true, false}));
  EXPECT_FALSE(stated.met(Tally{200, 989, 190, 0, 0, true, false}));
  // Keep 100%: no image fp32 gets right may be lost.
  EXPECT_EQ(Judge(Target{}, ref, true).required_count(), 0);
  Target loss;
  loss.max_loss_points = 0.5;
  // 0.5% of 2000 images is 10: 10 - 5.2 -> at most 4 lost.
  EXPECT_EQ(Judge(loss, big, true).required_count(), 4);
  Target agree;
  agree.metric = Metric::kTop1Agreement;
  agree.keep = 0.95;
  // 5% of 200 images may disagree: 10 - 1.645 sqrt(10) = 4.8 -> at most 4, so 196 must agree;
  // as stated (the report subset): ceil(0.95 * 200) = 190.
  EXPECT_EQ(Judge(agree, ref, false).required_count(), 196);
  EXPECT_EQ(Judge(agree, ref, false, true).required_count(), 190);
  EXPECT_THROW(Judge(Target{}, ref, false), UsageError);  // top-1 without labels
  Target bad;
  bad.keep = 1.5;
  EXPECT_THROW(validate_target(bad), UsageError);
  EXPECT_THROW(parse_percentage("101%", "--keep"), UsageError);
  EXPECT_THROW(parse_percentage("abc", "--keep"), UsageError);
  EXPECT_DOUBLE_EQ(parse_percentage("99%", "--keep"), 0.99);
}

TEST(SearchFormats, IntegerBitsFromTheRange) {
  // Unsigned: 15.75 < 2^4 -> 4; 16 needs 5; 0.3 < 2^0 -> 0 integer bits (fractions only).
  EXPECT_EQ(integer_format(15.75, false), (FixedPointFormat{4, 0, false}));
  EXPECT_EQ(integer_format(16.0, false), (FixedPointFormat{5, 0, false}));
  EXPECT_EQ(integer_format(0.3, false), (FixedPointFormat{0, 0, false}));
  EXPECT_EQ(min_frac_bits(FixedPointFormat{0, 0, false}), 1);
  EXPECT_EQ(max_frac_bits(FixedPointFormat{4, 0, false}), 11);  // 15 unsigned bits
  // Signed: 5.3 < 2^3 -> 3 magnitude bits + sign = 4.
  EXPECT_EQ(integer_format(5.3, true), (FixedPointFormat{4, 0, true}));
  EXPECT_EQ(max_frac_bits(FixedPointFormat{4, 0, true}), 12);
  // Cost: Stripes' MAC-weighted bits; 16 * (100 + 300) / (100 * 8 + 300 * 4) = 6400 / 2000.
  EXPECT_DOUBLE_EQ(stripes_ideal_speedup({100, 300}, {8, 4}), 3.2);
  EXPECT_EQ(precision_notation({9, 8, 5, 5, 7}), "9-8-5-5-7");
}

}  // namespace
}  // namespace eff::search

namespace eff::search {
namespace {

TEST(SearchThresholds, KnownAnswerPrunesOnlyWhatKeepsAccuracy) {
  // The known-answer model's inputs are 1/8 ... 15.75 and each pair differs by 1/8 at its smaller
  // value k/8: pruning any value (k/8 with k >= 1) below the threshold to 0 turns the pair
  // (k/8, (k+1)/8) into (0, (k+1)/8) only when (k+1)/8 is kept, which keeps the prediction; but
  // when both are pruned the pair becomes a tie (0, 0), predicted 0: the pair labelled 1 is lost.
  // So with keep 100% the threshold may not exceed the smallest larger value of a pair, 2/8:
  // candidates 15.75 x 2^(k-12): 15.75/2^6 = 0.246 < 0.25 is the largest allowed (prunes 1/8).
  const KnownAnswer k = known_answer_model();
  ThresholdOptions o;
  o.threads = 1;
  o.batch = 16;
  o.progress = false;
  const ThresholdResult r = search_thresholds(k.graph, k.geometry, k.set, k.set, o);
  ASSERT_EQ(r.layers.size(), 1u);
  EXPECT_NEAR(r.layers[0].threshold, 15.75 / 64, 1e-6);
  EXPECT_TRUE(r.search.met);
  EXPECT_DOUBLE_EQ(r.search.top1, 100.0);
  // Skipped: the values below 0.246 are the two 1/8 of the k = 1 pairs: 2 of 252 values.
  EXPECT_NEAR(r.layers[0].skipped_fraction, 2.0 / 252.0, 1e-12);
}

TEST(SearchThresholds, SameResultForAnyThreadCount) {
  const KnownAnswer k = known_answer_model();
  ThresholdOptions o;
  o.threads = 1;
  o.batch = 16;
  o.progress = false;
  o.target.keep = 0.9;
  const ThresholdResult one = search_thresholds(k.graph, k.geometry, k.set, k.set, o);
  o.threads = 2;
  const ThresholdResult two = search_thresholds(k.graph, k.geometry, k.set, k.set, o);
  ASSERT_EQ(one.layers.size(), two.layers.size());
  for (size_t l = 0; l < one.layers.size(); ++l) EXPECT_EQ(one.layers[l].level, two.layers[l].level);
  EXPECT_EQ(one.evaluations.total(), two.evaluations.total());
  EXPECT_EQ(one.search.top1, two.search.top1);
  EXPECT_EQ(one.skipped_mac_weighted, two.skipped_mac_weighted);
}

TEST(SearchThresholds, OnAProfileTheThresholdsAreJudgedWithIt) {
  // `search all` runs the thresholds on top of the precision profile. Known-answer model, target
  // --max-loss 40: 40% of 126 images is 50.4, less the margin 1.645 sqrt(50.4) = 11.68: at most 38
  // of the 126 (all right in fp32) lost, so at least 25 of the 63 label-1 pairs right.
  // Levels: 15.75 x 2^(k - 12).
  // Label-0 pairs ((k+1)/8, k/8) stay correct under any pruning or rounding (the first value never
  // drops below the second; ties predict 0). A label-1 pair (k/8, (k+1)/8) is right iff its
  // second value ends up larger:
  //   fp32: iff (k+1)/8 is kept. Level 11 (t = 7.875) keeps k >= 63: 32 pairs, 95 correct, met;
  //   level 12 (t = 15.75) keeps only k = 125: 1 pair, missed. Found: level 11.
  //   with activations u3.3 (values >= 8 saturate to 7.875; pruning comes first): right iff
  //   neither value is pruned and k <= 61 (no saturation), or k/8 alone is pruned. Level 8
  //   (t = 0.984375): k = 9..61 (27 pairs) and k = 7 -> 28, 91 correct, met; level 9
  //   (t = 1.96875): k = 17..61 (23) and k = 15 -> 24 pairs, missed. Found: level 8.
  const KnownAnswer k = known_answer_model();
  ThresholdOptions o;
  o.threads = 1;
  o.batch = 16;
  o.progress = false;
  o.target.max_loss_points = 40;
  const ThresholdResult plain = search_thresholds(k.graph, k.geometry, k.set, k.set, o);
  ASSERT_EQ(plain.layers.size(), 1u);
  EXPECT_NEAR(plain.layers[0].threshold, 7.875, 1e-6);
  EXPECT_NEAR(plain.search.top1, 100.0 * 95 / 126, 1e-9);
  o.base["fc"].activations.kind = OperandTransform::kFixedPoint;
  o.base["fc"].activations.fixed = FixedPointFormat{3, 3, false};
  const ThresholdResult on_profile = search_thresholds(k.graph, k.geometry, k.set, k.set, o);
  ASSERT_EQ(on_profile.layers.size(), 1u);
  EXPECT_NEAR(on_profile.layers[0].threshold, 0.984375, 1e-6);
  EXPECT_NEAR(on_profile.search.top1, 100.0 * 91 / 126, 1e-9);
  EXPECT_NEAR(on_profile.report.top1, 100.0 * 91 / 126, 1e-9);  // the report run uses the profile too
  EXPECT_DOUBLE_EQ(on_profile.search.fp32_top1, 100.0);         // the target stays relative to fp32
  const auto merged = with_thresholds(o.base, on_profile);
  EXPECT_NEAR(merged.at("fc").prune_threshold, 0.984375, 1e-6);
  EXPECT_EQ(merged.at("fc").activations.fixed, (FixedPointFormat{3, 3, false}));
}

}  // namespace
}  // namespace eff::search

namespace eff::search {
namespace {

// x -> MatMul(I) -> Relu -> MatMul(I) -> y, optionally + x (a connection around layer 1).
Graph two_layers(bool skip) {
  test::ModelBuilder b;
  b.input("x", {test::kDynamic, 2}).output(skip ? "z" : "y", {test::kDynamic, 2});
  b.initializer("w1", {2, 2}, {1, 0, 0, 1});
  b.initializer("w2", {2, 2}, {1, 0, 0, 1});
  b.node("MatMul", {"x", "w1"}, {"h"}, "fc1");
  b.node("Relu", {"h"}, {"r"}, "relu");
  b.node("MatMul", {"r", "w2"}, {"y"}, "fc2");
  if (skip) b.node("Add", {"y", "x"}, {"z"}, "add");
  return b.load();
}

TEST(SearchSuffix, EvaluationFromALayerEqualsTheWholeGraph) {
  const KnownAnswer k = known_answer_model();
  const Graph g = two_layers(false);
  Evaluator whole(g, 1, 16);
  ASSERT_EQ(whole.layers().size(), 2u);
  const Reference ref = whole.reference(k.set);
  const Judge judge(Target{}, ref, true);
  std::map<std::string, LayerTransform> t;
  t["fc2"].activations.kind = OperandTransform::kFixedPoint;
  t["fc2"].activations.fixed = {4, 2, false};
  const Tally full = whole.run(k.set, ref, judge, t, false);
  EXPECT_EQ(full.correct, 63);  // as the one-layer model: the Relu and identity change nothing
  const std::optional<Graph> suffix = graph_from_layer(g, whole.layers()[1]);
  ASSERT_TRUE(suffix.has_value());
  Evaluator part(*suffix, 1, 16);
  const EvalSet inputs = whole.layer_inputs(k.set, whole.layers()[1]);
  const Tally from_layer = part.run(inputs, ref, judge, t, false);
  EXPECT_EQ(from_layer.correct, full.correct);
  EXPECT_EQ(from_layer.agree, full.agree);
  EXPECT_EQ(from_layer.noise_energy, full.noise_energy);
  // No suffix for the first layer, nor around a connection that bypasses the layer.
  EXPECT_FALSE(graph_from_layer(g, whole.layers()[0]).has_value());
  const Graph skip = two_layers(true);
  EXPECT_FALSE(graph_from_layer(skip, find_layers(skip)[1]).has_value());
}

}  // namespace
}  // namespace eff::search
