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
  // filter set), 3x3 kernel, 12x12 windows. Power = energy / (cycles / 980 MHz).
  const auto g = conv_geo(256, 14, 14, 256, 3);
  const SimLayer l = layer_from(g, pseudo_random(256 * 14 * 14, 0, 2000, 7));
  const DesignSet set = build_designs("dadiannao", "", "");
  SimRun run(set, SimContext{});
  run.simulate(l);
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
  const EnergyBreakdown e = m.energy(s);
  const Technology& t = tech();
  EXPECT_NEAR(e.datapath, 3 * t["energy_pj.multiplier_16x16_op"], 1e-9);
  EXPECT_NEAR(e.adder_trees, 5 * 32 * t["energy_pj.adder_bit"], 1e-9);  // a 2-input tree: one 32-bit add
  EXPECT_NEAR(e.accumulators, 7 * 32 * (t["energy_pj.adder_bit"] + t["energy_pj.register_bit_write"]), 1e-9);
  EXPECT_NEAR(e.shifters, 0, 1e-12);
  EXPECT_NEAR(e.clock, 10 * (64 + 32) * t["energy_pj.register_bit_clock"], 1e-9);  // 96 register bits
  EXPECT_NEAR(e.act_memory, 320 * t["memory.edram_read_pj_per_bit"], 1e-9);
  EXPECT_NEAR(e.wgt_memory, 640 * t["memory.edram_read_pj_per_bit"], 1e-9);
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
                                          &LayerStats::offchip_wgt_bytes};
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

}  // namespace
}  // namespace eff::sim::cost
