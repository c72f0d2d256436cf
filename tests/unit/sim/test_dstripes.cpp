// Dynamic Stripes: per-group widths, trailing-zero trimming, column run-ahead, signed tensors, FC
// rotation, and the invariant "never slower than Stripes with the same profile".
#include "sim_test_util.h"

namespace eff::sim {
namespace {

using namespace testing;

// Two windows (2x1 input, 1x1 kernel), 4 channels on 2 lanes -> 2 steps, 1 filter.
// Window 0: channels (15, 0 | 1, 0) -> widths 4 then 1. Window 1: (1, 0 | 15, 0) -> 1 then 4.
SimLayer crossing_layer() {
  const auto g = conv_geo(4, 1, 2, 1, 1);
  const std::vector<int16_t> acts = {15, 1, 0, 0, 1, 15, 0, 0};  // [c][y][x]
  return layer_from(g, acts, {}, 4);
}
std::map<std::string, std::string> tiny(int group_size, int registers) {
  return {{"tiles", "1"},
          {"rows", "1"},
          {"lanes", "2"},
          {"columns", "2"},
          {"group_size", std::to_string(group_size)},
          {"column_registers", std::to_string(registers)}};
}

TEST(DynamicStripes, ColumnsSynchroniseEveryStepWithoutRegisters) {
  // Steps cost max(4, 1) + max(1, 4) = 8, whatever the group size.
  EXPECT_EQ(cycles(*make("dstripes", tiny(1, 0)), crossing_layer()), 8u);
  EXPECT_EQ(cycles(*make("dstripes", tiny(2, 0)), crossing_layer()), 8u);
}

TEST(DynamicStripes, RunAheadLetsColumnsOverlapSlowSteps) {
  // One register: step 1 may start before step 0 is done everywhere. Column 0: 4 + 1 = 5;
  // column 1: 1 + 4 = 5 -> 5 cycles.
  EXPECT_EQ(cycles(*make("dstripes", tiny(1, 1)), crossing_layer()), 5u);
  // One group of both columns: its width is the OR over both windows, 4 per step -> 8.
  EXPECT_EQ(cycles(*make("dstripes", tiny(2, 1)), crossing_layer()), 8u);
}

TEST(DynamicStripes, TrailingZeroTrimmingUsesTheGroupsCommonSpan) {
  // Values 8 (0b1000) and 4 (0b0100) in one brick: leading-zero trimming needs 4 bits; with
  // trailing zeros trimmed too, the OR 0b1100 spans 2 bits.
  const auto g = conv_geo(2, 1, 1, 1, 1);
  const SimLayer l = layer_from(g, {8, 4}, {}, 8);
  auto grid = tiny(1, 0);
  EXPECT_EQ(cycles(*make("dstripes", grid), l), 4u);
  grid["trim_trailing"] = "true";
  EXPECT_EQ(cycles(*make("dstripes", grid), l), 2u);
}

TEST(DynamicStripes, SignedTensorsPayOneBitForTheSign) {
  // -1 is 0b1..1 in two's complement; its one's complement is 0 -> 1 bit + sign = 2. 5 -> 3 + 1.
  const auto g = conv_geo(2, 1, 1, 1, 1);
  EXPECT_EQ(cycles(*make("dstripes", tiny(1, 0)), layer_from(g, {-1, 0}, {}, 8)), 2u);
  EXPECT_EQ(cycles(*make("dstripes", tiny(1, 0)), layer_from(g, {-1, 5}, {}, 8)), 4u);
  // An all-zero unsigned brick still costs one cycle.
  EXPECT_EQ(cycles(*make("dstripes", tiny(1, 0)), layer_from(g, {0, 0}, {}, 8)), 1u);
}

TEST(DynamicStripes, FcStepsCostTheirChunkWidthAndRotate) {
  // 4 inputs on 2 lanes -> 2 chunks: (7, 1) width 3 and (0, 2) width 2; 1 output, 2 columns:
  // step 0 on column 0 ends at 3, step 1 starts at 1 on column 1 and ends at 3 -> 3 cycles.
  const SimLayer l = layer_from(fc_geo(4, 1), {7, 1, 0, 2}, {}, 8);
  EXPECT_EQ(cycles(*make("dstripes", tiny(1, 0)), l), 3u);
}

TEST(DynamicStripes, NeverSlowerThanStripesWithTheSameProfile) {
  // Synthetic layers at a profiled precision P (values fit P bits): every dynamic group width
  // is at most P. Shapes with partial window sets, lane remainders, groups, depthwise and FC.
  const LayerGeometry shapes[] = {conv_geo(37, 9, 7, 300, 3, 1, 1), conv_geo(16, 11, 11, 20, 3, 2, 1),
                                  conv_geo(24, 6, 6, 12, 3, 1, 1, 3), conv_geo(40, 7, 5, 40, 3, 1, 1, 40),
                                  fc_geo(100, 300)};
  for (int bits : {3, 8, 13, 16}) {
    for (const char* mag : {"uniform", "log-uniform", "half-normal"}) {
      SyntheticSpec spec;
      spec.act_bits = bits;
      spec.magnitude = mag;
      spec.zero_fraction = 0.3;
      for (const LayerGeometry& g : shapes) {
        const SimLayer l = synthetic_layer(g, spec, 0, false);
        for (const auto& params :
             {std::map<std::string, std::string>{},
              std::map<std::string, std::string>{{"group_size", "4"}, {"column_registers", "2"}},
              std::map<std::string, std::string>{{"group_size", "1"}, {"trim_trailing", "true"}}}) {
          EXPECT_LE(cycles(*make("dstripes", params), l), cycles(*make("stripes"), l))
              << g.name << " bits " << bits << " " << mag;
        }
      }
    }
  }
}

TEST(DynamicStripes, ThreadCountDoesNotChangeAnyCounter) {
  SyntheticSpec spec;
  spec.act_bits = 12;
  const SimLayer l = synthetic_layer(conv_geo(48, 13, 13, 70, 3, 1, 1), spec, 0, false);
  auto d = make("dstripes", {{"group_size", "2"}, {"column_registers", "1"}});
  const LayerStats a = d->simulate(l, SimContext{1}), b = d->simulate(l, SimContext{2});
  EXPECT_EQ(a.cycles, b.cycles);
  EXPECT_EQ(a.lane_cycles_busy, b.lane_cycles_busy);
  EXPECT_EQ(a.bit_products, b.bit_products);
}

TEST(DynamicStripes, PotentialOfAFoldedFirstLayerCountsOnlyRealMacs) {
  // 3 channels, 8x8, stride 2, pad 1, 3x3 kernel, 4 filters: 4x4 windows * 4 * 27 = 1728 MACs.
  // Every value (padding zeros too) has width 1, so the potential is exactly 1728 * 1 * 16 -- the
  // folded 2x2 kernel's extra taps (zero weights) must not count.
  const auto g = conv_geo(3, 8, 8, 4, 3, 2, 1, 1, 0);
  const SimLayer l = layer_from(g, filled(3 * 64, 1), {}, 8, true);
  ASSERT_TRUE(l.space_to_depth);
  EXPECT_EQ(make("dstripes")->simulate(l, SimContext{}).ideal_bit_products, 1728u * 16);
  // Cnvlutin with the first layer encoded: all 192 input values are effectual; the padding is not.
  // Effectual MACs = 1728 minus those on padding: per filter, sum over the 16 windows of the real
  // taps. Rows/columns: the 4 windows read input rows {-1..1},{1..3},{3..5},{5..7}: 2+3+3+3 = 11
  // real rows of 12 taps; same for columns -> 11*11 = 121 real (x, y) taps * 3 channels * 4 filters.
  EXPECT_EQ(make("cnvlutin", {{"first_layer_dense", "false"}})->simulate(l, SimContext{}).lane_cycles_busy,
            121u * 3 * 4);
}

TEST(DynamicStripes, ScheduledBitsRebuildTheConvolution) {
  // Signed and unsigned values, lane remainders, partial window sets, stride, padding, groups,
  // depthwise, FC and a folded first layer; every grouping, run-ahead and trimming choice. Each
  // group streams only the bits its charged width covers, so a width too small would lose bits.
  const LayerGeometry shapes[] = {conv_geo(20, 5, 6, 19, 3, 1, 1), conv_geo(12, 7, 7, 6, 3, 2, 1, 3),
                                  conv_geo(10, 5, 5, 10, 3, 1, 1, 10), conv_geo(3, 9, 9, 5, 3, 2, 1, 1, 0),
                                  fc_geo(37, 9)};
  const std::map<std::string, std::string> configs[] = {
      {}, {{"group_size", "4"}, {"column_registers", "2"}}, {{"group_size", "1"}, {"trim_trailing", "true"}}};
  for (const LayerGeometry& g : shapes) {
    for (const auto& [lo, hi] : {std::pair{0, 300}, std::pair{-70, 90}}) {
      // Multiples of 8 plus a few odd values: trailing-zero trimming has something to skip.
      auto a = pseudo_random(g.kind == "fc" ? g.Ni : g.Ni * g.Ny * g.Nx, lo, hi, 31);
      for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<int16_t>(i % 7 == 0 ? a[i] : a[i] * 8);
      const auto w = pseudo_random(weight_count(g), -5, 5, 32);
      const SimLayer l = layer_from(g, a, w, 16, g.index == 0);
      for (const auto& params : configs) {
        std::vector<int64_t> out;
        ASSERT_TRUE(make("dstripes", params)->recompute_outputs(l, out));
        const std::vector<int64_t> ref =
            g.kind == "fc" ? direct_conv(conv_geo(g.Ni, 1, 1, g.Nf, 1), a, w) : direct_conv(g, a, w);
        EXPECT_EQ(out, ref) << g.name << " values " << lo << ".." << hi << " params " << params.size();
      }
    }
  }
}

TEST(DynamicStripes, SignCycleTurnsOnesComplementPatternsIntoProducts) {
  // One brick of (-3, 4) with weights (5, 7), trailing zeros trimmed. Patterns: ~(-3) = 2 (0b10),
  // 4 (0b100); OR 0b110 -> bits 1..2 plus the sign cycle = 3 cycles. -3 * 5 = -(2 * 5) - 5 = -15;
  // 4 * 7 = 28: the output is 13.
  const auto g = conv_geo(2, 1, 1, 1, 1);
  const SimLayer l = layer_from(g, {-3, 4}, {5, 7}, 8);
  auto grid = tiny(1, 0);
  grid["trim_trailing"] = "true";
  std::vector<int64_t> out;
  ASSERT_TRUE(make("dstripes", grid)->recompute_outputs(l, out));
  EXPECT_EQ(out, std::vector<int64_t>{13});
  EXPECT_EQ(cycles(*make("dstripes", grid), l), 3u);
}

TEST(DynamicStripes, GroupSizeMustDivideColumns) {
  Params p({{"group_size", "3"}}, "cfg.yaml: designs[0]");
  try {
    find_design("dstripes")->make(p);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "cfg.yaml: designs[0].group_size: 3 does not divide columns 16");
  }
}

}  // namespace
}  // namespace eff::sim
