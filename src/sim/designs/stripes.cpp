// Stripes (Judd et al., MICRO'16; seed 001 §5.1, spec §2.2): activations bit-serial at the
// layer's profiled precision Pa, weights bit-parallel. Each SIP ANDs one bit of each of its L
// activations with L 16-bit weights per cycle; `columns` SIPs per row take different windows and
// share the row's weights, so a step costs Pa cycles for `columns` windows where DaDianNao needs
// `columns` cycles: speedup 16 / Pa at equal peak throughput (seed 001 Table 2 "Ideal").
// FC layers have one window: steps rotate over the columns (spec §2.2), so FC runs at about one
// step per cycle when Pa <= columns, i.e. like DaDianNao (seed 001 §5.3).
#include <algorithm>
#include <limits>

#include "sim/design.h"
#include "sim/gate_decisions.h"
#include "sim/gates_file.h"
#include "sim/machinery.h"

namespace eff::sim {

namespace {

//                              tiles rows lanes columns
constexpr Grid kStripes16_16_16{16, 16, 16, 16};  // seed 001 Table 1 "16-16-16"; MICRO'16 §4

// The precision gate of a layer as passes of the step walk see it.
struct PrecisionPasses {
  std::vector<uint8_t> on;       // per output (filter, window): the gate is on
  std::vector<uint8_t> pass_on;  // per pass (group, filter set, window set): some output is on
  int64_t window_sets = 1;
  int high_bits = 0;  // bits a pass streams when all its outputs are off
  int bits(size_t pass, int pa) const { return pass_on.empty() || pass_on[pass] ? pa : high_bits; }
};

PrecisionPasses precision_passes(const SimLayer& l, const SimContext& ctx, const Grid& grid, const WalkShape& ws,
                                 int pa) {
  PrecisionPasses p;
  const LayerGate* gate = precision_gate(l, ctx);
  if (!gate || gate->always_on()) return p;
  const int low = gate->bits - gate->high_bits;
  p.high_bits = std::max(1, pa - low);
  p.window_sets = l.kind == LayerKind::kFC ? 1 : ws.window_sets;
  p.on = precision_gate_decisions(l, *gate, std::max(1, ctx.threads));
  p.pass_on = pass_any_on(l, p.on, static_cast<int64_t>(grid.tiles) * grid.rows, ws.filter_sets,
                          l.kind == LayerKind::kFC ? 1 : grid.columns, p.window_sets);
  return p;
}

class Stripes final : public Design {
 public:
  explicit Stripes(Params& p)
      : grid_(read_grid(p, kStripes16_16_16, "Stripes, MICRO'16 §4; seed 001 Table 1", true)),
        memory_(cost::read_memory(p, grid_)) {}

  Grid grid() const override { return grid_; }
  bool needs_weights() const override { return false; }

  cost::Inventory inventory() const override {
    cost::Inventory inv = cost::bit_serial_inventory(grid_);
    cost::add_memories(inv, grid_, memory_);
    return inv;
  }

  // Bit-serial inner products (seed 001 Figure 6): the activation is fed one bit per cycle, bit b
  // ANDed with the weight and shifted by b. Unsigned tensors use all Pa bits for magnitude; in a
  // signed one the top bit of the Pa-bit two's-complement value weighs -2^(Pa-1). Equal to a * w
  // exactly when a fits the layer's Pa bits.
  bool recompute_outputs(const SimLayer& l, std::vector<int64_t>& out) const override {
    const int pa = std::clamp(l.act_bits, 1, 16);
    const bool sign = l.act_signed;
    recompute_walk(l, grid_, out, [pa, sign](int16_t a, int16_t w) {
      const uint32_t bits = static_cast<uint16_t>(a);
      int64_t sum = 0;
      for (int b = 0; b < pa; ++b) {
        const int64_t and_gates = ((bits >> b) & 1u) ? w : 0;  // one cycle: bit b of a AND w
        sum += (sign && b == pa - 1 ? -and_gates : and_gates) * (int64_t{1} << b);
      }
      return sum;
    });
    return true;
  }

