#include "sim/cost/inventory.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "sim/cost/technology.h"

namespace eff::sim::cost {

void Inventory::add(std::string name, Part part, double count, std::string detail, int64_t banks) {
  if (count <= 0) return;
  components.push_back({std::move(name), part, count, banks, std::move(detail)});
}

double Inventory::count_of(Part part) const {
  double n = 0;
  for (const Component& c : components) n += c.part == part ? c.count : 0;
  return n;
}

double tree_adder_bits(int64_t n, int w) {
  double bits = 0;
  for (int level = 0; n > 1; ++level) {
    const int64_t pairs = n / 2;
    bits += static_cast<double>(pairs) * (w + level);
    n -= pairs;
  }
  return bits;
}

OnChipMemory read_memory(Params& p, const Grid& g) {
  OnChipMemory m;
  const int64_t am_default = std::max<int64_t>(1, 4096LL * g.lanes / 16);
  const int64_t wm_default = std::max<int64_t>(1, 2048LL * g.rows * g.lanes / 256);
  m.am_kib = p.integer("am_kib", am_default, 1, int64_t{1} << 24,
                       "activation memory (eDRAM), KiB for the whole chip; default 4 MiB x lanes/16",
                       "seed 001 §3.1 (DaDianNao: central 4 MB activation memory)");
  m.wm_kib_per_tile = p.integer("wm_kib_per_tile", wm_default, 1, int64_t{1} << 24,
                                "weight memory (eDRAM) per tile, KiB; default 2 MiB x rows x lanes / 256",
                                "seed 001 §3.1 (DaDianNao: 2 MB weight memory per tile)");
  return m;
}

void add_memories(Inventory& inv, const Grid& g, const OnChipMemory& m, double am_scale, int wm_banks_per_tile) {
  inv.memory = m;
  const double wm = static_cast<double>(g.tiles) * static_cast<double>(m.wm_kib_per_tile);
  inv.add("weight memory (eDRAM)", Part::kEdram, wm,
          fmt::format("{} tiles x {} KiB, {} bank(s) per tile", g.tiles, m.wm_kib_per_tile, wm_banks_per_tile),
          static_cast<int64_t>(g.tiles) * wm_banks_per_tile);
  const int64_t am_banks = std::max<int64_t>(1, static_cast<int64_t>(g.tiles) * g.lanes / 64);
  inv.add("activation memory (eDRAM)", Part::kEdram, static_cast<double>(m.am_kib) * am_scale,
          am_scale == 1.0 ? fmt::format("{} KiB, {} banks", m.am_kib, am_banks)
                          : fmt::format("{} KiB x {} (offsets), {} banks", m.am_kib, am_scale, am_banks),
          am_banks);
  inv.add("NBin/NBout buffers (SRAM)", Part::kSram, 6.0 * g.tiles, fmt::format("{} tiles x (2 + 4) KiB", g.tiles),
          2LL * g.tiles);
  inv.add("off-chip interface", Part::kOffchip, 1, "one DDR-class PHY + controller");
}

void add_accumulators(Inventory& inv, int64_t units, int bits, const std::string& what) {
  const double n = static_cast<double>(units) * bits;
  inv.add("accumulators (registers)", Part::kRegisterBit, n, fmt::format("{} {} x {} bits", units, what, bits));
  inv.add("accumulators (adders)", Part::kAdderBit, n, fmt::format("{} {} x {} bits", units, what, bits));
}

Inventory bit_parallel_inventory(const Grid& g) {
  Inventory inv;
  const int64_t ipus = static_cast<int64_t>(g.tiles) * g.rows;
  inv.add("multipliers", Part::kMultiplier16, static_cast<double>(ipus) * g.lanes,
          fmt::format("{} IPUs x {} lanes, 16x16 bits", ipus, g.lanes));
  inv.add("adder trees", Part::kAdderBit, static_cast<double>(ipus) * tree_adder_bits(g.lanes, 32),
          fmt::format("{} trees of {} 32-bit products", ipus, g.lanes));
  inv.add("input registers", Part::kRegisterBit, static_cast<double>(ipus) * g.lanes * 16 + 16.0 * g.tiles * g.lanes,
          "a 16-bit weight per multiplier, an activation brick per tile");
  add_accumulators(inv, ipus, 32, "IPUs");
  inv.events = EventCosts{};
  inv.events.tree_add_bits = g.lanes > 1 ? tree_adder_bits(g.lanes, 32) / (g.lanes - 1) : 32;
  inv.events.shifter_bits = 0;
  return inv;
}

Inventory bit_serial_inventory(const Grid& g) {
  Inventory inv;
  const int64_t sips = static_cast<int64_t>(g.tiles) * g.rows * g.columns;
  inv.add("serial lanes (AND + tree)", Part::kSerialLane, static_cast<double>(sips) * g.lanes,
          fmt::format("{} SIPs x {} lanes (16 ANDs each)", sips, g.lanes));
  inv.add("weight registers", Part::kRegisterBit, static_cast<double>(g.tiles) * g.rows * g.lanes * 16,
          "one 16-bit weight per row lane, shared by the row's columns");
  inv.add("dispatcher (transposer)", Part::kRegisterBit, 2.0 * g.tiles * g.columns * g.lanes * 16,
          fmt::format("{} tiles x {} bricks x {} x 16 bits, double-buffered", g.tiles, g.columns, g.lanes));
  inv.add("partial-sum shifters", Part::kMuxBit, static_cast<double>(sips) * 32, "one 32-bit shift per SIP");
  add_accumulators(inv, sips, 32, "SIPs");
  inv.events.bit_parallel = false;
  inv.events.tree_add_bits = g.lanes > 1 ? tree_adder_bits(g.lanes, 16) / (g.lanes - 1) : 16;
  inv.events.shifter_bits = 32;
  inv.events.shifter_stages = 1;
  return inv;
}

AreaBreakdown area(const Inventory& inv, const Technology& t) {
  AreaBreakdown a;
  for (const Component& c : inv.components) {
    AreaLine line{c.name, "logic", 0, c.detail};
    double um2 = 0;
    switch (c.part) {
      case Part::kMultiplier16:
        um2 = t["area_um2.multiplier_16x16"];
        break;
      case Part::kSerialLane:
        um2 = t["area_um2.serial_lane_16b"];
        break;
      case Part::kPragmaticLane:
        um2 = t["area_um2.pragmatic_lane"];
        break;
      case Part::kLoomLane:
        um2 = t["area_um2.loom_lane_1b"];
        break;
      case Part::kAdderBit:
        um2 = t["area_um2.adder_bit"];
        break;
      case Part::kRegisterBit:
        um2 = t["area_um2.register_bit"];
        break;
      case Part::kMuxBit:
        um2 = t["area_um2.mux_bit"];
        break;
      case Part::kPrecisionDetector:
        um2 = t["area_um2.precision_detector"];
        break;
      case Part::kOffsetGenerator:
        um2 = t["area_um2.offset_generator"];
        break;
      case Part::kEdram:
        line.kind = "edram";
        line.mm2 = c.count / 1024.0 * t["memory.edram_mm2_per_mib"] + double(c.banks) * t["memory.edram_bank_mm2"];
        break;
      case Part::kSram:
        line.kind = "sram";
        line.mm2 = c.count * t["memory.sram_mm2_per_kib"] + double(c.banks) * t["memory.sram_bank_mm2"];
        break;
      case Part::kOffchip:
        line.kind = "offchip";
        line.mm2 = c.count * t["offchip.interface_mm2"];
        break;
    }
    if (line.kind == "logic") line.mm2 = c.count * um2 * 1e-6;
    // Lines of the same name (the two halves of a shared helper) merge.
    auto it = std::find_if(a.lines.begin(), a.lines.end(), [&](const AreaLine& l) { return l.name == line.name; });
    if (it != a.lines.end()) {
      it->mm2 += line.mm2;
    } else {
      a.lines.push_back(line);
    }
    a.total_mm2 += line.mm2;
    (line.kind == "edram"     ? a.edram_mm2
     : line.kind == "sram"    ? a.sram_mm2
     : line.kind == "offchip" ? a.offchip_mm2
                              : a.logic_mm2) += line.mm2;
  }
  return a;
}

}  // namespace eff::sim::cost
