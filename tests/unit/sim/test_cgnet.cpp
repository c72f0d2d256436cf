// CGNet: a constructed layer whose base partial sums are known gives known gate decisions and
// cycles; threshold -inf gives the systolic array's statistics exactly; base fraction 1 skips
// nothing; the gates file drives the same layer.
#include <limits>

#include "sim/gate_decisions.h"
#include "sim/gates_file.h"
#include "sim_test_util.h"

namespace eff::sim {
namespace {

using namespace testing;

// 1x1 conv, 4 channels, 2x2 input (4 pixels), 2 filters. Filter 0 weights (1, 1, 1, 1), filter 1
// (1, -1, 1, 1). Pixels (a0, a1, a2, a3): p0 (2, 1, 5, 5), p1 (2, -1, 5, 5), p2 (1, 3, 5, 5),
// p3 (0, 2, 5, 5). Base path = channels 0, 1 (fraction 0.5). Base partial sums (codes are the
// values, integer formats): filter 0: 3, 1, 4, 2; filter 1: 1, 3, -2, -2.
// Threshold 2.5: filter 0 on at p0, p2; filter 1 on at p1.
SimLayer known_layer() {
  const auto g = conv_geo(4, 2, 2, 2, 1);
  const std::vector<int16_t> acts = {2, 2,  1, 0,   // channel 0 at p0..p3 ([c][y][x])
                                     1, -1, 3, 2,   // channel 1
                                     5, 5,  5, 5,   // channel 2
                                     5, 5,  5, 5};  // channel 3
  const std::vector<int16_t> wgts = {1, 1, 1, 1, 1, -1, 1, 1};
  return layer_from(g, acts, wgts);
}

std::map<std::string, std::string> params(const std::string& rows, const std::string& threshold,
                                          const std::string& fraction = "0.5", const std::string& schedule = "pixel") {
  return {{"rows", rows}, {"cols", "2"}, {"threshold", threshold}, {"base_fraction", fraction}, {"schedule", schedule}};
}

TEST(CGNet, KnownPartialSumsGiveKnownDecisions) {
  EXPECT_EQ(channel_gate_decisions(known_layer(), 2, 2.5, 1),
            (std::vector<uint8_t>{1, 0, 1, 0,     // filter 0: 3 > 2.5, 1, 4 > 2.5, 2
                                  0, 1, 0, 0}));  // filter 1: 1, 3 > 2.5, -2, -2
  // The threshold compares in the float domain: with an activation step of 1/2 the sums halve.
  SimLayer halved = known_layer();
  halved.act_format.frac_bits = 1;
  EXPECT_EQ(channel_gate_decisions(halved, 2, 1.25, 1), (std::vector<uint8_t>{1, 0, 1, 0, 0, 1, 0, 0}));
  // The bias is part of the pre-activation output the threshold is in (as `effectual gate`):
  // bias (-1, 0) makes filter 0's sums 2, 0, 3, 1.
  SimLayer biased = known_layer();
  biased.bias = {-1.f, 0.f};
  EXPECT_EQ(channel_gate_decisions(biased, 2, 2.5, 1), (std::vector<uint8_t>{0, 0, 1, 0, 0, 1, 0, 0}));
}

TEST(CGNet, KnownDecisionsGiveKnownCycles) {
  // 2x2 array. Base path: 1 tap x 2 channels = one 2-row tile streaming 4 pixels:
  // max(4, 2) + 2 + 2 - 2 = 6. Conditional path: one 2-row tile. Schedule pixel: pixels with any
  // gate on in the filter tile: p0, p1, p2 -> max(3, 2) + 2 = 5. Total 2 (first load) + 6 + 5 = 13.
  // The systolic array: 4 rows -> 2 tiles of 6 -> 2 + 12 = 14.
  const SimLayer l = known_layer();
  const LayerStats s = make("cgnet", params("2", "2.5"))->simulate(l, SimContext{});
  EXPECT_EQ(s.cycles, 13u);
  EXPECT_EQ(make("systolic", {{"rows", "2"}, {"cols", "2"}})->simulate(l, SimContext{}).cycles, 14u);
  EXPECT_EQ(s.lane_cycles_busy, 16u + 3 * 2);            // base 4 px x 2 filters x 2; 3 gated-on outputs x 2
  EXPECT_EQ(s.bit_products, (16u + 3 * 2 * 2) * 64);     // pixel schedule: both columns fire for 3 pixels
  EXPECT_EQ(s.adder_tree_adds, 8u);                      // one comparison per output
  EXPECT_EQ(s.ideal_bit_products, (16u + 3 * 2) * 256);  // ideal speedup = MAC reduction 32 / 22
  // Schedule filter: each column streams its own gated-on pixels: filter 0 has 2, filter 1 has 1:
  // max(2, 2) + 2 = 4 -> 2 + 6 + 4 = 12, and only the useful products fire.
  const LayerStats f = make("cgnet", params("2", "2.5", "0.5", "filter"))->simulate(l, SimContext{});
  EXPECT_EQ(f.cycles, 12u);
  EXPECT_EQ(f.bit_products, (16u + 3 * 2) * 64);
  // Schedule packed: the 3 gated-on outputs spread over 2 columns: ceil(3 / 2) = 2 pixels' time,
  // max(2, 2) + 2 = 4 -> 12. On 1 column (cols 1) the same 3 outputs take max(3, 2) + 2 - 1 = 4.
  EXPECT_EQ(make("cgnet", params("2", "2.5", "0.5", "packed"))->simulate(l, SimContext{}).cycles, 12u);
}

TEST(CGNet, MinusInfinityIsTheSystolicArray) {
  const auto systolic = make("systolic", {{"rows", "4"}, {"cols", "2"}});
  const auto cgnet = make("cgnet", params("4", "-inf"));
  for (const SimLayer& l : {known_layer(), layer_from(conv_geo(5, 6, 7, 3, 3, 1, 1), filled(5 * 42, 3))}) {
    const LayerStats a = systolic->simulate(l, SimContext{}), b = cgnet->simulate(l, SimContext{});
    EXPECT_EQ(a.cycles, b.cycles);
    EXPECT_EQ(a.bit_products, b.bit_products);
    EXPECT_EQ(a.accumulator_updates, b.accumulator_updates);
    EXPECT_EQ(a.act_buffer_read_bits, b.act_buffer_read_bits);
    EXPECT_EQ(a.lane_cycles_busy, b.lane_cycles_busy);
  }
  // A finite threshold below every sum turns every gate on but still splits the reduction: on a
  // 4-row array the 2 base and 2 conditional rows take a tile each (2 x (4 + 4)) where the
  // ungated layer takes one: 4 + 16 = 20 vs 4 + 8 = 12.
  EXPECT_EQ(make("cgnet", params("4", "-1e30"))->simulate(known_layer(), SimContext{}).cycles, 20u);
  EXPECT_EQ(systolic->simulate(known_layer(), SimContext{}).cycles, 12u);
}

TEST(CGNet, BaseFractionOneSkipsNothing) {
  const SimLayer l = layer_from(conv_geo(6, 5, 5, 3, 3), filled(6 * 25, -4));
  const LayerStats a = make("systolic", {{"rows", "4"}, {"cols", "2"}})->simulate(l, SimContext{});
  const LayerStats b = make("cgnet", params("4", "1e30", "1"))->simulate(l, SimContext{});
  EXPECT_EQ(a.cycles, b.cycles);
  EXPECT_EQ(b.lane_cycles_busy, static_cast<uint64_t>(l.macs));
}

TEST(CGNet, FirstAndFcLayersStayDenseWithoutAGatesFile) {
  const auto cgnet = make("cgnet", params("4", "1e30"));
  const auto systolic = make("systolic", {{"rows", "4"}, {"cols", "2"}});
  const SimLayer fc = layer_from(fc_geo(12, 5), filled(12, 1));
  EXPECT_EQ(cgnet->simulate(fc, SimContext{}).cycles, systolic->simulate(fc, SimContext{}).cycles);
  const SimLayer first = layer_from(conv_geo(4, 2, 2, 2, 1), filled(16, 1), {}, 16, true);
  EXPECT_EQ(cgnet->simulate(first, SimContext{}).cycles, systolic->simulate(first, SimContext{}).cycles);
}

TEST(CGNet, GatesFileSetsTheLayer) {
  // The file's base channels and threshold replace the parameters; layers it omits run dense.
  const GatesFile gates = parse_gates(
      R"({"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0.5,
          "layers":[{"layer":"conv1","base_channels":2,"threshold":2.5}]})",
      "g.json");
  SimContext ctx;
  ctx.gates = &gates;
  const auto cgnet = make("cgnet", params("2", "-inf", "1"));  // parameters alone: ungated
  EXPECT_EQ(cgnet->simulate(known_layer(), SimContext{}).cycles, 14u);
  EXPECT_EQ(cgnet->simulate(known_layer(), ctx).cycles, 13u);
  SimLayer other = known_layer();
  other.name = "conv2";
  EXPECT_EQ(cgnet->simulate(other, ctx).cycles, 14u);
  // Per-channel thresholds: filter 0 at 2.5 (on at p0, p2), filter 1 at 0.5 (sums 1, 3, -2, -2: on at
  // p0, p1) or at 10 (never on). With filter 1 never on only p0 and p2 take the conditional tile:
  // max(2, 2) + 2 = 4 cycles instead of 5, so 2 + 6 + 4 = 12.
  EXPECT_EQ(channel_gate_decisions(known_layer(), 2, std::vector<double>{2.5, 0.5}, 1),
            (std::vector<uint8_t>{1, 0, 1, 0, 1, 1, 0, 0}));
  const GatesFile per_channel = parse_gates(
      R"({"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0.5,
          "layers":[{"layer":"conv1","base_channels":2,"thresholds":[2.5,10]}]})",
      "g.json");
  ctx.gates = &per_channel;
  EXPECT_EQ(cgnet->simulate(known_layer(), ctx).cycles, 12u);
  const GatesFile wrong_count = parse_gates(
      R"({"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0.5,
          "layers":[{"layer":"conv1","base_channels":2,"thresholds":[2.5,10,1]}]})",
      "g.json");
  ctx.gates = &wrong_count;
  EXPECT_THROW(cgnet->simulate(known_layer(), ctx), ConfigError);
  const GatesFile too_many = parse_gates(
      R"({"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0.5,
          "layers":[{"layer":"conv1","base_channels":5,"threshold":0}]})",
      "g.json");
  ctx.gates = &too_many;
  EXPECT_THROW(cgnet->simulate(known_layer(), ctx), ConfigError);
}

