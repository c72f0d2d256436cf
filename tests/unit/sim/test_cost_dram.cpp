// DDR4 timing (src/sim/cost/dram.h): the shipped table parses to the JEDEC DDR4-3200AA numbers,
// bad tables name the key, and hand-computed transfer times: streaming reaches ~95% of the peak
// (refresh), runs of one burst per row are slower by tFAW / 4 over the burst time, and the
// memory timeline uses the DRAM time when --dram is given.
#include <gtest/gtest.h>

#include "core/error.h"
#include "sim/cost/dram.h"
#include "sim/cost/memory.h"

namespace eff::sim::cost {
namespace {

const DramTiming& ddr4() {
  static const DramTiming d = load_dram(std::string(EFF_SOURCE_DIR) + "/configs/memory/ddr4-3200.yaml");
  return d;
}

// ns for DRAM clocks, with refresh: x tREFI / (tREFI - tRFC) = 7800 / 7450.
double ns(double clocks) {
  return clocks * 0.625 * 7800.0 / 7450.0;
}

TEST(CostDram, ShippedTableIsDdr4_3200AA) {
  const DramTiming& d = ddr4();
  EXPECT_DOUBLE_EQ(d.tck_ns(), 0.625);
  EXPECT_DOUBLE_EQ(d.burst_bytes(), 64);
  EXPECT_DOUBLE_EQ(d.peak_bytes_per_ns(), 51.2);  // the technology table's 51.2 GB/s
  EXPECT_DOUBLE_EQ(d.activate_clocks(), 8.5);     // tFAW / 4 = 34 / 4 (tRRD_S 4, tRC / banks 4.625)
}

TEST(CostDram, StreamingReachesNearPeak) {
  // 1 MiB in one stream: each channel 512 KiB = 8192 bursts x 4 clocks = 32768 (its 64 row
  // misses, 64 x 8.5, hide under them), + one first access tRP + tRCD + tCL = 66 clocks.
  const double t = dram_transfer_ns(ddr4(), 1 << 20);
  EXPECT_NEAR(t, ns(32768 + 66), 1e-6);
  const double peak = double(1 << 20) / 51.2;
  EXPECT_GT(peak / t, 0.95);
  EXPECT_LT(peak / t, 7450.0 / 7800.0);  // never above the refresh-limited peak
}

TEST(CostDram, RowMissHeavyPatternIsSlowerByTheActivationLimit) {
  // 64-byte runs each in a new row: one burst (4 clocks) per activation, but activations are
  // 8.5 clocks apart: 8192 runs per channel x 8.5 + 66 = 69698 clocks, 2.12x the stream.
  const double strided = dram_transfer_ns(ddr4(), 1 << 20, 64);
  EXPECT_NEAR(strided, ns(8192 * 8.5 + 66), 1e-6);
  EXPECT_NEAR(strided / dram_transfer_ns(ddr4(), 1 << 20), (8192 * 8.5 + 66) / (32768 + 66.0), 1e-12);
  // 256-byte runs: 128 bytes per channel, two bursts (8 clocks) still under 8.5 per row.
  EXPECT_NEAR(dram_transfer_ns(ddr4(), 1 << 20, 256), ns(4096 * 8.5 + 66), 1e-6);
  // 512-byte runs: 4 bursts (16 clocks) per row hide the activation: as fast as streaming.
  EXPECT_NEAR(dram_transfer_ns(ddr4(), 1 << 20, 512), ns(2048 * 16 + 66), 1e-6);
}

TEST(CostDram, TimelineUsesTheDramTime) {
  // One layer, 6400 bytes of resident weights, accelerator at 1 GHz: per channel 50 bursts x 4 =
  // 200 clocks + 66 = 266 clocks = ns(266) = 174.06 ns: 175 cycles of load. Bandwidth-only at 64
  // bytes per cycle: 6400 / 64 = 100.
  const DramTiming& d = ddr4();
  const MemoryConfig with_dram{1e6, 1e6, 51.2, &d, 1e9}, bandwidth{1e6, 1e6, 64};
  EXPECT_EQ(memory_timeline({{100, 6400, 0, 0, 1}}, with_dram)[0].stall_cycles, 175u);
  EXPECT_EQ(memory_timeline({{100, 6400, 0, 0, 1}}, bandwidth)[0].stall_cycles, 100u);
}

TEST(CostDram, BadTablesNameTheKey) {
  const std::string good = "channels: {value: 2, source: x}\n";
  auto error = [](const std::string& text) {
    try {
      parse_dram(text, "d.yaml");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error("chanels: {value: 2, source: x}\n").find("d.yaml: chanels: unknown key"), std::string::npos);
  EXPECT_NE(error(good).find("bus_bits: missing"), std::string::npos);
  EXPECT_NE(error("channels: {value: 2}\n").find("channels: 'source' is required"), std::string::npos);
  EXPECT_NE(error("channels: {value: -1, source: x}\n").find("positive"), std::string::npos);
  EXPECT_NE(error("channels: {value: two, source: x}\n").find("not a number"), std::string::npos);
  EXPECT_NE(error("[1, 2]").find("must be a mapping"), std::string::npos);
}

}  // namespace
}  // namespace eff::sim::cost
