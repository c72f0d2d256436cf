// Cnvlutin: seed 001 Figure 5 (DaDianNao 4 cycles vs Cnvlutin 2), uneven channel slicing,
// near-zero thresholds, the first layer, and the invariant "no zeros -> DaDianNao".
#include "sim_test_util.h"

namespace eff::sim {
namespace {

using namespace testing;

const std::map<std::string, std::string> kFigure5Grid = {{"tiles", "1"}, {"rows", "2"}, {"lanes", "4"}};

TEST(Cnvlutin, Figure5TwoFiltersFourLanesTakeTwoCyclesInsteadOfFour) {
  // One window of 16 activations (1x1 kernel, 16 channels), two filters, 4 lanes. DaDianNao
  // walks 16/4 = 4 bricks: 4 cycles. Cnvlutin's 4 subunits own 4 channels each; their effectual
  // counts are 2 (the seed's brick (1,0,4,0) -> ((1,0),(4,2))), 1, 2, 1: max = 2 cycles.
  const auto g = conv_geo(16, 1, 1, 2, 1);
  const std::vector<int16_t> acts = {1, 0, 4, 0, 0, 2, 0, 0, 5, 0, 0, 6, 0, 0, 0, 7};
  const SimLayer l = layer_from(g, acts);
  EXPECT_EQ(cycles(*make("dadiannao", kFigure5Grid), l), 4u);
  EXPECT_EQ(cycles(*make("cnvlutin", kFigure5Grid), l), 2u);
}

TEST(Cnvlutin, SubunitsWalkAllKernelPositionsOfTheirSlice) {
  // 4 channels on 4 lanes, 2x2 input, 2x2 kernel -> 1 window, 4 positions. Subunit 0 (channel 0)
  // has 3 non-zeros over the 4 positions, the others at most 1: 3 cycles (DaDianNao: 4 steps).
  const auto g = conv_geo(4, 2, 2, 1, 2);
  std::vector<int16_t> acts(16, 0);  // [c][y][x]
  acts[0] = acts[1] = acts[2] = 9;   // channel 0 at 3 positions
  acts[4 + 3] = 1;                   // channel 1 once
  const SimLayer l = layer_from(g, acts);
  EXPECT_EQ(cycles(*make("cnvlutin", kFigure5Grid), l), 3u);
  EXPECT_EQ(cycles(*make("dadiannao", kFigure5Grid), l), 4u);
}

TEST(Cnvlutin, UnevenChannelsGiveTheFirstSubunitsOneMore) {
  // 20 channels on 16 subunits: 20 = 16*1 + 4 -> subunits 0..3 own 2 channels (0-1, 2-3, 4-5,
  // 6-7), subunits 4..15 one (8..19). All of channels 8..19 non-zero -> 1 cycle; channels 0 and 1
  // non-zero -> subunit 0 needs 2. DaDianNao: ceil(20/16) = 2.
  const auto g = conv_geo(20, 1, 1, 16, 1);
  std::vector<int16_t> tail(20, 0), head(20, 0);
  for (int c = 8; c < 20; ++c) tail[c] = 3;
  head[0] = head[1] = 3;
  EXPECT_EQ(cycles(*make("cnvlutin"), layer_from(g, tail)), 1u);
  EXPECT_EQ(cycles(*make("cnvlutin"), layer_from(g, head)), 2u);
  EXPECT_EQ(cycles(*make("dadiannao"), layer_from(g, head)), 2u);
}

TEST(Cnvlutin, AllZeroWindowStillCostsOneCycle) {
  const auto g = conv_geo(16, 2, 2, 3, 1);  // 4 windows
  EXPECT_EQ(cycles(*make("cnvlutin"), layer_from(g, filled(64, 0))), 4u);
}

TEST(Cnvlutin, NearZeroThresholdSkipsSmallActivations) {
  // Integer codes (step 1). Subunit streams (4 channels each): {1,5,2} {2} {4,1} {9,2} -> 3
  // cycles. Threshold 3 (|a| < 3 is ineffectual): {5} {} {4} {9} -> 1 cycle.
  const auto g = conv_geo(16, 1, 1, 2, 1);
  const std::vector<int16_t> acts = {1, 0, 5, 2, 0, 2, 0, 0, 4, 0, 0, 1, 9, 0, 0, 2};
  LayerTransform t;
  t.prune_threshold = 3;
  EXPECT_EQ(cycles(*make("cnvlutin", kFigure5Grid), layer_from(g, acts)), 3u);
  EXPECT_EQ(cycles(*make("cnvlutin", kFigure5Grid), layer_from(g, acts, {}, 16, false, true, &t)), 1u);
}

TEST(Cnvlutin, FirstLayerRunsAsDaDianNao) {
  const auto g = conv_geo(16, 1, 1, 2, 1, 1, 0, 1, 0);
  const std::vector<int16_t> acts = {1, 0, 4, 0, 0, 2, 0, 0, 5, 0, 0, 6, 0, 0, 0, 7};
  EXPECT_EQ(cycles(*make("cnvlutin", kFigure5Grid), layer_from(g, acts, {}, 16, true)), 4u);
  EXPECT_EQ(cycles(*make("cnvlutin", {{"tiles", "1"}, {"rows", "2"}, {"lanes", "4"}, {"first_layer_dense", "false"}}),
                   layer_from(g, acts, {}, 16, true)),
            2u);
}

TEST(Cnvlutin, WithoutZerosEqualsDaDianNao) {
  // Invariant: nothing to skip -> the same cycles as DaDianNao, on shapes with lane remainders,
  // partial filter sets, stride, padding (padding zeros are never stored, see docs), groups and
  // depthwise. Padding: windows at the border do see fewer effectual values, so use pad 0.
  struct Shape {
    int64_t C, H, W, F, k, stride, groups;
  };
  const Shape shapes[] = {{37, 6, 5, 300, 3, 1, 1},
                          {16, 7, 7, 20, 3, 2, 1},
                          {24, 5, 5, 12, 3, 1, 3},
                          {40, 5, 5, 40, 3, 1, 40},
                          {5, 1, 1, 7, 1, 1, 1}};
  for (const Shape& s : shapes) {
    const auto g = conv_geo(s.C, s.H, s.W, s.F, s.k, s.stride, 0, s.groups);
    const SimLayer l = layer_from(g, pseudo_random(s.C * s.H * s.W, 1, 99, 7));
    for (int threads : {1, 2}) {
      EXPECT_EQ(cycles(*make("cnvlutin"), l, threads), cycles(*make("dadiannao"), l)) << "C=" << s.C;
    }
  }
  const SimLayer fc = layer_from(fc_geo(50, 300), pseudo_random(50, 1, 9, 2));
  EXPECT_EQ(cycles(*make("cnvlutin"), fc), cycles(*make("dadiannao"), fc));
}

TEST(Cnvlutin, ZfnafFootprintStoresOnlyEffectualValuesWithOffsets) {
  // 5 non-zeros of 16: 5 * (16 + 4) bits = 100 bits -> 13 bytes; dense would be 32 bytes.
  const auto g = conv_geo(16, 1, 1, 2, 1);
  const std::vector<int16_t> acts = {1, 0, 4, 0, 0, 2, 0, 0, 5, 0, 0, 0, 0, 0, 0, 7};
  EXPECT_EQ(make("cnvlutin")->simulate(layer_from(g, acts), SimContext{}).offchip_act_bytes, 13u);
  EXPECT_EQ(make("dadiannao")->simulate(layer_from(g, acts), SimContext{}).offchip_act_bytes, 32u);
}

}  // namespace
}  // namespace eff::sim

