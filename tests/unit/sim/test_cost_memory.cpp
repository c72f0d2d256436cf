// The memory timeline (src/sim/cost/memory.h): hand-computed stalls for resident, prefetched,
// serialised and streamed weights and streamed activations, and Proteus packing in a run.
#include <gtest/gtest.h>

#include <cmath>

#include "sim/cost/dram.h"
#include "sim/cost/memory.h"
#include "sim/simulator.h"
#include "sim_test_util.h"

namespace eff::sim::cost {
namespace {

using namespace eff::sim::testing;

// 10 bytes per cycle, 1000-byte weight memory, 10^6-byte activation memory.
const MemoryConfig kMem{1000, 1e6, 10};

TEST(CostMemory, ResidentWeightsLoadOnceAmortisedOverTheBatch) {
  // 900 bytes fit the 1000-byte weight memory: one load before the run, 40 + 50 cycles. One
  // image bears it all; over 3 images layer 0's 40 cycles split 13/13/14 and its 400 bytes
  // 133/133/134 (the shares sum to the one load).
  const std::vector<LayerTraffic> layers{{100, 400, 0, 0, 1}, {100, 500, 0, 0, 1}};
  const auto one = memory_timeline(layers, kMem);
  EXPECT_TRUE(one[0].weights_resident);
  EXPECT_EQ(one[0].stall_cycles, 40u);
  EXPECT_EQ(one[1].stall_cycles, 50u);
  EXPECT_EQ(one[1].weight_bytes_loaded, 500u);
  const uint64_t cycles[] = {13, 13, 14}, bytes[] = {133, 133, 134};
  for (int image = 0; image < 3; ++image) {
    const auto r = memory_timeline(layers, kMem, image, 3);
    EXPECT_EQ(r[0].stall_cycles, cycles[image]);
    EXPECT_EQ(r[0].weight_bytes_loaded, bytes[image]);
  }
}

TEST(CostMemory, LoadsOverlapThePreviousLayerWhenBothFit) {
  // Network 1200 bytes > 1000: not resident. Layer 0 (600 B): load 60 cycles before it starts:
  // stall 60, runs [60, 160). Layer 1 (300 B): 600 + 300 fit together, its load starts with
  // layer 0 at 60 once the link is free (60), ends at 90 < 160: no stall, runs [160, 260).
  // Layer 2 (300 B): 300 + 300 fit; load from max(160, link free 90) to 190: no stall, [260, 360).
  const auto r = memory_timeline({{100, 600, 0, 0, 1}, {100, 300, 0, 0, 1}, {100, 300, 0, 0, 1}}, kMem, 1, 4);
  EXPECT_FALSE(r[0].weights_resident);
  EXPECT_EQ(r[1].weight_bytes_loaded, 300u);  // not resident: every image loads its weights
  EXPECT_EQ(r[0].stall_cycles, 60u);
  EXPECT_EQ(r[1].stall_cycles, 0u);
  EXPECT_EQ(r[2].stall_cycles, 0u);
}

TEST(CostMemory, LoadsWaitWhenTheyDoNotFitTogether) {
  // 600 + 600 > 1000: layer 1 loads only after layer 0 ends (160): 60 cycles, stall 60.
  const auto r = memory_timeline({{100, 600, 0, 0, 1}, {100, 600, 0, 0, 1}}, kMem);
  EXPECT_EQ(r[0].stall_cycles, 60u);
  EXPECT_EQ(r[1].stall_cycles, 60u);
}

TEST(CostMemory, LargeWeightsStreamPerFilterSet) {
  // 4000 bytes > 1000: streamed in 4 steps of 1000 bytes (100 cycles each) with 10 compute cycles
  // per step: first load 100, then 3 x max(100, 10) + 10 = 310. Total 410 for 40 compute: stall 370.
  const auto r = memory_timeline({{40, 4000, 0, 0, 4}}, kMem);
  EXPECT_TRUE(r[0].weights_streamed);
  EXPECT_EQ(r[0].stall_cycles, 370u);
  // Compute-bound streaming: 4 steps of 1000 cycles each hide the 100-cycle loads: only the first.
  const auto c = memory_timeline({{4000, 4000, 0, 0, 4}}, kMem);
  EXPECT_EQ(c[0].stall_cycles, 100u);
}

TEST(CostMemory, ActivationsThatDoNotFitStream) {
  // 2 MB in + out with a 1 MB activation memory: the layer takes at least 2e6 / 10 cycles, plus
  // the one load of its 100 bytes of resident weights (10 cycles).
  const auto r = memory_timeline({{1000, 100, 1500000, 500000, 1}}, kMem);
  EXPECT_TRUE(r[0].acts_streamed);
  EXPECT_EQ(r[0].stall_cycles, 200000u - 1000u + 10u);
}

TEST(CostMemory, StallsNeverNegativeAndPackingSavesBytes) {
  // A run with per-layer precision 8 bits: the packed footprint is half of 16 bits.
  const DesignSet set = build_designs("dadiannao,stripes", "", "");
  SimRun run(set, SimContext{});
  run.simulate(layer_from(conv_geo(32, 8, 8, 32, 3, 1, 1, 1, 1), pseudo_random(32 * 64, 0, 127, 3), {}, 8));
  run.simulate(layer_from(fc_geo(4096, 4096, 2), pseudo_random(4096, 0, 127, 4), {}, 8));
  const SimResults r = run.results();
  for (size_t d = 0; d < r.designs.size(); ++d) {
    const Totals& t = r.all[d];
    EXPECT_GE(t.speedup_with_memory(), 0.0);
    EXPECT_LT(t.footprint_packed_bytes, t.footprint_16bit_bytes);
    EXPECT_GT(t.packing_saving_pj, 0.0);
  }
  // The 4096x4096 FC layer (32 MiB of 16-bit weights) exceeds DaDianNao's 32 MiB weight memory
  // with the conv layer: it waits for its weights.
  EXPECT_GT(r.fc[0].memory_stall_cycles, 0u);
}

TEST(CostMemory, InputMajorFcWeightsStreamInShortRuns) {
  // A 4096x4096 FC layer on a DaDianNao 16-8-16 with a 1 MiB weight memory (16 x 64 KiB): its
  // 32 MiB of 16-bit weights stream in 4096 / 128 = 32 filter-set steps of 1 MiB. Stored
  // input-major ([Ni][Nf], MatMul), a step reads 128 filters x 2 bytes = 256 contiguous bytes per
  // input: per channel 128-byte runs, 2 bursts (8 clocks) under the 8.5-clock activation limit,
  // 4096 runs = 34816 + 66 clocks. Filter-major the step is one stream: 8192 bursts x 4 + 66.
  const DesignSet set =
      build_designs("", "designs:\n  - design: dadiannao\n    rows: 8\n    wm_kib_per_tile: 64\n", "c.yaml");
  const DramTiming dram = load_dram(std::string(EFF_SOURCE_DIR) + "/configs/memory/ddr4-3200.yaml");
  auto run_fc = [&](bool input_major) {
    SimRun run(set, SimContext{});
    run.set_dram(dram);
    SimLayer l = layer_from(fc_geo(4096, 4096, 0), pseudo_random(4096, 0, 127, 4));
    l.wgts_input_major_offchip = input_major;
    run.simulate(l);
    return run.results().records.at(0);
  };
  const LayerRecord in = run_fc(true), fm = run_fc(false);
  EXPECT_EQ(in.weight_run_bytes, 256u);
  EXPECT_EQ(fm.weight_run_bytes, 0u);
  ASSERT_EQ(in.stats.cycles, 8192u);  // 32 steps of 4096 / 16 = 256 cycles: load-bound
  auto cycles = [](double clocks) { return std::ceil(clocks * 0.625 * 7800.0 / 7450.0 * 0.98); };  // 980 MHz
  const double load_in = cycles(4096 * 8.5 + 66), load_fm = cycles(8192 * 4 + 66);
  // Load-bound double buffering: 32 loads + the last step's 256 cycles, minus the 8192 compute.
  EXPECT_EQ(double(in.memory_stall_cycles), 32 * load_in + 256 - 8192);
  EXPECT_EQ(double(fm.memory_stall_cycles), 32 * load_fm + 256 - 8192);
  // DRAM energy: the same bursts and bits; 32 steps x 2 channels x (4096 - 64) more rows.
  EXPECT_NEAR(in.energy.offchip - fm.energy.offchip, 32 * 2 * (4096 - 64) * dram.activate_pj(), 1e-3);
  EXPECT_NEAR(in.baseline_energy.offchip, in.energy.offchip, 1e-6);  // DaDianNao against itself
}

}  // namespace
}  // namespace eff::sim::cost
