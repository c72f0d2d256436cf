// Precision gating (seed 003) on Stripes and Loom: outputs whose high-order partial sum is not
// above the threshold need only the high-order bits; a pass of the bit-serial array (window set x
// filter set, in lock-step) stops after them when all its outputs are off. Hand-computed cycles.
#include <limits>

#include "sim/gate_decisions.h"
#include "sim/gates_file.h"
#include "sim_test_util.h"

namespace eff::sim {
namespace {

using namespace testing;

// 1x1 conv, 16 channels, 4x8 input (32 windows: two window sets of 16 columns), 16 filters of
// weights 1. Windows 0-15 hold 5 in every channel (high-order part with the low 4 bits cleared:
// 0, sum 0), windows 16-31 hold 20 (high part 16, sum 256). Threshold 100: the first window set
// is all off, the second all on.
SimLayer gated_layer() {
  std::vector<int16_t> acts(16 * 32);
  for (int64_t c = 0; c < 16; ++c) {
    for (int64_t w = 0; w < 32; ++w) acts[static_cast<size_t>(c * 32 + w)] = w < 16 ? 5 : 20;
  }
  return layer_from(conv_geo(16, 4, 8, 16, 1), acts, {}, 8);
}

GatesFile gates(const std::string& threshold, const std::string& layer = "conv1", int bits = 8, int high = 4) {
  return parse_gates(R"({"format":"effectual-gates","version":1,"kind":"precision","layers":[{"layer":")" + layer +
                         R"(","bits":)" + std::to_string(bits) + R"(,"high_bits":)" + std::to_string(high) +
                         R"(,"threshold":)" + threshold + "}]}",
                     "pg.json");
}

uint64_t gated_cycles(const std::string& design, const SimLayer& l, const GatesFile& g) {
  SimContext ctx;
  ctx.gates = &g;
  return make(design)->simulate(l, ctx).cycles;
}

TEST(PrecisionGating, DecisionsUseTheHighOrderBits) {
  LayerGate gate;
  gate.bits = 8;
  gate.high_bits = 4;
  gate.threshold = 100.0;
  const std::vector<uint8_t> on = precision_gate_decisions(gated_layer(), gate, 1);
  for (int64_t k = 0; k < 16; ++k) {
    for (int64_t w = 0; w < 32; ++w) EXPECT_EQ(on[static_cast<size_t>(k * 32 + w)], w < 16 ? 0 : 1) << k << " " << w;
  }
  // Signed codes: the high-order part floors (-5 -> -16); unsigned ones saturate at 0 first.
  const SimLayer neg = layer_from(conv_geo(1, 1, 1, 1, 1), {-5}, {1}, 8);
  gate.is_signed = true;
  gate.threshold = -16.5;
  EXPECT_EQ(precision_gate_decisions(neg, gate, 1), (std::vector<uint8_t>{1}));
  gate.threshold = -16.0;
  EXPECT_EQ(precision_gate_decisions(neg, gate, 1), (std::vector<uint8_t>{0}));
  gate.is_signed = false;
  gate.threshold = -0.5;
  EXPECT_EQ(precision_gate_decisions(neg, gate, 1), (std::vector<uint8_t>{1}));
  // The gate's format: frac_bits 1 re-codes 20 as 40 = 0b0010'1000, high part 32 -> value 16.
  EXPECT_DOUBLE_EQ(high_order_part(20.0, gate), 16.0);
  gate.frac_bits = 1;
  EXPECT_DOUBLE_EQ(high_order_part(20.0, gate), 16.0);
  EXPECT_DOUBLE_EQ(high_order_part(20.4, gate), 16.0);
  gate.frac_bits = 0;
  EXPECT_DOUBLE_EQ(high_order_part(300.0, gate), 240.0);  // saturates at 255 first
}

TEST(PrecisionGating, StripesStopsAllOffPassesAfterTheHighBits) {
  // Ungated: 2 window sets x 1 step x Pa 8 = 16 cycles. Gated 8/4: the all-off window set takes
  // 8 - 4 = 4 bits, the other 8: 12 cycles.
  const SimLayer l = gated_layer();
  EXPECT_EQ(make("stripes")->simulate(l, SimContext{}).cycles, 16u);
  EXPECT_EQ(gated_cycles("stripes", l, gates("100")), 12u);
  // Potential: per output the bits its own gate needs: 256 off outputs x 4, 256 on x 8, 16 MACs
  // each, 16 bit-products per bit.
  SimContext ctx;
  const GatesFile g = gates("100");
  ctx.gates = &g;
  EXPECT_EQ(make("stripes")->simulate(l, ctx).ideal_bit_products, (256u * 4 + 256u * 8) * 16 * 16);
  // -inf, a layer the file does not list, equal bits, and a threshold below every sum: ungated.
  EXPECT_EQ(gated_cycles("stripes", l, gates("\"-inf\"")), 16u);
  EXPECT_EQ(gated_cycles("stripes", l, gates("100", "conv9")), 16u);
  EXPECT_EQ(gated_cycles("stripes", l, gates("100", "conv1", 8, 8)), 16u);
  EXPECT_EQ(gated_cycles("stripes", l, gates("-1")), 16u);
  // Above every sum: both window sets stop after 4 bits.
  EXPECT_EQ(gated_cycles("stripes", l, gates("1000")), 8u);
}

