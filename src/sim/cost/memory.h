// The memory model (docs/energy-area.md "Memory"): on-chip capacities from the design's
// configuration, off-chip bandwidth from the technology table, and an event-driven timeline per
// image, per layer and per filter-set step (not a per-cycle tick) that adds stall cycles where
// data cannot arrive in time. Compute-only cycles stay what the designs report; the stalls are
// reported beside them.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/cost/dram.h"

namespace eff::sim::cost {

// One layer of one image as the memory sees it.
struct LayerTraffic {
  uint64_t cycles = 0;        // compute cycles (the design's)
  uint64_t weight_bytes = 0;  // off-chip weight bytes (the design's count)
  uint64_t act_bytes = 0;     // input activation bytes (the design's count)
  uint64_t output_bytes = 0;  // output activation bytes at 16 bits (what the next layer reads)
  int64_t filter_sets = 1;    // steps a streamed layer is split into
  // Access patterns for the DRAM timing model: contiguous bytes per run (0: one sequential stream).
  // `weight_run_bytes` is the run of one filter-set step of streamed weights (a whole layer's
  // load is one stream whatever its layout); `act_run_bytes` the run of streamed activations.
  uint64_t weight_run_bytes = 0;
  uint64_t act_run_bytes = 0;
};

struct MemoryConfig {
  double weight_memory_bytes = 0;      // all tiles' weight memory
  double activation_memory_bytes = 0;  // the activation memory
  double bytes_per_cycle = 0;          // off-chip bandwidth at the clock (the bandwidth-only model)
  // DDR4 timing (dram.h): when set, a transfer takes dram_transfer_ns() at `frequency_hz` instead
  // of bytes / bytes_per_cycle.
  const DramTiming* dram = nullptr;
  double frequency_hz = 0;
};

struct LayerMemory {
  uint64_t stall_cycles = 0;
  // Off-chip weight bytes this image's layer loads (and writes into the weight memory): the
  // layer's weights, or for resident weights this image's share of the one load before the run.
  uint64_t weight_bytes_loaded = 0;
  bool weights_resident = false;  // the whole network's weights stay on chip: nothing to load
  bool weights_streamed = false;  // the layer's weights exceed the weight memory: streamed per step
  bool acts_streamed = false;     // input + output activations exceed the activation memory
  // --dram: the DRAM's energy for this image's transfers of the layer (dram_transfer(): rows
  // opened, read and write bursts, DQ termination; resident weights: this image's share), pJ.
  double offchip_pj = 0;
};

// The layers of one image, in network order. Rules:
//  * weights of the whole network fit the weight memory: resident, loaded once before the first
//    image of the run; that load's cycles and bytes are charged amortised over the batch, each
//    layer's share split exactly over the `images` images (image_rank 0..images-1), so the
//    shares of a run sum to the one load.
//  * otherwise a layer's weights are loaded before it starts; the load overlaps the previous
//    layer when both layers' weights fit together (seed 001 §3.1: "while the current layer is
//    being processed, the weights for the next layer can be loaded"), else it starts when the
//    previous layer ends. One off-chip link: loads are serialised.
//  * a layer whose weights exceed the weight memory streams them per filter-set step, double-
//    buffered: its time is the first step's load, then max(load, compute) per step.
//  * input and output activations that do not fit the activation memory together stream from and
//    to off-chip during the layer (inputs read, outputs written: with --dram, the writes pay the
//    read/write turnarounds): the layer takes at least their transfer time.
std::vector<LayerMemory> memory_timeline(const std::vector<LayerTraffic>& layers, const MemoryConfig& m,
                                         int image_rank = 0, int images = 1);

// Image `rank`'s share of `total` split over `n` images: the shares of 0..n-1 sum to `total`.
uint64_t amortised_share(uint64_t total, int rank, int n);

}  // namespace eff::sim::cost
