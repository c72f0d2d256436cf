// Bit-Pragmatic on hand-built layers: run-ahead, two-stage shifting, FC rotation, groups with
// padding and stride, signed first-layer inputs; invariants against Stripes; determinism.
// Grids are shrunk (tiles 1, rows 1, lanes 2-4, columns 1-2) so that every cycle can be worked
// out by hand; each case says where its numbers come from. Brick costs used below (b = 2,
// positional): a lane 0b10101 alone -> terms at 0, 2, 4, one per cycle -> 3; value 1 -> 1;
// an all-zero brick -> 1.
#include <gtest/gtest.h>

#include "sim_test_util.h"
#include "test_serial_layers.h"

namespace eff::sim::testing {
namespace {

std::map<std::string, std::string> tiny(int lanes, int columns, int registers, int first_stage = 2) {
  return {{"tiles", "1"},
          {"rows", "1"},
          {"lanes", std::to_string(lanes)},
          {"columns", std::to_string(columns)},
          {"column_registers", std::to_string(registers)},
          {"first_stage_bits", std::to_string(first_stage)}};
}

// Two windows (x = 0, 1), two chunks of 4 channels: column 0 costs 3 then 1, column 1 costs 1
// then 3.
SimLayer staggered_layer(int64_t filters) {
  SimLayer l = serial_conv(2, 1, 8, filters, 1, 1);
  act_at(l, 0, 0, 0) = 0b10101;
  act_at(l, 0, 0, 4) = 1;
  act_at(l, 1, 0, 0) = 1;
  act_at(l, 1, 0, 4) = 0b10101;
  return l;
}

TEST(PragmaticLayer, ColumnsSynchroniseEveryStepWithoutRegisters) {
  // Steps cost max(3, 1) + max(1, 3) = 6 per filter set; K = 3 filters on 1 row -> 3 sets -> 18.
  const auto d = make_design("pragmatic", tiny(4, 2, 0));
  EXPECT_EQ(run(*d, staggered_layer(3)).cycles, 18u);
}

TEST(PragmaticLayer, RunAheadLetsAColumnFinishItsCheapStepsEarly) {
  // One register: column 0 runs 3 then 1 (ends at 4); column 1 runs 1, then starts step 1 at 1
  // (it need only wait for step -1) and ends at 4. 4 per filter set, 3 sets -> 12.
  const auto d = make_design("pragmatic", tiny(4, 2, 1));
  EXPECT_EQ(run(*d, staggered_layer(3)).cycles, 12u);
}

TEST(PragmaticLayer, TwoStageShiftingSplitsWideTermSpans) {
  // One window, one brick of two lanes: {0, 8} and {4, 12}. With b = 2 each term needs its own
  // cycle (4); with b = 3 the lanes pair up (2); see SerialPragmaticBrick for the steps.
  SimLayer l = serial_conv(1, 1, 2, 1, 1, 1);
  act_at(l, 0, 0, 0) = 0x0101;
  act_at(l, 0, 0, 1) = 0x1010;
  EXPECT_EQ(run(*make_design("pragmatic", tiny(2, 1, 0, 2)), l).cycles, 4u);
  EXPECT_EQ(run(*make_design("pragmatic", tiny(2, 1, 0, 3)), l).cycles, 2u);
}

TEST(PragmaticLayer, FcStepsRotateOverTheColumns) {
  // FC, C = 12 on 4 lanes: chunk costs 3 (0b10101), 1 (value 1), 2 (0b101: terms 0 and 2, one
  // lane). K = 2 on one row: 2 filter sets, so the step costs are 3, 1, 2, 3, 1, 2 over 2
  // columns. Rotation: c0 0-3 (t=1), c1 1-2 (t=2), c0 3-5 (t=4), c1 4-7 (t=5), c0 5-6 (t=6),
  // c1 waits to 7, 7-9 (t=8). Layer = max(8, 6, 9) = 9.
  SimLayer l = serial_fc(12, 2);
  act_at(l, 0, 0, 0) = 0b10101;
  act_at(l, 0, 0, 4) = 1;
  act_at(l, 0, 0, 8) = 0b101;
  EXPECT_EQ(run(*make_design("pragmatic", tiny(4, 2, 0)), l).cycles, 9u);
}

TEST(PragmaticLayer, GroupsPaddingAndStrideUseTheRightBricks) {
  // Padded input of 4 x 1 (x = 0 and 3 are padding zeros), 2 groups of 2 channels, 1 filter per
  // group, 2 x 1 kernel, stride 2 -> windows at x = {0, 1} and {2, 3}. Brick costs (lanes 2):
  //   group 0 (ch 0-1): x0 1 (pad), x1 0b111 -> 3, x2 0b11 -> 2, x3 1 (pad)
  //   group 1 (ch 2-3): x0 1, x1 value 1 -> 1, x2 0b1111 -> 4, x3 1
  // No registers: g0 max(1,2) + max(3,1) = 5; g1 max(1,4) + max(1,1) = 5 -> 10.
  // One register: g0 column 0 1+3 = 4, column 1 2+1 = 3 -> 4; g1 column 0 1+1, column 1 4+1 = 5
  // -> 5; total 9.
  SimLayer l = serial_conv(4, 1, 2, 2, 2, 1, 2, 2);
  act_at(l, 1, 0, 0) = 0b111;
  act_at(l, 1, 0, 2) = 1;
  act_at(l, 2, 0, 0) = 0b11;
  act_at(l, 2, 0, 2) = 0b1111;
  ASSERT_EQ(l.OX, 2);
  EXPECT_EQ(run(*make_design("pragmatic", tiny(2, 2, 0)), l).cycles, 10u);
  EXPECT_EQ(run(*make_design("pragmatic", tiny(2, 2, 1)), l).cycles, 9u);
}

TEST(PragmaticLayer, NegativeFirstLayerInputsStreamTheirMagnitude) {
  // The image may be signed: -5 streams |-5| = 0b101, terms at 0 and 2 -> 2 cycles (b = 2).
  SimLayer l = serial_conv(1, 1, 3, 1, 1, 1);
  l.first_layer = true;
  act_at(l, 0, 0, 1) = -5;
  l.act_signed = true;
  EXPECT_EQ(run(*make_design("pragmatic", tiny(4, 1, 0)), l).cycles, 2u);
}

TEST(PragmaticLayer, BoothTermsShortenRunsOfOnes) {
  // 0b0111 1111 = 127: 7 positional terms; Booth-like: 128 - 1 -> terms at 7 and 0 -> with b = 2,
  // m = 0 takes 0 (7 is out of reach), m = 7 takes 7 -> 2 cycles.
  SimLayer l = serial_conv(1, 1, 1, 1, 1, 1);
  act_at(l, 0, 0, 0) = 127;
  auto params = tiny(1, 1, 0);
  EXPECT_EQ(run(*make_design("pragmatic", params), l).cycles, 7u);
  params["encoding"] = "booth";
  EXPECT_EQ(run(*make_design("pragmatic", params), l).cycles, 2u);
}

TEST(PragmaticLayer, AllOnesValuesAreNoFasterThanStripesAtTheirPrecision) {
  // Every code 0x7FFF (15 ones) at 15-bit precision: every brick takes 15 cycles (see
  // SerialPragmaticBrick.AllOnesSixteenBitValuesTakeSixteenCyclesLikeStripes for 16 bits), which
  // is Stripes at Pa = 15; run-ahead cannot help when every column costs the same.
  SimLayer l = serial_conv(7, 6, 20, 18, 3, 2);
  for (auto& a : l.acts) a = 0x7FFF;
  l.act_bits = 15;
  const auto pra = make_design("pragmatic");
  const auto str = make_design("stripes");
  ASSERT_NE(str, nullptr);
  EXPECT_EQ(run(*pra, l).cycles, run(*str, l).cycles);
}

TEST(PragmaticLayer, EffectualBitProductsEqualThePotentialWhenFiltersFillTheGrid) {
  // With K a multiple of tiles x rows (32 = 4 sets of 2 x 4) no PE row is padding: every term
  // feeds exactly the real filters, so bit-products = sum over MACs of 16 x terms(a) = the
  // potential (stride 2 leaves input row 7 unread: both sides must skip it).
  SimLayer l = serial_conv(9, 8, 21, 32, 3, 3, 2);
  fill_random(l, 3);
  const LayerStats s = run(*make_design("pragmatic", {{"tiles", "2"}, {"rows", "4"}}), l);
  EXPECT_EQ(s.bit_products, s.ideal_bit_products);
  EXPECT_EQ(s.lane_cycles_busy * 16, s.ideal_bit_products);
  EXPECT_LE(s.lane_cycles_busy, s.lane_cycles_total);
  EXPECT_EQ(s.macs, static_cast<uint64_t>(l.macs));
}

TEST(PragmaticLayer, ResultsDoNotDependOnThreadsOrLayerOrder) {
  SimLayer a = serial_conv(19, 17, 37, 40, 3, 3);
  fill_random(a, 5, true);
  SimLayer b = serial_fc(300, 70);
  fill_random(b, 6);
  const auto d = make_design("pragmatic");
  const LayerStats a1 = run(*d, a, 1), b1 = run(*d, b, 1);
  const LayerStats b2 = run(*d, b, 2), a2 = run(*d, a, 2);
  expect_same_stats(a1, a2);
  expect_same_stats(b1, b2);
}

TEST(PragmaticConfig, TooManyLanesIsAConfigErrorNamingTheField) {
  Params p({{"lanes", "65"}}, "test.yaml: designs[0]");
  try {
    find_design("pragmatic")->make(p);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("lanes"), std::string::npos) << e.what();
  }
}

TEST(PragmaticCheckValues, OneffsetsRebuildTheConvolutionExactly) {
  // Shift-and-add over the (signed) oneffsets gives back every output, for both encodings, on a
  // signed, grouped, strided layer with partial chunks and an FC layer.
  SimLayer conv = serial_conv(9, 7, 11, 6, 3, 2, 2, 2);
  fill_random(conv, 31, true);
  SimLayer fc = serial_fc(37, 9);
  fill_random(fc, 32, true);
  for (const char* enc : {"positional", "booth"}) {
    const auto d = make_design("pragmatic", {{"encoding", enc}});
    for (const SimLayer* l : {&conv, &fc}) {
      std::vector<int64_t> out;
      ASSERT_TRUE(d->recompute_outputs(*l, out));
      EXPECT_EQ(out, direct_outputs(*l)) << enc << " " << l->name;
    }
  }
}

TEST(PragmaticLayer, DepthwiseTilesTakeTheirOwnChannelSets) {
  // 5 channels, one filter each; 2 tiles x 2 rows x 2 lanes: each tile takes min(2, 2) = 2
  // channels per pass -> passes {tile 0: ch 0-1, tile 1: ch 2-3} and {tile 0: ch 4}. One window,
  // one step per pass; tiles run in step, so a pass costs its slowest tile's brick (b = 2):
  // pass 0 max(0b111 alone -> 3, {1, 1} -> 1) = 3; pass 1 0b1010 -> 2. Total 5.
  SimLayer l = serial_conv(1, 1, 1, 5, 1, 1, 1, 5);
  l.mapping = ChannelMapping::kDepthwise;
  act_at(l, 0, 0, 0) = 0b111;
  act_at(l, 0, 0, 2) = 1;
  act_at(l, 0, 0, 3) = 1;
  act_at(l, 0, 0, 4) = 0b1010;
  const auto d = make_design("pragmatic", {{"tiles", "2"}, {"rows", "2"}, {"lanes", "2"}, {"columns", "1"}});
  EXPECT_EQ(run(*d, l).cycles, 5u);
}

TEST(PragmaticCheckValues, FirstLayerAfterSpaceToDepthRebuildsTheOutputs) {
  // A signed image through the real preprocessing (padding, space-to-depth): the oneffsets the
  // design streams still rebuild the model-layout convolution.
  const LayerGeometry g = conv_geo(3, 9, 7, 5, 3, 2, 1);
  const std::vector<int16_t> acts = pseudo_random(3 * 9 * 7, -3000, 3000, 6);
  const std::vector<int16_t> wgts = pseudo_random(weight_count(g), -70, 70, 7);
  const SimLayer l = layer_from(g, acts, wgts, 16, true);
  ASSERT_TRUE(l.space_to_depth);
  for (const char* enc : {"positional", "booth"}) {
    std::vector<int64_t> out;
    ASSERT_TRUE(make_design("pragmatic", {{"encoding", enc}})->recompute_outputs(l, out));
    EXPECT_EQ(out, direct_conv(g, acts, wgts)) << enc;
  }
}

}  // namespace
}  // namespace eff::sim::testing
