// The memory model (docs/energy-area.md "Memory"): on-chip capacities from the design's
// configuration, off-chip bandwidth from the technology table, and an event-driven timeline per
// image, per layer and per filter-set step (not a per-cycle tick) that adds stall cycles where
// data cannot arrive in time. Compute-only cycles stay what the designs report; the stalls are
// reported beside them.
#pragma once

#include <cstdint>
#include <vector>

namespace eff::sim::cost {

// One layer of one image as the memory sees it.
struct LayerTraffic {
  uint64_t cycles = 0;        // compute cycles (the design's)
  uint64_t weight_bytes = 0;  // off-chip weight bytes (the design's count)
  uint64_t act_bytes = 0;     // input activation bytes (the design's count)
  uint64_t output_bytes = 0;  // output activation bytes at 16 bits (what the next layer reads)
  int64_t filter_sets = 1;    // steps a streamed layer is split into
};

struct MemoryConfig {
  double weight_memory_bytes = 0;      // all tiles' weight memory
  double activation_memory_bytes = 0;  // the activation memory
  double bytes_per_cycle = 0;          // off-chip bandwidth at the clock
};

struct LayerMemory {
  uint64_t stall_cycles = 0;
  bool weights_resident = false;  // the whole network's weights stay on chip: nothing to load
  bool weights_streamed = false;  // the layer's weights exceed the weight memory: streamed per step
  bool acts_streamed = false;     // input + output activations exceed the activation memory
};

// The layers of one image, in network order. Rules:
//  * weights of the whole network fit the weight memory: resident (loaded before the first
//    image, not per inference); no weight stalls.
//  * otherwise a layer's weights are loaded before it starts; the load overlaps the previous
//    layer when both layers' weights fit together (seed 001 §3.1: "while the current layer is
//    being processed, the weights for the next layer can be loaded"), else it starts when the
//    previous layer ends. One off-chip link: loads are serialised.
//  * a layer whose weights exceed the weight memory streams them per filter-set step, double-
//    buffered: its time is the first step's load, then max(load, compute) per step.
//  * input and output activations that do not fit the activation memory together stream from and
//    to off-chip during the layer: the layer takes at least their transfer time.
std::vector<LayerMemory> memory_timeline(const std::vector<LayerTraffic>& layers, const MemoryConfig& m);

}  // namespace eff::sim::cost
