// Energy = events x energy per event + leakage x time. DaDianNao's power against seed 001 Table 1
// (17.6 W, within 15%), a hand-computed small case, monotonicity in every event count, and the
// energy columns of a run (DaDianNao vs itself is 1x; totals are sums of the layers).
#include <gtest/gtest.h>

#include "sim/cost/energy.h"
#include "sim/simulator.h"
#include "sim_test_util.h"

namespace eff::sim::cost {
namespace {

using namespace eff::sim::testing;

const Technology& tech() {
  static const Technology t = load_technology("");
  return t;
}

TEST(CostEnergy, DaDianNaoPowerWithinFifteenPercentOfSeed) {
  // A layer that fills the 16-16-16 grid: 256 channels (16 chunks of 16 lanes), 256 filters (one
  // filter set), 3x3 kernel, 12x12 windows. Power = energy / (cycles / 980 MHz). Its 1.2 MB of
  // weights stay resident; their one load (about the compute time of one image) is amortised
  // over a batch of 16 images, as the seed's power is the chip's while it computes.
  const auto g = conv_geo(256, 14, 14, 256, 3);
  SimLayer l = layer_from(g, pseudo_random(256 * 14 * 14, 0, 2000, 7));
  const DesignSet set = build_designs("dadiannao", "", "");
  SimRun run(set, SimContext{});
  for (int image = 0; image < 16; ++image) {
    l.image = image;
    run.simulate(l);
  }
  const SimResults r = run.results();
  const double watts = r.power_w(r.all[0]);
  EXPECT_NEAR(watts / 17.6, 1.0, 0.15) << watts << " W";
  EXPECT_DOUBLE_EQ(r.all[0].energy_efficiency(), 1.0);
  EXPECT_DOUBLE_EQ(r.relative_area(0), 1.0);
}

TEST(CostEnergy, SmallCaseByHand) {
  // DaDianNao 1-1-2 with 1 KiB memories; 10 cycles, 3 multiplies' worth of bit products, etc.
  const auto d =
      make("dadiannao", {{"tiles", "1"}, {"rows", "1"}, {"lanes", "2"}, {"am_kib", "1"}, {"wm_kib_per_tile", "1"}});
  const Inventory inv = d->inventory();
  const CostModel m(inv, tech());
  LayerStats s;
  s.cycles = 10;
  s.bit_products = 3 * 256;
  s.adder_tree_adds = 5;
  s.accumulator_updates = 7;
  s.act_buffer_read_bits = 320;
  s.wgt_buffer_read_bits = 640;
  s.offchip_act_bytes = 100;
  s.offchip_wgt_bytes = 28;
  s.act_buffer_write_bits = 48;
  s.wgt_buffer_write_bits = 224;
  const EnergyBreakdown e = m.energy(s);
  const Technology& t = tech();
  EXPECT_NEAR(e.datapath, 3 * t["energy_pj.multiplier_16x16_op"], 1e-9);
  EXPECT_NEAR(e.adder_trees, 5 * 32 * t["energy_pj.adder_bit"], 1e-9);  // a 2-input tree: one 32-bit add
  EXPECT_NEAR(e.accumulators, 7 * 32 * (t["energy_pj.adder_bit"] + t["energy_pj.register_bit_write"]), 1e-9);
  EXPECT_NEAR(e.shifters, 0, 1e-12);
  EXPECT_NEAR(e.clock, 10 * (64 + 32) * t["energy_pj.register_bit_clock"], 1e-9);  // 96 register bits
  EXPECT_NEAR(e.act_memory, 320 * t["memory.edram_read_pj_per_bit"] + 48 * t["memory.edram_write_pj_per_bit"], 1e-9);
  EXPECT_NEAR(e.wgt_memory, 640 * t["memory.edram_read_pj_per_bit"] + 224 * t["memory.edram_write_pj_per_bit"], 1e-9);
  EXPECT_NEAR(e.offchip, 128 * 8 * t["offchip.pj_per_bit"], 1e-9);
  const AreaBreakdown& a = m.area();
  const double mw = a.logic_mm2 * t["leakage_mw_per_mm2.logic"] + a.edram_mm2 * t["leakage_mw_per_mm2.edram"] +
                    (a.sram_mm2 + a.offchip_mm2) * t["leakage_mw_per_mm2.sram"];
  EXPECT_NEAR(e.leakage, mw * 1e-3 * 10 / 980e6 * 1e12, 1e-6);
  double sum = 0;
  for (const auto& [name, field] : energy_fields()) sum += e.*field;
  EXPECT_DOUBLE_EQ(e.total(), sum);
}

TEST(CostEnergy, NeverDecreasesWhenAnEventCountGrows) {
  uint64_t LayerStats::*const counts[] = {&LayerStats::cycles,
                                          &LayerStats::bit_products,
                                          &LayerStats::adder_tree_adds,
                                          &LayerStats::shifter_ops,
                                          &LayerStats::accumulator_updates,
                                          &LayerStats::act_buffer_read_bits,
                                          &LayerStats::wgt_buffer_read_bits,
                                          &LayerStats::offchip_act_bytes,
                                          &LayerStats::offchip_wgt_bytes,
                                          &LayerStats::act_buffer_write_bits,
                                          &LayerStats::wgt_buffer_write_bits};
  const DesignSet set = build_designs("all", "", "");
  for (const DesignInstance& d : set.designs) {
    const CostModel m(d.design->inventory(), tech());
    LayerStats base;
    for (auto f : counts) base.*f = 1000;
    const double e0 = m.energy(base).total();
    for (auto f : counts) {
      LayerStats more = base;
      more.*f += 1000;
      const EnergyBreakdown e1 = m.energy(more);
      EXPECT_GE(e1.total(), e0) << d.label;
      for (const auto& [name, field] : energy_fields()) EXPECT_GE(e1.*field, m.energy(base).*field) << d.label << name;
    }
  }
}

TEST(CostEnergy, RunTotalsAreSumsOfLayersAndBaselineIsSelf) {
  const DesignSet set = build_designs("dadiannao,stripes", "", "");
  SimRun run(set, SimContext{});
  run.simulate(layer_from(conv_geo(32, 8, 8, 32, 3, 1, 1, 1, 1), pseudo_random(32 * 64, 0, 255, 3)));
  run.simulate(layer_from(fc_geo(64, 16, 2), pseudo_random(64, 0, 255, 4)));
  const SimResults r = run.results();
  for (size_t d = 0; d < r.designs.size(); ++d) {
    double sum = 0, base = 0;
    for (const LayerRecord& rec : r.records) {
      if (rec.design != static_cast<int>(d)) continue;
      sum += rec.energy.total();
      base += rec.baseline_energy.total();
    }
    EXPECT_NEAR(r.all[d].energy.total(), sum, 1e-6 * sum);
    EXPECT_NEAR(r.all[d].baseline_energy.total(), base, 1e-6 * base);
    EXPECT_GT(r.power_w(r.all[d]), 0);
  }
  EXPECT_DOUBLE_EQ(r.all[0].energy_efficiency(), 1.0);  // DaDianNao against itself
}

TEST(CostEnergy, OutputWritesAndTheOneWeightLoadAreCharged) {
  // One conv layer (8 channels, 6x6 input, 4 filters of 3x3: 4x4 windows) over 3 images. Every
  // output is written into the activation memory: 4 x 16 outputs x 16 bits (DaDianNao), x 20 bits
  // (Cnvlutin's value + 4-bit offset). The 288 weights (576 bytes at 16 bits) fit on chip: they
  // are loaded once for the run, split 192/192/192 bytes over the images, each byte also written
  // into the weight memory; the load's ceil(576 / (51.2e9 / 980e6)) = 12 cycles split 4/4/4.
  const DesignSet set = build_designs("dadiannao,cnvlutin", "", "");
  SimRun run(set, SimContext{});
  for (int image = 0; image < 3; ++image) {
    SimLayer l = layer_from(conv_geo(8, 6, 6, 4, 3), pseudo_random(8 * 36, 0, 255, 5 + image));
    l.image = image;
    run.simulate(l);
  }
  const SimResults r = run.results();
  const Technology& t = tech();
  const CostModel dadn(set.designs[0].design->inventory(), t);
  ASSERT_EQ(r.records.size(), 6u);
  for (const LayerRecord& rec : r.records) {
    EXPECT_EQ(rec.stats.act_buffer_write_bits, rec.design == 0 ? 4u * 16 * 16 : 4u * 16 * 20);
    EXPECT_EQ(rec.stats.offchip_wgt_bytes, 192u);
    EXPECT_EQ(rec.stats.wgt_buffer_write_bits, 8u * 192);
    EXPECT_EQ(rec.memory_stall_cycles, 4u);
    EXPECT_EQ(rec.baseline_stats.offchip_wgt_bytes, 192u);
    if (rec.design != 0) continue;
    // DaDianNao's weight memory: its reads plus the 1536 bits written; off-chip: its share.
    EXPECT_NEAR(rec.energy.wgt_memory,
                double(rec.stats.wgt_buffer_read_bits) * t["memory.edram_read_pj_per_bit"] +
                    1536 * t["memory.edram_write_pj_per_bit"],
                1e-6);
    EXPECT_NEAR(rec.energy.offchip, double(rec.stats.offchip_act_bytes + 192) * 8 * t["offchip.pj_per_bit"], 1e-6);
    EXPECT_NEAR(rec.energy.leakage, dadn.energy(rec.stats).leakage + dadn.idle_energy(4).leakage, 1e-6);
  }
  EXPECT_EQ(r.all[0].stats.offchip_wgt_bytes, 576u);  // the run loads the weights once
}

}  // namespace
}  // namespace eff::sim::cost