namespace eff::sim {
namespace {

using namespace testing;

TEST(Cnvlutin, SubunitStreamsRecomputeTheConvolutionWithPrunedValuesDropped) {
  // Groups, depthwise, stride and padding; a threshold of 3 drops |a| < 3 from the streams, so
  // the reference is the direct convolution of the pruned activations.
  const LayerGeometry shapes[] = {conv_geo(20, 5, 6, 19, 3, 1, 1), conv_geo(12, 5, 5, 6, 3, 2, 1, 3),
                                  conv_geo(10, 5, 5, 10, 3, 1, 1, 10)};
  LayerTransform t;
  t.prune_threshold = 3;
  for (const LayerGeometry& g : shapes) {
    const auto a = pseudo_random(g.Ni * g.Ny * g.Nx, -6, 9, 21);
    const auto w = pseudo_random(weight_count(g), -4, 4, 22);
    auto pruned = a;
    for (auto& v : pruned) v = std::abs(v) < 3 ? 0 : v;
    std::vector<int64_t> out;
    ASSERT_TRUE(make("cnvlutin")->recompute_outputs(layer_from(g, a, w, 16, false, true, &t), out));
    EXPECT_EQ(out, direct_conv(g, pruned, w)) << "groups " << g.groups;
  }
}

}  // namespace
}  // namespace eff::sim
