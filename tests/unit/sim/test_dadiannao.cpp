// DaDianNao, the baseline: hand-computed step-walk cycle counts (partial tiles, lane remainders,
// stride, padding, groups, depthwise, FC, the first-layer space-to-depth rule) and the scheduled
// recomputation against a direct convolution. How to add a case: build the layer with
// sim_test_util.h, work the walk out in a comment (windows x filter sets x steps), compare.
#include "sim_test_util.h"

namespace eff::sim {
namespace {

using namespace testing;

TEST(DaDianNao, ConvCyclesAreWindowsTimesFilterSetsTimesSteps) {
  // C=20 -> 2 chunks of 16 lanes (the second has 4 real lanes); 5x5 input, 3x3 kernel -> 3x3 = 9
  // windows; 300 filters over 16x16 = 256 per filter set -> 2 filter sets (the second partial);
  // steps = 3*3*2 = 18. Cycles = 9 * 2 * 18 = 324.
  const auto g = conv_geo(20, 5, 5, 300, 3);
  auto d = make("dadiannao");
  EXPECT_EQ(cycles(*d, layer_from(g, filled(20 * 25, 1))), 324u);
}

TEST(DaDianNao, StrideAndPaddingShapeTheWindows) {
  // 7x7 input, pad 1, stride 2, 3x3 kernel -> (7+2-3)/2+1 = 4 -> 16 windows; 16 channels -> 1
  // chunk; 16 filters -> 1 filter set; 9 steps. Cycles = 16 * 9 = 144.
  const auto g = conv_geo(16, 7, 7, 16, 3, 2, 1);
  EXPECT_EQ(cycles(*make("dadiannao"), layer_from(g, filled(16 * 49, 1))), 144u);
}

TEST(DaDianNao, FcIsOneWindowOfChannelChunks) {
  // 40 inputs -> 3 chunks; 600 outputs -> ceil(600/256) = 3 filter sets: 9 cycles.
  EXPECT_EQ(cycles(*make("dadiannao"), layer_from(fc_geo(40, 600), filled(40, 1))), 9u);
}

TEST(DaDianNao, GroupsWalkOneAfterAnother) {
  // 32 channels in 2 groups of 16, 64 filters (32 per group, 1 filter set each), 4x4 input 1x1
  // kernel -> 16 windows, 1 step: 16 * 1 * 1 * 2 groups = 32 cycles.
  const auto g = conv_geo(32, 4, 4, 64, 1, 1, 0, 2);
  EXPECT_EQ(cycles(*make("dadiannao"), layer_from(g, filled(32 * 16, 1))), 32u);
}

TEST(DaDianNao, DepthwiseUsesTheDiagonalOfEachTile) {
  // 40 channels, one filter each; 3x3 input, pad 1, 3x3 kernel -> 9 windows, 9 steps.
  // 16 channels per tile (lane i -> row i): ceil(40/16) = 3 channel sets; 16 tiles take them in
  // one pass: 9 windows * 1 * 9 steps = 81. With 2 tiles: 2 passes -> 162.
  const auto g = conv_geo(40, 3, 3, 40, 3, 1, 1, 40);
  const SimLayer l = layer_from(g, filled(40 * 9, 1));
  EXPECT_EQ(l.mapping, ChannelMapping::kDepthwise);
  EXPECT_EQ(cycles(*make("dadiannao"), l), 81u);
  EXPECT_EQ(cycles(*make("dadiannao", {{"tiles", "2"}}), l), 162u);
}

TEST(DaDianNao, FirstLayerSpaceToDepthFoldsChannels) {
  // 3 channels, 8x8, pad 1, stride 2, 3x3 kernel: 4x4 = 16 windows. Folded: 3*2*2 = 12 channels
  // (1 chunk), kernel ceil(3/2) = 2 -> 4 steps: 16 * 4 = 64 cycles. Unfolded: 9 steps -> 144.
  const auto g = conv_geo(3, 8, 8, 16, 3, 2, 1);
  const auto acts = pseudo_random(3 * 64, -5, 9, 1);
  const SimLayer folded = layer_from(g, acts, {}, 16, true, true);
  EXPECT_TRUE(folded.space_to_depth);
  EXPECT_EQ(folded.C_total, 12);
  EXPECT_EQ(folded.Kx, 2);
  EXPECT_EQ(cycles(*make("dadiannao"), folded), 64u);
  EXPECT_EQ(cycles(*make("dadiannao"), layer_from(g, acts, {}, 16, true, false)), 144u);
}

// The schedule computes the right thing: recompute through the step walk and compare with a
// direct convolution, on shapes that leave partial tiles, lane remainders and partial sets.
struct WalkCase {
  int64_t C, H, W, F, k, stride, pad, groups;
  std::map<std::string, std::string> grid;
};

TEST(DaDianNao, ScheduledProductsEqualDirectConvolution) {
  const WalkCase cases[] = {
      {20, 5, 6, 19, 3, 1, 1, 1, {{"tiles", "2"}, {"rows", "4"}, {"lanes", "8"}}},   // partial tile, lanes
      {3, 9, 9, 5, 3, 2, 1, 1, {{"tiles", "1"}, {"rows", "2"}, {"lanes", "4"}}},     // space-to-depth
      {3, 7, 8, 4, 5, 2, 2, 1, {{"tiles", "2"}, {"rows", "3"}, {"lanes", "5"}}},     // s2d, kernel overhang
      {12, 4, 5, 6, 3, 1, 0, 3, {{"tiles", "2"}, {"rows", "2"}, {"lanes", "3"}}},    // groups
      {10, 5, 5, 10, 3, 2, 1, 10, {{"tiles", "2"}, {"rows", "3"}, {"lanes", "4"}}},  // depthwise
  };
  for (const WalkCase& c : cases) {
    const auto g = conv_geo(c.C, c.H, c.W, c.F, c.k, c.stride, c.pad, c.groups, 0);
    const auto a = pseudo_random(c.C * c.H * c.W, -7, 9, 3);
    const auto w = pseudo_random(weight_count(g), -4, 4, 4);
    std::vector<int64_t> out;
    ASSERT_TRUE(make("dadiannao", c.grid)->recompute_outputs(layer_from(g, a, w, 16, true), out));
    EXPECT_EQ(out, direct_conv(g, a, w)) << "C=" << c.C << " groups=" << c.groups << " stride=" << c.stride;
  }
}

TEST(DaDianNao, PotentialIsOneAndUtilisationCountsPaddingLanes) {
  // 20 channels on 16 lanes: 2 chunks, 32 lane slots for 20 real channels; 1 filter of 256 rows.
  const auto g = conv_geo(20, 1, 1, 1, 1);
  const LayerStats s = make("dadiannao")->simulate(layer_from(g, filled(20, 3)), SimContext{});
  EXPECT_EQ(s.cycles, 2u);
  EXPECT_EQ(s.ideal_bit_products, 20u * 256u);
  EXPECT_EQ(s.lane_cycles_busy, 20u);
  EXPECT_EQ(s.lane_cycles_total, 2u * 16 * 16 * 16);
}

}  // namespace
}  // namespace eff::sim
