// Energy = events x energy per event + leakage x time (docs/energy-area.md). The events are the
// LayerStats a design counts; the inventory says how wide they are on that datapath and which
// memories they touch; the technology table prices them. Per layer, summed per network.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "sim/cost/inventory.h"
#include "sim/cost/technology.h"

namespace eff::sim {
struct LayerStats;
}

namespace eff::sim::cost {

// pJ by component. Every field is a sum of non-negative terms, each non-decreasing in one event
// count (tested), so more work never costs less energy.
struct EnergyBreakdown {
  double datapath = 0;      // multipliers (bit-parallel) or AND lanes (bit-serial)
  double adder_trees = 0;   // adder-tree additions
  double shifters = 0;      // shifter operations
  double accumulators = 0;  // accumulator updates (add + register write)
  double detectors = 0;     // precision detectors, encoders, offset generators
  double clock = 0;         // every register bit of the inventory clocked every cycle
  double act_memory = 0;    // activation memory reads and output writes
  double wgt_memory = 0;    // weight memory reads and writes of weights loaded from off-chip
  double offchip = 0;       // off-chip transfers
  double leakage = 0;       // static power x time
  double total() const;
  // The accelerator chip's share: everything but the off-chip transfers (spent in the DRAM and
  // its interface). Seed 001 Table 1's power and energy efficiency are the chip's.
  double on_chip() const { return total() - offchip; }
  EnergyBreakdown& operator+=(const EnergyBreakdown& o);
};

// The components in output order, with their JSON/CSV names.
std::vector<std::pair<const char*, double EnergyBreakdown::*>> energy_fields();

// What a design's events cost: its inventory, area and the technology (prices precomputed).
class CostModel {
 public:
  CostModel(const Inventory& inv, const Technology& t);
  EnergyBreakdown energy(const LayerStats& s) const;
  // Cycles spent waiting for memory: leakage and clock only.
  EnergyBreakdown idle_energy(uint64_t cycles) const;
  const AreaBreakdown& area() const { return area_; }
  double frequency_hz() const { return frequency_hz_; }
  // Bits an output value writes into the activation memory (the inventory's event width).
  double act_write_bits_per_output() const { return act_write_bits_per_output_; }

 private:
  AreaBreakdown area_;
  double frequency_hz_ = 0;
  double per_bit_product_ = 0, per_tree_add_ = 0, per_shift_ = 0, per_accumulate_ = 0, per_act_value_ = 0,
         per_cycle_clock_ = 0, act_write_bits_per_output_ = 16, per_act_bit_ = 0, per_wgt_bit_ = 0, per_write_bit_ = 0,
         per_offchip_byte_ = 0, per_cycle_leakage_ = 0;
};

nlohmann::json energy_json(const EnergyBreakdown& e);

}  // namespace eff::sim::cost