TEST(PrecisionGating, OneOnOutputKeepsThePassAtFullPrecision) {
  // Lock-step: window 3 holds 16 in channel 0 (high part 16, sum 16 > 10), every other value is
  // 5 (high part 0): that one window keeps its whole window set at 8 bits; the other takes 4.
  std::vector<int16_t> acts(16 * 32);
  for (int64_t c = 0; c < 16; ++c) {
    for (int64_t w = 0; w < 32; ++w) acts[static_cast<size_t>(c * 32 + w)] = 5;
  }
  acts[3] = 16;
  const SimLayer l = layer_from(conv_geo(16, 4, 8, 16, 1), acts, {}, 8);
  EXPECT_EQ(gated_cycles("stripes", l, gates("10")), 8u + 4u);
}

// 1x1 conv, 16 channels, 4x8 input (two window sets of 16 windows), 32 filters: Stripes
// 16-16-16 gives filters 0-15 to tile 0 and 16-31 to tile 1. Windows 0-15 hold 5 (high-order
// part 0: every sum 0), windows 16-31 hold 20 (high part 16: sums +-256). Filters 0-15 weigh +1,
// filters 16-31 weigh -1; per-filter thresholds t0 (filters 0-15) and t1 (16-31).
SimLayer two_tile_layer() {
  std::vector<int16_t> acts(16 * 32), wgts(32 * 16);
  for (int64_t c = 0; c < 16; ++c) {
    for (int64_t w = 0; w < 32; ++w) acts[static_cast<size_t>(c * 32 + w)] = w < 16 ? 5 : 20;
  }
  for (int64_t k = 0; k < 32; ++k) {
    for (int64_t c = 0; c < 16; ++c) wgts[static_cast<size_t>(k * 16 + c)] = k < 16 ? 1 : -1;
  }
  return layer_from(conv_geo(16, 4, 8, 32, 1), acts, wgts, 8);
}

GatesFile two_tile_gates(const std::string& t0, const std::string& t1) {
  std::string t;
  for (int k = 0; k < 32; ++k) t += (k ? "," : "") + (k < 16 ? t0 : t1);
  return parse_gates(R"({"format":"effectual-gates","version":1,"kind":"precision","layers":[{"layer":"conv1",)"
                     R"("bits":8,"high_bits":4,"thresholds":[)" +
                         t + "]}]}",
                     "pg.json");
}

TEST(PrecisionGating, StripesTilesStopTheirOwnPassesEarly) {
  const SimLayer l = two_tile_layer();
  SimContext ctx;
  auto run = [&](const GatesFile& g, const std::string& sync) {
    ctx.gates = &g;
    return make("stripes", {{"precision_gating", sync}})->simulate(l, ctx);
  };
  // Known decisions: t0 = 100 -> filters 0-15 on only in window set 1 (256 > 100, 0 is not);
  // t1 = -1 -> filters 16-31 on only in window set 0 (0 > -1, -256 is not).
  const GatesFile crossed = two_tile_gates("100", "-1");
  const std::vector<uint8_t> on = precision_gate_decisions(l, crossed.layers.at(0), 1);
  for (int64_t k = 0; k < 32; ++k) {
    for (int64_t w = 0; w < 32; ++w) EXPECT_EQ(on[static_cast<size_t>(k * 32 + w)], (k < 16) == (w >= 16)) << k << w;
  }
  // Ungated: 2 window sets x Pa 8 = 16 cycles. Lock-step array: both window sets have an output
  // on (in one tile or the other): 8 + 8 = 16, nothing saved. Per tile: tile 0 streams 4 bits for
  // window set 0 and 8 for set 1, tile 1 8 and 4: 12 each, the layer 12.
  EXPECT_EQ(run(crossed, "off").cycles, 16u);
  EXPECT_EQ(run(crossed, "array").cycles, 16u);
  const LayerStats tile = run(crossed, "tile");
  EXPECT_EQ(tile.cycles, 12u);
  // Every SIP (16 tiles x 16 rows x 16 columns, 16 lanes x 16 bit-products each) is clocked for
  // the layer's 12 cycles; the two tiles holding filters each read their own activations for
  // their 12 busy cycles (16 columns x 16 lanes), where the lock-step array broadcasts once.
  EXPECT_EQ(tile.bit_products, 12u * 256 * 16 * 16 * 16);
  EXPECT_EQ(tile.act_buffer_read_bits, (12u + 12u) * 16 * 16);
  EXPECT_EQ(run(crossed, "array").act_buffer_read_bits, 16u * 16 * 16);
  // Unequal tiles: t1 = 1000 turns tile 1 off everywhere (4 + 4 = 8 cycles); the layer waits for
  // tile 0 (4 + 8 = 12). The array gets the same here: window set 0 is all off in both tiles.
  const GatesFile tile1_off = two_tile_gates("100", "1000");
  EXPECT_EQ(run(tile1_off, "tile").cycles, 12u);
  EXPECT_EQ(run(tile1_off, "array").cycles, 12u);
  EXPECT_EQ(run(tile1_off, "tile").act_buffer_read_bits, (12u + 8u) * 16 * 16);
  // Everything off: 4 + 4 in each tile.
  EXPECT_EQ(run(two_tile_gates("1000", "1000"), "tile").cycles, 8u);
}

