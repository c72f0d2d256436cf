// Stripes: seed 001 Figure 6 (bit-serial inner products), per-layer precision, equal
// throughput at 16 bits, FC column rotation, and the Dynamic Stripes invariant partner.
#include "sim_test_util.h"

namespace eff::sim {
namespace {

using namespace testing;

TEST(Stripes, Figure6BitSerialInnerProduct) {
  // Figure 6a: A = (1, 0), B = (1, 3), A.B = 1*1 + 0*3 = 1 in one bit-parallel cycle. 6b: A
  // bit-serially over its 2 bits: cycle 0 ANDs bits (1, 0) with B -> 1, cycle 1 bits (0, 0) -> 0.
  // 6c: a second pair A' = (2, 1) shares B in a second column: A'.B = 2 + 3 = 5.
  // Two windows (1x2 input, 1x1 kernel, 2 channels), one filter, 2 lanes, 2 columns.
  const auto g = conv_geo(2, 1, 2, 1, 1);
  const std::vector<int16_t> acts = {1, 2, 0, 1};  // [c][y][x]: A = (1, 0) at x=0, A' = (2, 1) at x=1
  const std::vector<int16_t> wgts = {1, 3};
  const std::map<std::string, std::string> grid = {{"tiles", "1"}, {"rows", "1"}, {"lanes", "2"}, {"columns", "2"}};
  const SimLayer two_bits = layer_from(g, acts, wgts, 2);
  std::vector<int64_t> out;
  ASSERT_TRUE(make("stripes", grid)->recompute_outputs(two_bits, out));
  EXPECT_EQ(out, (std::vector<int64_t>{1, 5}));
  // Both windows at once in 2 cycles; DaDianNao (1 column) needs one cycle per window: equal.
  EXPECT_EQ(cycles(*make("stripes", grid), two_bits), 2u);
  EXPECT_EQ(cycles(*make("dadiannao", {{"tiles", "1"}, {"rows", "1"}, {"lanes", "2"}}), two_bits), 2u);
  // Figure 6b's point: if the layer needs 1 bit, one cycle suffices (best case, 2x).
  const std::vector<int16_t> one_bit_acts = {1, 1, 0, 1};
  EXPECT_EQ(cycles(*make("stripes", grid), layer_from(g, one_bit_acts, wgts, 1)), 1u);
}

TEST(Stripes, FiveBitActivationsTakeFiveCyclesPerStep) {
  // 32 windows (4x8 input, 1x1 kernel) = 2 window sets of 16 columns; 16 channels: 1 step;
  // 16 filters: 1 filter set. Stripes: 2 * 1 * 5 = 10 cycles; DaDianNao: 32. Speedup 16/5.
  const auto g = conv_geo(16, 4, 8, 16, 1);
  const SimLayer l = layer_from(g, filled(16 * 32, 7), {}, 5);
  EXPECT_EQ(cycles(*make("stripes"), l), 10u);
  EXPECT_EQ(cycles(*make("dadiannao"), l), 32u);
  const LayerStats s = make("stripes")->simulate(l, SimContext{});
  EXPECT_EQ(s.ideal_bit_products, static_cast<uint64_t>(g.macs) * 5 * 16);  // potential 16/5
}

TEST(Stripes, SixteenBitsEqualsDaDianNaoThroughput) {
  // Window count a multiple of 16 (6x8 = 48 windows): at 16 bits Stripes = DaDianNao, with
  // lane remainders (C = 20) and partial filter sets (F = 300).
  const auto g = conv_geo(20, 8, 8, 300, 3);     // 6x6 = 36 windows -> not a multiple of 16
  const auto g48 = conv_geo(20, 8, 10, 300, 3);  // 6x8 = 48 windows
  EXPECT_EQ(cycles(*make("stripes"), layer_from(g48, filled(20 * 80, 1), {}, 16)),
            cycles(*make("dadiannao"), layer_from(g48, filled(20 * 80, 1), {}, 16)));
  // 36 windows need 3 window sets (the last has 4 of 16 columns busy): 3*16 = 48 cycles per step
  // where DaDianNao needs 36 -- partial window sets cost Stripes, as in the hardware.
  const SimLayer l = layer_from(g, filled(20 * 64, 1), {}, 16);
  EXPECT_EQ(cycles(*make("stripes"), l) * 36, cycles(*make("dadiannao"), l) * 48);
}

TEST(Stripes, FcStepsRotateOverColumns) {
  // 64 inputs -> 4 chunks, 256 outputs -> 1 filter set: 4 steps of Pa = 9 on 16 columns,
  // dispatched one per cycle: column i ends at i + 9 -> 3 + 9 = 12 cycles. DaDianNao: 4.
  const SimLayer l = layer_from(fc_geo(64, 256), filled(64, 3), {}, 9);
  EXPECT_EQ(cycles(*make("stripes"), l), 12u);
  EXPECT_EQ(cycles(*make("dadiannao"), l), 4u);
  // 2 columns: steps 0,1 start at 0,1 and end at 9,10; step 2 waits for column 0 (9) -> ends 18;
  // step 3 waits for column 1 (10) -> starts max(10, 10) -> ends 19.
  EXPECT_EQ(cycles(*make("stripes", {{"columns", "2"}}), l), 19u);
}

TEST(Stripes, BitSerialRecomputeMatchesDirectConvolutionForSignedValues) {
  // Signed activations at 6 bits (-32..31): the top bit weighs -32.
  const auto g = conv_geo(5, 4, 5, 3, 3, 1, 1);
  const auto a = pseudo_random(5 * 20, -32, 31, 11);
  const auto w = pseudo_random(weight_count(g), -9, 9, 12);
  std::vector<int64_t> out;
  ASSERT_TRUE(make("stripes", {{"lanes", "4"}, {"rows", "2"}, {"tiles", "1"}, {"columns", "3"}})
                  ->recompute_outputs(layer_from(g, a, w, 6), out));
  EXPECT_EQ(out, direct_conv(g, a, w));
}

}  // namespace
}  // namespace eff::sim