  LayerStats simulate(const SimLayer& l, const SimContext& ctx) const override {
    const int pa = std::max(1, l.act_bits);
    const WalkShape ws = walk_shape(l, grid_);
    const uint64_t sips_per_column = static_cast<uint64_t>(grid_.tiles) * grid_.rows;
    const uint64_t tiles_reading = l.mapping == ChannelMapping::kDepthwise ? grid_.tiles : 1;
    // Precision gating (--gates, seed 003): a pass (group, filter set, window set) whose outputs
    // are all gated off stops after the high-order pa_hb bits; pass_on is empty when ungated.
    const PrecisionPasses pg = precision_passes(l, ctx, grid_, ws, pa);
    LayerStats s;
    uint64_t steps = 0, fired_sip_cycles = 0, act_bits_read = 0;
    if (l.kind == LayerKind::kFC) {
      std::vector<uint32_t> costs;
      for (int64_t g = 0; g < ws.group_passes; ++g) {
        for (int64_t f = 0; f < ws.filter_sets; ++f) {
          const auto bits = static_cast<uint32_t>(pg.bits(g * ws.filter_sets + f, pa));
          costs.insert(costs.end(), static_cast<size_t>(ws.steps), bits);
        }
      }
      steps = costs.size();
      s.cycles = fc_rotation_cycles(costs, grid_.columns);
      uint64_t bit_steps = 0;  // one column busy per step, for its bits
      for (uint32_t c : costs) bit_steps += c;
      fired_sip_cycles = bit_steps * sips_per_column;
      act_bits_read = bit_steps * grid_.lanes;
    } else {
      steps = static_cast<uint64_t>(ws.window_sets) * ws.filter_sets * ws.group_passes * ws.steps;
      if (pg.pass_on.empty()) {
        s.cycles = steps * pa;
      } else {
        for (size_t i = 0; i < pg.pass_on.size(); ++i) s.cycles += static_cast<uint64_t>(ws.steps) * pg.bits(i, pa);
      }
      fired_sip_cycles = s.cycles * sips_per_column * grid_.columns;
      act_bits_read = s.cycles * grid_.columns * grid_.lanes * tiles_reading;
    }
    s.macs = l.macs;
    s.lane_cycles_total = s.cycles * sips_per_column * grid_.columns * grid_.lanes;
    s.lane_cycles_busy = static_cast<uint64_t>(l.macs) * pa;
    s.ideal_bit_products = static_cast<uint64_t>(l.macs) * pa * 16;
    if (!pg.pass_on.empty()) {
      // Per output: the bits its pass streamed (busy), the bits its own gate needs (potential).
      const int64_t W = l.windows(), per_set = static_cast<int64_t>(sips_per_column);
      const uint64_t macs_per_output = static_cast<uint64_t>(l.macs / (l.K * W));
      uint64_t streamed = 0, needed = 0;
      for (int64_t k = 0; k < l.K; ++k) {
        const int64_t g = k / l.filters_per_group(), f = (k % l.filters_per_group()) / per_set;
        for (int64_t w = 0; w < W; ++w) {
          const int64_t wset = l.kind == LayerKind::kFC ? 0 : w / grid_.columns;
          streamed += static_cast<uint64_t>(pg.bits((g * ws.filter_sets + f) * pg.window_sets + wset, pa));
          needed += static_cast<uint64_t>(pg.on[static_cast<size_t>(k * W + w)] ? pa : pg.high_bits);
        }
      }
      s.lane_cycles_busy = streamed * macs_per_output;
      s.ideal_bit_products = needed * macs_per_output * 16;
    }
    s.bit_products = fired_sip_cycles * grid_.lanes * 16;
    s.adder_tree_adds = fired_sip_cycles * (grid_.lanes - 1);
    s.shifter_ops = fired_sip_cycles;
    s.accumulator_updates = fired_sip_cycles;
    s.act_buffer_read_bits = act_bits_read;
    s.wgt_buffer_read_bits = steps * sips_per_column * grid_.lanes * 16;  // held for Pa cycles
    s.offchip_act_bytes = bytes_at(l.act_count, pa);
    s.offchip_wgt_bytes = bytes_at(l.wgt_count, 16);
    return s;
  }

 private:
  Grid grid_;
  cost::OnChipMemory memory_;
};

}  // namespace

DesignEntry design_entry_stripes() {
  return {"stripes", "bit-serial activations at the per-layer profiled precision (MICRO'16)",
          [](Params& p) -> std::unique_ptr<Design> { return std::make_unique<Stripes>(p); }};
}

}  // namespace eff::sim