TEST(PrecisionGating, StripesSipsRunTheirOwnOutputs) {
  // gated_layer's shape with every value 5 (sums 0, off at threshold 10) except channel 0 of
  // window 3 (window set 0, column 3) and of window 20 (window set 1, column 4), which hold 16
  // (high part 16: that window on for all 16 filters). Lock-step array and per tile: each window
  // set has an output on, 8 + 8 = 16 cycles. Per SIP: the SIPs of column 3 stream 8 + 4 bits,
  // those of column 4 4 + 8, every other 4 + 4: the layer ends after 12.
  std::vector<int16_t> acts(16 * 32, 5);
  acts[3] = 16;
  acts[20] = 16;
  const SimLayer l = layer_from(conv_geo(16, 4, 8, 16, 1), acts, {}, 8);
  const GatesFile g = gates("10");
  SimContext ctx;
  ctx.gates = &g;
  auto run = [&](const std::string& sync) { return make("stripes", {{"precision_gating", sync}})->simulate(l, ctx); };
  EXPECT_EQ(run("array").cycles, 16u);
  EXPECT_EQ(run("tile").cycles, 16u);
  const LayerStats sip = run("sip");
  EXPECT_EQ(sip.cycles, 12u);
  // Each of the 16 filters' SIPs reads its own 16 lanes while busy: per row 2 x 12 + 14 x 8 = 136
  // cycles; and its own 16 x 16-bit weights once per pass (2 passes of 1 step), where the
  // lock-step array reads a row's weights once for all 16 columns (2 steps x 256 rows).
  EXPECT_EQ(sip.act_buffer_read_bits, 16u * 136 * 16);
  EXPECT_EQ(sip.wgt_buffer_read_bits, 16u * 16 * 2 * 16 * 16);
  EXPECT_EQ(run("tile").wgt_buffer_read_bits, 2u * 256 * 16 * 16);
  // Every SIP clocked for the layer; busy lanes: each output's own bits (32 on x 8, 480 off x 4)
  // x 16 MACs, the same as the potential.
  EXPECT_EQ(sip.bit_products, 12u * 256 * 16 * 16 * 16);
  EXPECT_EQ(sip.lane_cycles_busy, (32u * 8 + 480u * 4) * 16);
  EXPECT_EQ(sip.ideal_bit_products, sip.lane_cycles_busy * 16);
  // Ungated thresholds give the ungated cycles in every mode.
  const GatesFile none = gates("\"-inf\"");
  ctx.gates = &none;
  EXPECT_EQ(run("sip").cycles, 16u);
}

TEST(PrecisionGating, LoomDropsLowBitsOfAllOffPasses) {
  // Loom 1-8-16: 128 filter rows, 16 columns; one step per window set. Dynamic activation
  // widths: 5 -> 3 bits, 20 -> 5 bits; weights at 16 bits. Ungated (3 + 5) x 16 = 128 cycles.
  // Gated 8/4: the all-off window set streams max(1, 3 - 4) = 1 bit: (1 + 5) x 16 = 96.
  const SimLayer l = gated_layer();
  EXPECT_EQ(make("loom")->simulate(l, SimContext{}).cycles, 128u);
  EXPECT_EQ(gated_cycles("loom", l, gates("100")), 96u);
  EXPECT_EQ(gated_cycles("loom", l, gates("\"-inf\"")), 128u);
  EXPECT_EQ(gated_cycles("loom", l, gates("1000")), 32u);
  // Potential: per MAC width(a) x 16 weight bits; off outputs (windows 0-15) need max(1, 3 - 4) =
  // 1 bit instead of 3, on ones 5: 16 filters x 16 channels x 16 windows x (1 + 5) x 16.
  SimContext ctx;
  const GatesFile g = gates("100");
  ctx.gates = &g;
  EXPECT_EQ(make("loom")->simulate(l, ctx).ideal_bit_products, 16u * 16 * 16 * (1 + 5) * 16);
  EXPECT_EQ(make("loom")->simulate(l, SimContext{}).ideal_bit_products, 16u * 16 * 16 * (3 + 5) * 16);
  // FC: one window; the filter set's outputs all off -> every step drops the low bits.
  const SimLayer fc = layer_from(fc_geo(16, 8), filled(16, 20), {}, 8);
  EXPECT_LT(gated_cycles("loom", fc, gates("1e9", "fc1")), make("loom")->simulate(fc, SimContext{}).cycles);
  // Stripes FC: one step on one column, Pa 8 -> 4 cycles.
  EXPECT_EQ(make("stripes")->simulate(fc, SimContext{}).cycles, 8u);
  EXPECT_EQ(gated_cycles("stripes", fc, gates("1e9", "fc1")), 4u);
}

}  // namespace
}  // namespace eff::sim
