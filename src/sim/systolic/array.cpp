#include "sim/systolic/array.h"

#include <fmt/format.h>

#include <algorithm>

#include "sim/machinery.h"

namespace eff::sim::systolic {

Gemm gemm_of(const SimLayer& l) {
  Gemm g;
  g.groups = l.groups;
  g.pixels = l.windows();
  g.taps = l.space_to_depth ? l.orig_Kx * l.orig_Ky : l.Kx * l.Ky;
  g.channels = l.space_to_depth ? 3 : l.C;
  g.filters = l.filters_per_group();
  return g;
}

void run_tile(Counts& c, const ArrayConfig& a, int64_t pixels, int64_t rows_used, int64_t cols_used, uint64_t useful) {
  if (pixels <= 0 || rows_used <= 0 || cols_used <= 0) return;
  const auto p = static_cast<uint64_t>(pixels), r = static_cast<uint64_t>(rows_used),
             k = static_cast<uint64_t>(cols_used);
  c.cycles += tile_cycles(pixels, a);
  c.pe_macs += p * r * k;
  c.useful_macs += useful;
  c.act_values += p * r;
  c.wgt_values += r * k;
  c.output_updates += p * k;
}

void run_dense(Counts& c, const ArrayConfig& a, int64_t pixels, int64_t reduction_rows, int64_t cols_used) {
  for (int64_t r0 = 0; r0 < reduction_rows; r0 += a.rows) {
    const int64_t rows_used = std::min<int64_t>(a.rows, reduction_rows - r0);
    run_tile(c, a, pixels, rows_used, cols_used, static_cast<uint64_t>(pixels * rows_used * cols_used));
  }
}

Counts run_layer_dense(const SimLayer& l, const ArrayConfig& a) {
  const Gemm g = gemm_of(l);
  Counts c;
  c.cycles = static_cast<uint64_t>(a.rows);  // the first tile's weights, before anything streams
  for (int64_t group = 0; group < g.groups; ++group) {
    for (int64_t n0 = 0; n0 < g.filters; n0 += a.cols) {
      run_dense(c, a, g.pixels, g.taps * g.channels, std::min<int64_t>(a.cols, g.filters - n0));
    }
  }
  return c;
}

LayerStats stats_of(const Counts& c, const SimLayer& l, const ArrayConfig& a) {
  LayerStats s;
  s.cycles = c.cycles;
  s.macs = l.macs;
  s.lane_cycles_total = c.cycles * static_cast<uint64_t>(a.rows) * static_cast<uint64_t>(a.cols);
  s.lane_cycles_busy = c.useful_macs;
  s.ideal_bit_products = c.useful_macs * 256;
  s.bit_products = c.pe_macs * 64;
  s.accumulator_updates = c.pe_macs + c.output_updates;  // each PE's add into the passing partial sum
  s.adder_tree_adds = c.comparisons;
  s.act_buffer_read_bits = c.act_values * 8;
  s.wgt_buffer_read_bits = c.wgt_values * 8;
  s.offchip_act_bytes = bytes_at(l.act_count, 8);
  s.offchip_wgt_bytes = bytes_at(l.wgt_count, 8);
  return s;
}

cost::Inventory array_inventory(const ArrayConfig& a, const cost::OnChipMemory& m) {
  using cost::Part;
  cost::Inventory inv;
  const int64_t pes = static_cast<int64_t>(a.rows) * a.cols;
  // An 8x8 array multiplier has a quarter of a 16x16's partial products (64 vs 256 AND cells and
  // about 48 vs 224 adders); Horowitz ISSCC'14: 8-bit multiply 0.2 pJ, 32-bit 3.1 pJ (~n^2).
  inv.add("multipliers", Part::kMultiplier16, 0.25 * static_cast<double>(pes),
          fmt::format("{} PEs x one 8x8 multiplier (priced as 1/4 of a 16x16)", pes));
  inv.add("PE adders", Part::kAdderBit, 32.0 * static_cast<double>(pes), fmt::format("{} PEs x 32 bits", pes));
  inv.add("PE registers", Part::kRegisterBit, 56.0 * static_cast<double>(pes),
          fmt::format("{} PEs x (8 weight + 8 shadow weight + 8 activation + 32 partial sum) bits", pes));
  cost::add_accumulators(inv, a.cols, 32, "output columns");
  cost::add_memories(inv, equivalent_grid(a), m);
  inv.events = cost::EventCosts{};
  inv.events.bit_parallel = true;
  inv.events.tree_add_bits = 32;             // adder_tree_adds count the gates' 32-bit comparisons
  inv.events.act_write_bits_per_output = 8;  // INT8 outputs, requantised before they are stored
  inv.events.shifter_bits = 0;
  inv.events.accumulator_bits = 32;
  return inv;
}

}  // namespace eff::sim::systolic
