// The design interface. A design is one file under src/sim/designs/ plus one line in
// src/sim/designs/registry.cpp (docs/adding-a-design.md). It is built from its parameters once
// and then asked to simulate layers: simulate() is const and may run for several layers and
// images at once on different threads, so a design keeps no per-layer state in members.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/cost/inventory.h"
#include "sim/layer.h"
#include "sim/params.h"

namespace eff::gating {
struct GatePlan;
}

namespace eff::sim {

using GatesFile = gating::GatePlan;  // sim/gates_file.h

// What one design did on one layer of one image. Integer counters only (results must not depend
// on thread count or order). The event counts are what the energy model multiplies by energy per
// event; each is counted over the whole grid, padding lanes included when the hardware does work
// on them, so that `cycles` and events describe the same schedule.
struct LayerStats {
  uint64_t cycles = 0;  // compute cycles of the layer
  uint64_t macs = 0;    // the layer's real multiply-accumulates (same for every design)

  // Utilisation: multiplier-lane cycles that carried a real (non-padding) activation-weight pair
  // over all multiplier-lane cycles (cycles x tiles x rows x lanes x columns).
  uint64_t lane_cycles_busy = 0;
  uint64_t lane_cycles_total = 0;

  // Potentials (§2.10): sum over the layer's MACs of the bit-products the design's value
  // property leaves (DaDianNao 256 per MAC). Ideal speedup = macs * 256 / ideal_bit_products.
  uint64_t ideal_bit_products = 0;

  // Events for the energy model.
  uint64_t bit_products = 0;          // 1x1-bit products: AND gates fired (a 16x16 multiply = 256)
  uint64_t adder_tree_adds = 0;       // additions in the adder trees (n inputs -> n-1 additions)
  uint64_t shifter_ops = 0;           // shifts of a value or partial sum (bit-serial designs)
  uint64_t accumulator_updates = 0;   // writes of an output accumulator / partial-sum register
  uint64_t act_buffer_read_bits = 0;  // bits read from the activation memory/buffer
  uint64_t wgt_buffer_read_bits = 0;  // bits read from the weight memory/buffer
  // Writes (filled by the simulator, not the designs): output activations into the activation
  // memory (outputs x the inventory's bits per output), and weights loaded from off-chip into the
  // weight memory (8 x the bytes the memory timeline loads for this image).
  uint64_t act_buffer_write_bits = 0;
  uint64_t wgt_buffer_write_bits = 0;
  uint64_t offchip_act_bytes = 0;  // input activations at the layer's precision (encoding incl.)
  uint64_t offchip_wgt_bytes = 0;  // weights at the layer's precision

  LayerStats& operator+=(const LayerStats& o);
};

// Simulation-wide settings a design may consult.
struct SimContext {
  int threads = 1;            // OpenMP threads a design may use inside one layer
  bool check_values = false;  // compare recompute_outputs() with the layer's reference output
  // --gates: per-layer dynamic gates (sim/gates_file.h) for the designs that gate; null: none.
  const GatesFile* gates = nullptr;
};

class Design {
 public:
  virtual ~Design() = default;
  // The grid; the design is compared with a DaDianNao of the same tiles, rows and lanes
  // (equal peak 16-bit throughput, seed 001 Table 1 "DaDN Conf.").
  virtual Grid grid() const = 0;
  virtual LayerStats simulate(const SimLayer& layer, const SimContext& ctx) const = 0;
  // The components this configuration builds (src/sim/cost/inventory.h): what area and energy
  // are computed from. Independent of values.
  virtual cost::Inventory inventory() const = 0;
  // --check-values: recompute the layer's outputs in code units from the values exactly as the
  // design scheduled them, out[k][window] = sum of products (int64). Designs that do not
  // implement it return false.
  virtual bool recompute_outputs(const SimLayer& /*layer*/, std::vector<int64_t>& /*out*/) const { return false; }
  // Whether simulate() reads layer.wgts. Sources that must generate weights (synthetic values)
  // skip them when no selected design needs them (FC weights dominate value generation).
  virtual bool needs_weights() const { return true; }
};

struct DesignEntry {
  std::string id;           // file stem under src/sim/designs/ and the name users type
  std::string description;  // one line
  std::unique_ptr<Design> (*make)(Params& params);
};

// Every design, in registry order.
const std::vector<DesignEntry>& design_registry();
// nullptr when unknown.
const DesignEntry* find_design(const std::string& id);

}  // namespace eff::sim
