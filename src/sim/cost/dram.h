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
  // Read/write turnaround (clocks) and the controller's write batching: writes wait in a queue
  // and are drained `write_drain_bursts` at a time, each drain costing one read->write and one
  // write->read turnaround on the data bus.
  double tCWL = 16, tWTR = 12, tRTW = 12, write_drain_bursts = 19;
  // Energy, Micron TN-40-07 style: IDD currents per device (mA) measured at tCK `idd_tck_ns`,
  // VDD (V), devices per rank (one rank per channel), DQ termination energy per bit (pJ).
  double vdd = 1.2, devices_per_rank = 8, idd0 = 48, idd2n = 34, idd3n = 43, idd4r = 135, idd4w = 123,
         idd_tck_ns = 0.833, io_pj_per_bit = 2.7;

  double tck_ns() const { return 2000.0 / data_rate_mt_s; }
  double burst_bytes() const { return bus_bits / 8 * burst_length; }
  double burst_clocks() const { return burst_length / 2; }  // double data rate
  double peak_bytes_per_ns() const { return channels * burst_bytes() / (burst_clocks() * tck_ns()); }
  // The shortest spacing of row activations on one channel: four per tFAW, tRRD_S apart, and one
  // row cycle (tRAS + tRP) per bank spread over the banks.
  double activate_clocks() const;
  // Data-bus clocks lost per write drain: write->read (tWTR + tCL) plus read->write
  // (tRTW + tCWL - tCL - BL/2, never below 0).
  double turnaround_clocks() const;
  // pJ per event on one rank (TN-40-07): an ACTIVATE + PRECHARGE pair, (IDD0 x tRC - IDD3N x tRAS
  // - IDD2N x tRP) x VDD x devices; a read or write burst, (IDD4R/W - IDD3N) x VDD x BL/2 x tCK.
  double activate_pj() const;
  double read_burst_pj() const;
  double write_burst_pj() const;
};

// What one transfer costs the DRAM: its time, the rows it opens and its energy (activations,
// bursts and DQ termination; standby and refresh power are spent whether or not the
// accelerator transfers, so they are not events of a layer).
struct DramCost {
  double ns = 0, activations = 0, pj = 0;
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
//   * `write_bytes` more are written as one sequential stream in the same transfer (a layer that
//     streams its input and output activations): their bursts and rows add like the reads', plus
//     one turnaround pair (turnaround_clocks()) per `write_drain_bursts` written per channel.
DramCost dram_transfer(const DramTiming& d, double bytes, double run_bytes = 0, double write_bytes = 0);
inline double dram_transfer_ns(const DramTiming& d, double bytes, double run_bytes = 0) {
  return dram_transfer(d, bytes, run_bytes).ns;
}

}  // namespace eff::sim::cost
