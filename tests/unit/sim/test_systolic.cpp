// Weight-stationary systolic array: tiling of the reduction onto rows and filters onto columns,
// fill/drain per tile, the first weight load, and the events, all worked out by hand.
#include "sim/systolic/array.h"
#include "sim_test_util.h"

namespace eff::sim {
namespace {

using namespace testing;

const std::map<std::string, std::string> kArray4x2 = {{"rows", "4"}, {"cols", "2"}};

TEST(Systolic, ConvTilesReductionAndFiltersWithFillAndDrain) {
  // 5 channels, 4x4 input, 3 filters, 3x3 kernel: 2x2 = 4 pixels. Reduction 9 x 5 = 45 rows on a
  // 4-row array: 12 tiles (11 full, 1 of one row); 3 filters on 2 columns: 2 tiles (2 + 1).
  // A tile streams max(4 pixels, 4 rows) = 4 cycles, then the skew 4 + 2 - 2 = 4: 8 cycles.
  // 24 tiles x 8 + the first weight load (4) = 196.
  const auto g = conv_geo(5, 4, 4, 3, 3);
  const SimLayer l = layer_from(g, filled(5 * 16, 1));
  const LayerStats s = make("systolic", kArray4x2)->simulate(l, SimContext{});
  EXPECT_EQ(s.cycles, 196u);
  EXPECT_EQ(s.macs, 540u);  // 4 pixels x 3 filters x 45
  EXPECT_EQ(s.lane_cycles_busy, 540u);
  EXPECT_EQ(s.lane_cycles_total, 196u * 8);
  EXPECT_EQ(s.bit_products, 540u * 64);                 // every fired PE is a real MAC, 8x8 bits
  EXPECT_EQ(s.act_buffer_read_bits, 4u * 45 * 2 * 8);   // every pixel row, once per filter tile
  EXPECT_EQ(s.wgt_buffer_read_bits, 45u * 3 * 8);       // every weight loaded once
  EXPECT_EQ(s.accumulator_updates, 540u + 12 * 4 * 3);  // PE adds + output accumulators per tile
  EXPECT_EQ(s.ideal_bit_products, 540u * 256);          // no value property: ideal speedup 1
  EXPECT_EQ(s.adder_tree_adds, 0u);
  EXPECT_EQ(s.offchip_act_bytes, 80u);  // 80 activations at 8 bits
  EXPECT_EQ(s.offchip_wgt_bytes, 135u);
}

TEST(Systolic, ManyPixelsStreamOnePerCycle) {
  // 6x6 input, 3x3 kernel: 16 pixels; 1 channel, 1 filter: reduction 9 rows -> 3 tiles (4, 4, 1).
  // A tile: 16 + 4 + 2 - 2 = 20 cycles; 3 x 20 + 4 = 64.
  const SimLayer l = layer_from(conv_geo(1, 6, 6, 1, 3), filled(36, 2));
  EXPECT_EQ(make("systolic", kArray4x2)->simulate(l, SimContext{}).cycles, 64u);
}

TEST(Systolic, FcIsOnePixel) {
  // 10 inputs -> 3 tiles of rows, 5 outputs -> 3 tiles of columns; one pixel streams max(1, 4) =
  // 4 cycles, + 4 of skew: 8 per tile. 9 x 8 + 4 = 76: weight-stationary at batch 1.
  const SimLayer l = layer_from(fc_geo(10, 5), filled(10, 1));
  EXPECT_EQ(make("systolic", kArray4x2)->simulate(l, SimContext{}).cycles, 76u);
}

TEST(Systolic, FirstLayerMapsTheModelKernel) {
  // A space-to-depth first layer (3 channels, stride 2, 3x3) is mapped with its model kernel:
  // 27 reduction rows -> 7 tiles; values and re-layout do not change the cycles.
  const auto g = conv_geo(3, 8, 8, 2, 3, 2, 1);  // 4x4 = 16 pixels, 2 filters: one column tile
  const SimLayer folded = layer_from(g, filled(3 * 64, 1), {}, 16, true, true);
  const SimLayer plain = layer_from(g, filled(3 * 64, 1), {}, 16, true, false);
  ASSERT_TRUE(folded.space_to_depth);
  const auto d = make("systolic", kArray4x2);
  EXPECT_EQ(d->simulate(folded, SimContext{}).cycles, 7u * 20 + 4);
  EXPECT_EQ(d->simulate(plain, SimContext{}).cycles, 7u * 20 + 4);
}

TEST(Systolic, ComparedWithADaDianNaoOfAsManyMultipliers) {
  const auto d = make("systolic", {{"rows", "8"}, {"cols", "16"}});
  EXPECT_EQ(d->grid(), (Grid{1, 16, 8, 1}));
  // 8x8 multipliers cost a quarter of a 16x16 in the inventory.
  EXPECT_DOUBLE_EQ(d->inventory().count_of(cost::Part::kMultiplier16), 8.0 * 16 / 4);
}

}  // namespace
}  // namespace eff::sim