namespace eff::sim {
namespace {

using namespace testing;

TEST(Stripes, Table2AlexNetProfileIdealSpeedup) {
  // Seed 001 Table 2: AlexNet conv precisions 9-8-5-5-7, "ideal speedup" 2.38. With Caffe
  // AlexNet's conv MACs (105.4 M, 223.9 M, 149.5 M, 112.1 M, 74.8 M; conv2/4/5 in two groups)
  // the MAC-weighted ideal is 665.7 / (948.6 + 1791.2 + 747.5 + 560.5 + 523.6) * 16 = 2.33: the
  // seed's 2.38 is not reproduced exactly by a MAC-weighted mean (listed as a disagreement).
  const LayerGeometry net[] = {conv_geo(3, 227, 227, 96, 11, 4, 0, 1, 0), conv_geo(96, 27, 27, 256, 5, 1, 2, 2, 1),
                               conv_geo(256, 13, 13, 384, 3, 1, 1, 1, 2), conv_geo(384, 13, 13, 384, 3, 1, 1, 2, 3),
                               conv_geo(384, 13, 13, 256, 3, 1, 1, 2, 4)};
  const int profile[] = {9, 8, 5, 5, 7};
  uint64_t macs = 0, ideal = 0, cycles_stripes = 0, cycles_dadn = 0;
  for (int i = 0; i < 5; ++i) {
    const SimLayer l = layer_from(net[i], filled(net[i].Ni * net[i].Ny * net[i].Nx, 1), {}, profile[i], i == 0);
    const LayerStats s = make("stripes")->simulate(l, SimContext{});
    macs += s.macs;
    ideal += s.ideal_bit_products;
    cycles_stripes += s.cycles;
    cycles_dadn += cycles(*make("dadiannao"), l);
  }
  EXPECT_NEAR(double(macs) * 256 / double(ideal), 2.33, 0.01);
  // Cycle-accurate, by hand (windows, steps = Kx*Ky*chunks, groups, filter sets; Stripes: window
  // sets of 16 times Pa):
  //   conv1 folded (48 ch, 3x3): DaDN 3025*27 = 81675;        Stripes 190*27*9 = 46170
  //   conv2 (2 groups of 48 ch):  DaDN 729*75*2 = 109350;      Stripes 46*75*2*8 = 55200
  //   conv3 (256 ch, 2 f-sets):   DaDN 169*144*2 = 48672;      Stripes 11*144*2*5 = 15840
  //   conv4 (2 groups of 192):    DaDN 169*108*2 = 36504;      Stripes 11*108*2*5 = 11880
  //   conv5 (2 groups of 192):    DaDN 169*108*2 = 36504;      Stripes 11*108*2*7 = 16632
  // Totals 312705 / 145722 = 2.15x: below the MAC-weighted 2.33 because cycles weigh layers by
  // DaDianNao's utilisation (conv2 fills half the rows), not by MACs.
  EXPECT_EQ(cycles_dadn, 312705u);
  EXPECT_EQ(cycles_stripes, 145722u);
}

}  // namespace
}  // namespace eff::sim
