// DDR4 timing (configs/memory/ddr4-3200.yaml, `simulate --dram FILE`; docs/energy-area.md "DRAM
// timing"): the effective bandwidth of an off-chip transfer from its access pattern, so that the
// memory timeline (memory.h) charges streamed weights and FC layers the DRAM's real throughput
// rather than its peak. Without --dram the timeline keeps the bandwidth-only model.
#pragma once

#include <string>

namespace eff::sim::cost {

struct DramTiming {
  std::string file, name;
  // Geometry.
  double channels = 2, bus_bits = 64, data_rate_mt_s = 3200, burst_length = 8, banks = 16, row_bytes = 8192;
  // Timings in DRAM clocks (tCK = 2000 / data_rate_mt_s ns) and refresh in ns.
  double tCL = 22, tRCD = 22, tRP = 22, tRAS = 52, tRRD_S = 4, tFAW = 34, tREFI_ns = 7800, tRFC_ns = 350;

  double tck_ns() const { return 2000.0 / data_rate_mt_s; }
  double burst_bytes() const { return bus_bits / 8 * burst_length; }
  double burst_clocks() const { return burst_length / 2; }  // double data rate
  double peak_bytes_per_ns() const { return channels * burst_bytes() / (burst_clocks() * tck_ns()); }
  // The shortest spacing of row activations on one channel: four per tFAW, tRRD_S apart, and one
  // row cycle (tRAS + tRP) per bank spread over the banks.
  double activate_clocks() const;
};

// Parses a timing table; `file` names it in errors (unknown, missing, non-numeric, non-positive
// keys and a missing source are ConfigErrors naming the key).
DramTiming parse_dram(const std::string& text, const std::string& file);
DramTiming load_dram(const std::string& path);

// Time in ns to move `bytes` read in runs of `run_bytes` contiguous bytes, each run starting a new
// DRAM row (0 or >= bytes: one sequential stream). Model, per channel (runs spread evenly over
// the channels; a run wider than a burst per channel is split over them):
//   * a run of b bursts touching r rows takes max(b x burst clocks, r x activate_clocks()):
//     bursts after the first in a row are row-buffer hits; each new row is a miss whose
//     precharge + activate (tRP + tRCD) overlaps other banks' bursts (bank-interleaved rows, the
//     controller keeps requests in flight), so misses cost only the activation-rate limit;
//   * one exposed first access per transfer: tRP + tRCD + tCL;
//   * refresh takes tRFC of every tREFI: the total is stretched by tREFI / (tREFI - tRFC).
double dram_transfer_ns(const DramTiming& d, double bytes, double run_bytes = 0);

}  // namespace eff::sim::cost
