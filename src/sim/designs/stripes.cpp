// Stripes (Judd et al., MICRO'16; seed 001 §5.1, spec §2.2): activations bit-serial at the
// layer's profiled precision Pa, weights bit-parallel. Each SIP ANDs one bit of each of its L
// activations with L 16-bit weights per cycle; `columns` SIPs per row take different windows and
// share the row's weights, so a step costs Pa cycles for `columns` windows where DaDianNao needs
// `columns` cycles: speedup 16 / Pa at equal peak throughput (seed 001 Table 2 "Ideal").
// FC layers have one window: steps rotate over the columns (spec §2.2), so FC runs at about one
// step per cycle when Pa <= columns, i.e. like DaDianNao (seed 001 §5.3).
#include <algorithm>

#include "sim/design.h"
#include "sim/machinery.h"

namespace eff::sim {

namespace {

//                              tiles rows lanes columns
constexpr Grid kStripes16_16_16{16, 16, 16, 16};  // seed 001 Table 1 "16-16-16"; MICRO'16 §4

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

  LayerStats simulate(const SimLayer& l, const SimContext&) const override {
    const int pa = std::max(1, l.act_bits);
    const WalkShape ws = walk_shape(l, grid_);
    const uint64_t sips_per_column = static_cast<uint64_t>(grid_.tiles) * grid_.rows;
    const uint64_t tiles_reading = l.mapping == ChannelMapping::kDepthwise ? grid_.tiles : 1;
    LayerStats s;
    uint64_t steps = 0, fired_sip_cycles = 0, act_bits_read = 0;
    if (l.kind == LayerKind::kFC) {
      std::vector<uint32_t> costs(static_cast<size_t>(ws.filter_sets * ws.group_passes * ws.steps),
                                  static_cast<uint32_t>(pa));
      steps = costs.size();
      s.cycles = fc_rotation_cycles(costs, grid_.columns);
      fired_sip_cycles = steps * pa * sips_per_column;  // one column busy per step
      act_bits_read = steps * pa * grid_.lanes;
    } else {
      steps = static_cast<uint64_t>(ws.window_sets) * ws.filter_sets * ws.group_passes * ws.steps;
      s.cycles = steps * pa;
      fired_sip_cycles = s.cycles * sips_per_column * grid_.columns;
      act_bits_read = s.cycles * grid_.columns * grid_.lanes * tiles_reading;
    }
    s.macs = l.macs;
    s.lane_cycles_total = s.cycles * sips_per_column * grid_.columns * grid_.lanes;
    s.lane_cycles_busy = static_cast<uint64_t>(l.macs) * pa;
    s.ideal_bit_products = static_cast<uint64_t>(l.macs) * pa * 16;
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
