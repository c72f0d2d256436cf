// A design's component inventory, derived from its configuration: datapath lanes (multipliers,
// bit-serial AND lanes), adder-tree and accumulator bits, registers, shifters, precision
// detectors, offset generators, the on-chip memories (eDRAM/SRAM, sizes and banks) and the
// off-chip interface. Area = inventory x the technology table's area per unit; the inventory also
// says how wide the events a design counts are, so energy = events x energy per event
// (energy.h). Each design builds its own in Design::inventory() from the helpers below
// (docs/energy-area.md lists every design's inventory).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/layer.h"
#include "sim/params.h"

namespace eff::sim::cost {

struct Technology;

// What one unit of a component is, and so which technology entry prices it.
enum class Part {
  kMultiplier16,       // area_um2.multiplier_16x16, per multiplier
  kSerialLane,         // area_um2.serial_lane_16b, per lane
  kPragmaticLane,      // area_um2.pragmatic_lane, per lane
  kLoomLane,           // area_um2.loom_lane_1b, per 1-bit lane
  kAdderBit,           // area_um2.adder_bit
  kRegisterBit,        // area_um2.register_bit
  kMuxBit,             // area_um2.mux_bit
  kPrecisionDetector,  // area_um2.precision_detector, per 16-bit input
  kOffsetGenerator,    // area_um2.offset_generator, per 16-bit input
  kEdram,              // count = KiB; memory.edram_mm2_per_mib + edram_bank_mm2 per bank
  kSram,               // count = KiB; memory.sram_mm2_per_kib + sram_bank_mm2 per bank
  kOffchip,            // offchip.interface_mm2, per interface
};

struct Component {
  std::string name;  // "weight memory (eDRAM)", "multipliers", ...
  Part part = Part::kRegisterBit;
  double count = 0;   // units; KiB for memories
  int64_t banks = 0;  // memories only
  std::string detail;
};

// On-chip capacities (seed 001 §3.1: 2 MB of weight eDRAM per tile, 4 MB of activation eDRAM).
struct OnChipMemory {
  int64_t am_kib = 0;           // activation memory, whole chip
  int64_t wm_kib_per_tile = 0;  // weight memory per tile
  bool operator==(const OnChipMemory&) const = default;
};

// How the events a design counts (LayerStats) translate into energy on this datapath.
struct EventCosts {
  bool bit_parallel = true;   // bit_products priced as multiplier energy / 256, else as ANDs
  double tree_add_bits = 32;  // average width of one adder-tree addition
  int shifter_bits = 32;      // one shifter op: bits x stages mux switches
  int shifter_stages = 1;
  int accumulator_bits = 32;              // one update: adder + register write of this width
  double detector_ops_per_act_value = 0;  // precision detectors / encoders per activation read
  double offset_ops_per_act_value = 0;    // offset generators per activation read
  // Bits written into the activation memory per output value: 16 (the family stores outputs at
  // 16 bits); Cnvlutin's ZFNAf stores a 4-bit offset beside every value (fixed-size bricks).
  double act_write_bits_per_output = 16;
};

struct Inventory {
  std::vector<Component> components;
  EventCosts events;
  OnChipMemory memory;

  void add(std::string name, Part part, double count, std::string detail = "", int64_t banks = 0);
  double count_of(Part part) const;  // summed over components
};

// Adder bits of a binary tree over n inputs of w bits (each level one bit wider).
double tree_adder_bits(int64_t n, int w);

// Declares `am_kib` and `wm_kib_per_tile` with defaults scaled from DaDianNao 16-16-16 by the
// grid: AM 4 MiB x lanes/16 (one brick wide), WM 2 MiB per tile x rows x lanes / 256.
OnChipMemory read_memory(Params& p, const Grid& dadiannao_equivalent);

// The memories and interface every design of the family has: per-tile weight eDRAM
// (`wm_banks_per_tile` banks), the central activation eDRAM (x `am_scale`: Cnvlutin's offsets),
// per-tile NBin/NBout SRAM buffers (2 + 4 KiB), one off-chip interface.
void add_memories(Inventory& inv, const Grid& g, const OnChipMemory& m, double am_scale = 1.0,
                  int wm_banks_per_tile = 1);
void add_accumulators(Inventory& inv, int64_t units, int bits, const std::string& what);

// DaDianNao's datapath (also Cnvlutin's): T x R x L 16x16 multipliers, T x R adder trees of
// L 32-bit products, weight and activation input registers, T x R 32-bit accumulators.
Inventory bit_parallel_inventory(const Grid& g);
// Stripes' datapath (also Dynamic Stripes' and Tartan's): T x R x C SIPs of L serial lanes, a
// partial-sum shifter and 32-bit accumulator per SIP, row weight registers, a double-buffered
// dispatcher transposing T x C bricks.
Inventory bit_serial_inventory(const Grid& g);

struct AreaLine {
  std::string name;
  std::string kind;  // logic, edram, sram, offchip
  double mm2 = 0;
  std::string detail;
};
struct AreaBreakdown {
  std::vector<AreaLine> lines;
  double total_mm2 = 0, logic_mm2 = 0, edram_mm2 = 0, sram_mm2 = 0, offchip_mm2 = 0;
};
AreaBreakdown area(const Inventory& inv, const Technology& t);

}  // namespace eff::sim::cost
