// DDR4 timing (src/sim/cost/dram.h): the shipped table parses to the JEDEC DDR4-3200AA numbers,
// bad tables name the key, and hand-computed transfer times: streaming reaches ~95% of the peak
// (refresh), runs of one burst per row are slower by tFAW / 4 over the burst time, and the
// memory timeline uses the DRAM time when --dram is given; read/write turnarounds and the
// IDD-based energy of rows, bursts and termination.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/fs.h"
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
  // Turnaround per write drain: write->read tWTR + tCL = 12 + 22, read->write
  // tRTW + tCWL - tCL - BL/2 = 12 + 16 - 22 - 4 = 2: 36 clocks.
  EXPECT_DOUBLE_EQ(d.turnaround_clocks(), 36);
  // TN-40-07 with the MT40A1G8 currents, 8 devices: ACT+PRE (48 x 46.25 - 43 x 32.5 - 34 x 13.75)
  // mA.ns x 1.2 V x 8 = 355 x 9.6 = 3408 pJ; a read burst (135 - 43) x 1.2 x 4 x 0.833 x 8 =
  // 2942.8224 pJ; a write burst (123 - 43) x 1.2 x 4 x 0.833 x 8 = 2558.976 pJ.
  EXPECT_NEAR(d.activate_pj(), 3408, 1e-9);
  EXPECT_NEAR(d.read_burst_pj(), 2942.8224, 1e-9);
  EXPECT_NEAR(d.write_burst_pj(), 2558.976, 1e-9);
}

TEST(CostDram, WritesInAReadStreamPayTheTurnarounds) {
  // 1 MiB read + 1 MiB written: per channel 8192 read bursts (32768 clocks) + 8192 write bursts
  // (32768), drained 19 at a time: ceil(8192 / 19) = 432 drains x 36 clocks = 15552, + 66.
  const DramCost mixed = dram_transfer(ddr4(), 1 << 20, 0, 1 << 20);
  EXPECT_NEAR(mixed.ns, ns(32768 + 32768 + 15552 + 66), 1e-6);
  // The same bytes without turnarounds (writes alone) cost only their bursts.
  EXPECT_NEAR(dram_transfer(ddr4(), 0, 0, 1 << 20).ns, ns(32768 + 66), 1e-6);
  // Rows: 64 per channel each way, 2 channels: 256 activations.
  EXPECT_DOUBLE_EQ(mixed.activations, 256);
}

TEST(CostDram, EnergyCountsRowsBurstsAndTermination) {
  // A 1 MiB read stream: 2 x 64 rows x 3408 pJ + 16384 bursts x 2942.8224 pJ + 8 Mi bits x 2.7 pJ.
  const DramCost stream = dram_transfer(ddr4(), 1 << 20);
  EXPECT_DOUBLE_EQ(stream.activations, 128);
  EXPECT_NEAR(stream.pj, 128 * 3408.0 + 16384 * 2942.8224 + 8388608 * 2.7, 1e-3);
  // 64-byte runs each in its own row: 16384 activations instead of 128, same bursts and bits.
  const DramCost strided = dram_transfer(ddr4(), 1 << 20, 64);
  EXPECT_DOUBLE_EQ(strided.activations, 16384);
  EXPECT_NEAR(strided.pj - stream.pj, (16384 - 128) * 3408.0, 1e-3);
  // Writes: 16384 write bursts and 128 rows.
  EXPECT_NEAR(dram_transfer(ddr4(), 0, 0, 1 << 20).pj, 128 * 3408.0 + 16384 * 2558.976 + 8388608 * 2.7, 1e-3);
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
  // The shipped table with IDD0 below the standby current: no activation energy to take.
  std::string text = read_file(std::string(EFF_SOURCE_DIR) + "/configs/memory/ddr4-3200.yaml", 1 << 20);
  const std::string idd0 = "idd0: {value: 48,";
  ASSERT_NE(text.find(idd0), std::string::npos);
  text.replace(text.find(idd0), idd0.size(), "idd0: {value: 40,");
  EXPECT_NE(error(text).find("d.yaml: idd0: must exceed"), std::string::npos);
  EXPECT_NE(error(text + "idd9: {value: 1, source: x}\n").find("idd9: unknown key"), std::string::npos);
}

}  // namespace
}  // namespace eff::sim::cost
