// Loom on hand-built layers: equal throughput with DaDianNao 1-8-16 at 16 bits, dynamic
// activation widths with bits_per_cycle, dynamic weight widths, the FC rotation with serial
// weight loads, the seed's FC speedup, potentials, configuration errors, determinism.
// The small cases use rows 1, columns 16, lanes 4, bits_per_cycle 4: the SIP array then has
// 1 x 256 / (16 x 4) = 4 rows.
#include <gtest/gtest.h>

#include "sim_test_util.h"
#include "test_serial_layers.h"

namespace eff::sim::testing {
namespace {

std::map<std::string, std::string> small_loom(int bits_per_cycle) {
  return {{"rows", "1"}, {"lanes", "4"}, {"columns", "16"}, {"bits_per_cycle", std::to_string(bits_per_cycle)}};
}

// Two windows, two chunks of 4 channels, 4 filters. Activation widths: x0 chunk 0 0b111 -> 3,
// chunk 1 zeros -> 1; x1 chunk 0 value 1 -> 1, chunk 1 0b11111 -> 5. Weight precision 6.
SimLayer two_window_layer() {
  SimLayer l = serial_conv(2, 1, 8, 4, 1, 1);
  act_at(l, 0, 0, 0) = 0b111;
  act_at(l, 1, 0, 0) = 1;
  act_at(l, 1, 0, 4) = 0b11111;
  l.wgt_bits = 6;
  return l;
}

TEST(LoomLayer, SixteenBitOperandsTakeAsLongAsDaDianNaoOfEqualThroughput) {
  // 6x6 input, 3x3 kernel -> 16 windows = one window set; C = 32 -> 2 chunks -> 18 steps;
  // K = 128 = one filter set of 128 SIP rows. Loom: 18 x 16 x 16 = 4608 cycles.
  // DaDianNao 1-8-16: 16 windows x 2 chunks x 9 offsets x 128 / 8 filter sets = 4608.
  SimLayer l = serial_conv(6, 6, 32, 128, 3, 3);
  l.act_bits = 16;
  l.wgt_bits = 16;
  const LayerStats profile = run(*make_design("loom", {{"activation_precision", "profile"}}), l);
  EXPECT_EQ(profile.cycles, 4608u);
  const LayerStats dadn = run(*make_design("dadiannao", {{"tiles", "1"}, {"rows", "8"}, {"lanes", "16"}}), l);
  EXPECT_EQ(dadn.cycles, 4608u);
  // Dynamic widths reach 16 too: -0x4001 needs 15 magnitude bits plus the sign.
  for (auto& a : l.acts) a = -0x4001;
  l.act_signed = true;
  EXPECT_EQ(run(*make_design("loom"), l).cycles, 4608u);
  EXPECT_EQ(make_design("loom")->grid(), (Grid{1, 8, 16, 16}));
}

TEST(LoomLayer, DynamicActivationWidthsAreProcessedBitsPerCycleAtATime) {
  // All columns share each step: step 0 width max(3, 1) = 3, step 1 max(1, 5) = 5.
  // 4 bits per cycle: (ceil(3/4) + ceil(5/4)) x 6 = (1 + 2) x 6 = 18.
  // 1 bit per cycle: (3 + 5) x 6 = 48.
  const SimLayer l = two_window_layer();
  EXPECT_EQ(run(*make_design("loom", small_loom(4)), l).cycles, 18u);
  EXPECT_EQ(run(*make_design("loom", small_loom(1)), l).cycles, 48u);
}

TEST(LoomLayer, DynamicWeightWidthsFollowEachStepsWeights) {
  // Chunk 0 weights all 3 (2 bits), chunk 1 all 1 except one -8 (~(-8) = 7: 3 bits); the weights
  // are signed, so +1: 3 and 4 bits. 4 bits per cycle: 1 x 3 + 2 x 4 = 11.
  SimLayer l = two_window_layer();
  for (int64_t k = 0; k < 4; ++k) {
    for (int64_t c = 0; c < 8; ++c) l.wgts[static_cast<size_t>(k * 8 + c)] = c < 4 ? 3 : 1;
  }
  l.wgts[2 * 8 + 5] = -8;
  l.wgt_signed = true;
  auto params = small_loom(4);
  params["weight_precision"] = "dynamic";
  EXPECT_EQ(run(*make_design("loom", params), l).cycles, 11u);
}

TEST(LoomLayer, FcWeightsLoadBitSeriallyOverTheSharedWires) {
  // FC, C = 8 -> 2 chunks of widths 3 and 5 (1 and 2 cycles at 4 bits), one filter set.
  // Step 0: load 6 cycles, busy 6 + 1 x 6 = 12; step 1 starts when the wires free up at 6,
  // busy 6 + 2 x 6 = 18 -> ends at 24.
  SimLayer l = serial_fc(8, 4);
  act_at(l, 0, 0, 0) = 0b111;
  act_at(l, 0, 0, 4) = 0b11111;
  l.wgt_bits = 6;
  EXPECT_EQ(run(*make_design("loom", small_loom(4)), l).cycles, 24u);
}

TEST(LoomLayer, FcSpeedupOverDaDianNaoIsSixteenOverTheWeightPrecision) {
  // 4096 x 4096 FC, 8-bit activations and weights. Loom 1-8-16 (128 SIP rows): 32 filter sets x
  // 256 chunks = 8192 steps; each loads 8 cycles and computes 8 x 8, busy 72 < 16 x 8, so the
  // wires bound it: 8191 x 8 + 72 = 65600. DaDianNao 1-8-16: 256 x 512 = 131072 -> 2.0x, the seed's
  // 16 / max(Pa, Pw).
  SimLayer l = serial_fc(4096, 4096);
  for (auto& a : l.acts) a = 0xFF;
  l.act_bits = 8;
  l.wgt_bits = 8;
  const LayerStats s = run(*make_design("loom"), l);
  EXPECT_EQ(s.cycles, 65600u);
  EXPECT_NEAR(131072.0 / static_cast<double>(s.cycles), 2.0, 0.01);
}

TEST(LoomLayer, PotentialIsActivationWidthTimesWeightPrecision) {
  // Per MAC width(a) x Pw: x0 widths 3 + 7 zeros x 1 = 10, x1 1 + 5 + 6 x 1 = 12; each activation
  // meets 4 filters: (10 + 12) x 4 x 6 = 528.
  const LayerStats s = run(*make_design("loom", small_loom(4)), two_window_layer());
  EXPECT_EQ(s.ideal_bit_products, 528u);
  EXPECT_LE(s.lane_cycles_busy, s.lane_cycles_total);
}

TEST(LoomConfig, BitsPerCycleThatBreaksEqualThroughputIsAConfigError) {
  Params p({{"bits_per_cycle", "3"}}, "test.yaml: designs[1]");
  try {
    find_design("loom")->make(p);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("bits_per_cycle"), std::string::npos) << e.what();
  }
}

TEST(LoomLayer, ResultsDoNotDependOnThreadsOrLayerOrder) {
  SimLayer a = serial_conv(12, 11, 10, 140, 3, 3, 1, 2);
  fill_random(a, 21, true);
  SimLayer b = serial_fc(333, 150);
  fill_random(b, 22);
  for (const char* wp : {"static", "dynamic"}) {
    const auto d = make_design("loom", {{"weight_precision", wp}});
    const LayerStats a1 = run(*d, a, 1), b1 = run(*d, b, 1);
    const LayerStats b2 = run(*d, b, 2), a2 = run(*d, a, 2);
    expect_same_stats(a1, a2);
    expect_same_stats(b1, b2);
  }
}

TEST(LoomCheckValues, BitPairsRebuildTheConvolutionExactly) {
  SimLayer conv = serial_conv(7, 6, 9, 21, 3, 2, 1, 3);
  fill_random(conv, 51, true);
  SimLayer fc = serial_fc(40, 10);
  fill_random(fc, 52);
  const auto d = make_design("loom");
  for (const SimLayer* l : {&conv, &fc}) {
    std::vector<int64_t> out;
    ASSERT_TRUE(d->recompute_outputs(*l, out));
    EXPECT_EQ(out, direct_outputs(*l)) << l->name;
  }
}

TEST(LoomLayer, DepthwiseTilesTakeTheirOwnChannelSets) {
  // 6 channels, one filter each; the small grid's tile takes min(4 lanes, 4 SIP rows) = 4
  // channels per pass -> 2 passes. Pass 0 (channels 0-3): widths 3 (x0 ch0) and 1 (x1 ch2) ->
  // ceil(3/4) = 1 x Pw 6 = 6. Pass 1 (channels 4-5): x1 ch5 0b11111 -> ceil(5/4) = 2 x 6 = 12.
  SimLayer l = serial_conv(2, 1, 1, 6, 1, 1, 1, 6);
  l.mapping = ChannelMapping::kDepthwise;
  act_at(l, 0, 0, 0) = 0b111;
  act_at(l, 1, 0, 2) = 1;
  act_at(l, 1, 0, 5) = 0b11111;
  l.wgt_bits = 6;
  EXPECT_EQ(run(*make_design("loom", small_loom(4)), l).cycles, 18u);
}

TEST(LoomLayer, GroupsPaddingAndStrideUseTheRightBricks) {
  // Padded 4 x 1 input (x = 0 and 3 are padding), 2 groups of 2 channels, 1 filter per group,
  // 2 x 1 kernel, stride 2: windows read x {0, 1} and {2, 3}; one window set. Per group and
  // kernel offset the width of the OR over both windows:
  //   group 0: kx 0 -> x0 (0) | x2 (0b11) = 2; kx 1 -> x1 (0b111) | x3 (0) = 3
  //   group 1: kx 0 -> x0 (0) | x2 (0b11111) = 5; kx 1 -> x1 (1) | x3 (0) = 1
  // 4 bits per cycle: (1 + 1 + 2 + 1) x Pw 6 = 30; 1 bit per cycle: (2 + 3 + 5 + 1) x 6 = 66.
  SimLayer l = serial_conv(4, 1, 2, 2, 2, 1, 2, 2);
  act_at(l, 1, 0, 0) = 0b111;
  act_at(l, 2, 0, 0) = 0b11;
  act_at(l, 1, 0, 2) = 1;
  act_at(l, 2, 0, 2) = 0b11111;
  l.wgt_bits = 6;
  EXPECT_EQ(run(*make_design("loom", small_loom(4)), l).cycles, 30u);
  EXPECT_EQ(run(*make_design("loom", small_loom(1)), l).cycles, 66u);
}

TEST(LoomLayer, SignedFirstLayerInputsCarryASignBit) {
  // The image is signed, so every activation width gets the sign bit (G3 rule): -3 is stored as
  // ~(-3) = 0b10 -> 2 bits + 1 = 3; an all-zero chunk -> 1 + 1 = 2. Two chunks in one window:
  // 1 bit per cycle, Pw 6: (3 + 2) x 6 = 30.
  SimLayer l = serial_conv(1, 1, 8, 4, 1, 1);
  l.first_layer = true;
  act_at(l, 0, 0, 1) = -3;
  l.act_signed = true;
  l.wgt_bits = 6;
  EXPECT_EQ(run(*make_design("loom", small_loom(1)), l).cycles, 30u);
}

TEST(LoomCheckValues, FirstLayerAfterSpaceToDepthRebuildsTheOutputs) {
  const LayerGeometry g = conv_geo(3, 9, 7, 5, 3, 2, 1);
  const std::vector<int16_t> acts = pseudo_random(3 * 9 * 7, -3000, 3000, 8);
  const std::vector<int16_t> wgts = pseudo_random(weight_count(g), -70, 70, 9);
  const SimLayer l = layer_from(g, acts, wgts, 16, true);
  ASSERT_TRUE(l.space_to_depth);
  std::vector<int64_t> out;
  ASSERT_TRUE(make_design("loom")->recompute_outputs(l, out));
  EXPECT_EQ(out, direct_conv(g, acts, wgts));
}

}  // namespace
}  // namespace eff::sim::testing