TEST(CGNet, FoldedFirstLayerGatesTheModelChannels) {
  // A space-to-depth layer stores 3 x 4 phases of channels; the base path is the first model
  // channel of every phase: the decisions equal those of the unfolded layer.
  const auto g = conv_geo(3, 6, 6, 2, 3, 2, 1);
  std::vector<int16_t> acts(3 * 36);
  for (size_t i = 0; i < acts.size(); ++i) acts[i] = static_cast<int16_t>((i * 7) % 11) - 5;
  std::vector<int16_t> wgts(2 * 3 * 9);
  for (size_t i = 0; i < wgts.size(); ++i) wgts[i] = static_cast<int16_t>((i * 5) % 7) - 3;
  const SimLayer folded = layer_from(g, acts, wgts, 16, true, true);
  const SimLayer plain = layer_from(g, acts, wgts, 16, true, false);
  ASSERT_TRUE(folded.space_to_depth);
  EXPECT_EQ(channel_gate_decisions(folded, 1, 0.0, 1), channel_gate_decisions(plain, 1, 0.0, 1));
  EXPECT_EQ(channel_gate_decisions(folded, 2, -3.0, 2), channel_gate_decisions(plain, 2, -3.0, 1));
}

TEST(CGNet, GroupedGatesFileGatesEachBlockOnItsOwnChannels) {
  // G = 2 on known_layer: filter 0 is block 0, filter 1 block 1.
  // shuffle: filter 0 reads channels {0, 2}: sums 7, 7, 6, 5; filter 1 reads {1, 3} with weights
  // (-1, 1): 4, 6, 2, 3. Thresholds (6.5, 3.5): filter 0 on at p0, p1; filter 1 at p0, p1.
  EXPECT_EQ(channel_gate_decisions(known_layer(), 2, std::vector<double>{6.5, 3.5}, 1, gating::Grouping::kShuffle, 2),
            (std::vector<uint8_t>{1, 1, 0, 0, 1, 1, 0, 0}));
  // contiguous: filter 0 reads {0, 1}: 3, 1, 4, 2; filter 1 reads {2, 3}: 10 at every pixel.
  EXPECT_EQ(
      channel_gate_decisions(known_layer(), 2, std::vector<double>{2.5, 2.5}, 1, gating::Grouping::kContiguous, 2),
      (std::vector<uint8_t>{1, 0, 1, 0, 1, 1, 1, 1}));
  // Cycles on the 2x2 array: a filter tile stays within a block, so each filter is its own tile
  // (one column of two used). Per block: base 2 rows x 4 pixels: max(4, 2) + 2 + 2 - 2 = 6;
  // conditional 2 rows for the 2 gated-on pixels: max(2, 2) + 2 = 4. 2 (first load) + 2 x (6 + 4) = 22.
  const GatesFile grouped = parse_gates(
      R"({"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0.5,"grouping":"shuffle",
          "layers":[{"layer":"conv1","base_channels":2,"groups":2,"thresholds":[6.5,3.5]}]})",
      "g.json");
  SimContext ctx;
  ctx.gates = &grouped;
  const auto cgnet = make("cgnet", params("2", "-inf", "1"));
  const LayerStats s = cgnet->simulate(known_layer(), ctx);
  EXPECT_EQ(s.cycles, 22u);
  EXPECT_EQ(s.lane_cycles_busy, 16u + 4 * 2);  // base 4 px x 2 filters x 2 rows; 4 gated-on outputs x 2 rows
  // groups must divide the layer's channels and filters (2 filters: 4 does not).
  const GatesFile bad = parse_gates(
      R"({"format":"effectual-gates","version":1,"kind":"channel","grouping":"shuffle",
          "layers":[{"layer":"conv1","base_channels":1,"groups":4,"threshold":0}]})",
      "g.json");
  ctx.gates = &bad;
  EXPECT_THROW(cgnet->simulate(known_layer(), ctx), ConfigError);
}

}  // namespace
}  // namespace eff::sim
