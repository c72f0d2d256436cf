// Tartan on hand-built layers: conv is Stripes (hand count and field-by-field against the
// registered Stripes), FC follows the load/process pipeline, and the seed's FC speedup
// 16 / max(Pa, Pw) over DaDianNao 16-16-16 holds on a large FC layer.
#include <gtest/gtest.h>

#include "sim_test_util.h"
#include "test_serial_layers.h"

namespace eff::sim::testing {
namespace {

TEST(TartanLayer, ConvCostsPaCyclesPerStepLikeStripes) {
  // 5x5 input, 3x3 kernel -> 9 windows; 4 columns -> 3 window sets (the last partial). C = 20 on
  // 16 lanes -> 2 chunks, 9 offsets -> 18 steps. K = 20 on 1 tile x 16 rows -> 2 filter sets.
  // Pa = 7: 3 * 18 * 2 * 7 = 756.
  SimLayer l = serial_conv(5, 5, 20, 20, 3, 3);
  l.act_bits = 7;
  const auto d = make_design("tartan", {{"tiles", "1"}, {"rows", "16"}, {"lanes", "16"}, {"columns", "4"}});
  EXPECT_EQ(run(*d, l).cycles, 756u);
}

TEST(TartanLayer, ConvEqualsStripesFieldByField) {
  SimLayer l = serial_conv(13, 11, 35, 300, 3, 3, 2);
  fill_random(l, 9);
  l.act_bits = 9;
  l.wgt_bits = 6;
  expect_same_stats(run(*make_design("tartan"), l), run(*make_design("stripes"), l));
  SimLayer g = serial_conv(8, 8, 6, 10, 3, 3, 1, 2);  // two groups
  fill_random(g, 10);
  expect_same_stats(run(*make_design("tartan"), g), run(*make_design("stripes"), g));
}

TEST(TartanLayer, FcLoadsNextWeightsWhileProcessing) {
  // C = 100 on 16 lanes -> 7 chunks; 4 columns -> 2 rounds per filter set; K = 40 on 16 rows ->
  // 3 filter sets -> 6 rounds. Pa = 5, Pw = 9: 9 + 5 * max(5, 9) + 5 = 59.
  SimLayer l = serial_fc(100, 40);
  l.act_bits = 5;
  l.wgt_bits = 9;
  const auto d = make_design("tartan", {{"tiles", "1"}, {"columns", "4"}});
  EXPECT_EQ(run(*d, l).cycles, 59u);
}

TEST(TartanLayer, FcSpeedupOverDaDianNaoIsSixteenOverTheWiderPrecision) {
  // 4096 x 4096 FC on 16-16-16: DaDianNao needs 256 chunks x 16 filter sets = 4096 cycles.
  // Tartan: 16 rounds per filter set x 16 sets = 256 rounds; Pa = 8, Pw = 6:
  // 6 + 255 * 8 + 8 = 2054 -> 1.99x, the seed's 16 / max(8, 6) = 2 up to the pipeline fill.
  SimLayer l = serial_fc(4096, 4096);
  l.acts.assign(l.acts.size(), 0);
  l.act_bits = 8;
  l.wgt_bits = 6;
  const LayerStats s = run(*make_design("tartan"), l);
  EXPECT_EQ(s.cycles, 2054u);
  EXPECT_NEAR(4096.0 / static_cast<double>(s.cycles), 16.0 / 8.0, 0.01);
  // Potential: 16 x max(Pa, Pw) bit-products per MAC.
  EXPECT_EQ(s.ideal_bit_products, static_cast<uint64_t>(l.macs) * 16 * 8);
  EXPECT_EQ(s.offchip_wgt_bytes, static_cast<uint64_t>(4096) * 4096 * 6 / 8);
}

TEST(TartanLayer, ResultsDoNotDependOnThreads) {
  SimLayer l = serial_conv(10, 9, 17, 33, 3, 3);
  fill_random(l, 2);
  const auto d = make_design("tartan");
  expect_same_stats(run(*d, l, 1), run(*d, l, 2));
}

TEST(TartanCheckValues, SerialBitsRebuildTheOutputsOnlyWhenTheyFitThePrecision) {
  SimLayer conv = serial_conv(6, 5, 19, 7, 3, 3);
  fill_random(conv, 41);
  SimLayer fc = serial_fc(50, 12);
  fill_random(fc, 42);
  const auto d = make_design("tartan");
  for (const SimLayer* l : {&conv, &fc}) {
    std::vector<int64_t> out;
    ASSERT_TRUE(d->recompute_outputs(*l, out));
    EXPECT_EQ(out, direct_outputs(*l)) << l->name;
  }
  // An FC weight of 0b10000 does not fit Pw = 4 bits: the SIP never receives its bit 4, so the
  // recomputed output differs from the engine's.
  SimLayer narrow = serial_fc(1, 1);
  narrow.acts[0] = 3;
  narrow.wgts[0] = 0b10000;
  narrow.wgt_bits = 4;
  std::vector<int64_t> out;
  ASSERT_TRUE(d->recompute_outputs(narrow, out));
  EXPECT_EQ(out, std::vector<int64_t>{0});
}

TEST(TartanLayer, FirstLayerRunsOnTheSpaceToDepthLayout) {
  // 3-channel 8x8 image, 3x3 kernel, stride 2, pad 1 -> 4x4 = 16 windows = one window set.
  // Space-to-depth (spec §2.0 item 2): 12 channels, 2x2 kernel, stride 1 -> 2 x 2 x ceil(12/16)
  // = 4 steps instead of 9; Pa = 16 -> 64 cycles. The scheduled bits still rebuild the outputs.
  const LayerGeometry g = conv_geo(3, 8, 8, 4, 3, 2, 1);
  const std::vector<int16_t> acts = pseudo_random(3 * 8 * 8, -900, 900, 4);
  const std::vector<int16_t> wgts = pseudo_random(weight_count(g), -50, 50, 5);
  const SimLayer l = layer_from(g, acts, wgts, 16, true);
  ASSERT_TRUE(l.space_to_depth);
  const auto d = make_design("tartan");
  EXPECT_EQ(run(*d, l).cycles, 64u);
  std::vector<int64_t> out;
  ASSERT_TRUE(d->recompute_outputs(l, out));
  EXPECT_EQ(out, direct_conv(g, acts, wgts));
}

}  // namespace
}  // namespace eff::sim::testing
