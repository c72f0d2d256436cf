// Tartan (TRT): Stripes on convolutional layers (activations bit-serial at the layer's profiled
// precision Pa, weights bit-parallel); on fully-connected layers every SIP also receives its own
// weight bit-serially over Pw cycles, so FC time scales with max(Pa, Pw) / 16.
// Delmas et al. 2017 "Tartan: accelerating fully-connected and convolutional layers in deep
// learning networks by exploiting numerical precision variability" (arXiv 1707.09068); seed 001
// §5.3; ../shared/specs/accelerators.md "Tartan". docs/simulator-designs.md records the choices.
//
// Preset (seed 001 Table 1: 16-16-16, compared with DaDianNao 16-16-16):
//   tiles rows lanes columns
//      16   16    16      16
#include <algorithm>
#include <memory>

#include "sim/design.h"
#include "sim/machinery.h"
#include "sim/serial/column_sync.h"

namespace eff::sim {

namespace {

class Tartan final : public Design {
 public:
  explicit Tartan(Params& p)
      : grid_(read_grid(p, {16, 16, 16, 16}, "seed 001 Table 1 (16-16-16)", true)),
        memory_(cost::read_memory(p, grid_)) {}

  // Stripes plus, per SIP, its own double-buffered 16-bit weight registers (loaded bit-serially
  // on FC layers while the previous set computes) and the select between the row's shared
  // weights and its own (seed 001 §5.3).
  cost::Inventory inventory() const override {
    cost::Inventory inv = cost::bit_serial_inventory(grid_);
    const double sips = double(grid_.tiles) * grid_.rows * grid_.columns;
    inv.add("per-SIP weight registers", cost::Part::kRegisterBit, sips * grid_.lanes * 16 * 2,
            fmt::format("{} SIPs x {} lanes x 16 bits, double-buffered", sips, grid_.lanes));
    inv.add("weight select", cost::Part::kMuxBit, sips * grid_.lanes * 16, "row weights or the SIP's own");
    cost::add_memories(inv, grid_, memory_);
    return inv;
  }

  Grid grid() const override { return grid_; }

  LayerStats simulate(const SimLayer& l, const SimContext& ctx) const override;

  // Bit-serial activations, as Stripes: bit b of the Pa-bit activation ANDs the weight, shifted by
  // b (the top bit weighs -2^(Pa-1) in a signed tensor). On FC layers the weight itself arrived
  // bit-serially: the SIP holds its low Pw bits (the top one negative when the weights are
  // signed). Equal to a x w exactly when both fit their layer precisions.
  bool recompute_outputs(const SimLayer& l, std::vector<int64_t>& out) const override {
    const int pa = std::clamp(l.act_bits, 1, 16);
    const int pw = std::clamp(l.wgt_bits, 1, 16);
    const bool fc = l.kind == LayerKind::kFC;
    const bool a_signed = l.act_signed, w_signed = l.wgt_signed;
    recompute_walk(l, grid_, out, [=](int16_t a, int16_t w) {
      const int64_t held = fc ? serial_value(w, pw, w_signed) : w;
      int64_t sum = 0;
      const uint32_t abits = static_cast<uint16_t>(a);
      for (int b = 0; b < pa; ++b) {
        const int64_t and_gates = ((abits >> b) & 1u) ? held : 0;
        sum += (a_signed && b == pa - 1 ? -and_gates : and_gates) * (int64_t{1} << b);
      }
      return sum;
    });
    return true;
  }

 private:
  // The value of the low `bits` bits of a code, two's complement when `is_signed`.
  static int64_t serial_value(int16_t code, int bits, bool is_signed) {
    const uint32_t u = static_cast<uint16_t>(code);
    int64_t v = 0;
    for (int j = 0; j < bits; ++j) {
      if ((u >> j) & 1u) v += (is_signed && j == bits - 1 ? -1 : 1) * (int64_t{1} << j);
    }
    return v;
  }

  Grid grid_;
  cost::OnChipMemory memory_;
};

LayerStats Tartan::simulate(const SimLayer& l, const SimContext& /*ctx*/) const {
  // Events follow Stripes' conventions (src/sim/designs/stripes.cpp) so that a conv layer gives
  // exactly Stripes' statistics: every SIP of a busy column fires, padding lanes included.
  const int pa = std::clamp(l.act_bits, 1, 16);
  const int pw = std::clamp(l.wgt_bits, 1, 16);
  const WalkShape ws = walk_shape(l, grid_);
  const uint64_t sips_per_column = static_cast<uint64_t>(grid_.tiles) * grid_.rows;
  const uint64_t tiles_reading = l.mapping == ChannelMapping::kDepthwise ? grid_.tiles : 1;
  const uint64_t macs = static_cast<uint64_t>(l.macs);
  LayerStats st;
  st.macs = macs;
  uint64_t steps = 0, fired_sip_cycles = 0;
  if (l.kind == LayerKind::kFC) {
    // Rounds: `columns` chunks of one filter set, each SIP column holding its own weights.
    steps = static_cast<uint64_t>(ws.filter_sets * ws.group_passes * ws.steps);
    const int64_t rounds = (ws.steps + grid_.columns - 1) / grid_.columns * ws.filter_sets * ws.group_passes;
    st.cycles = static_cast<uint64_t>(serial::tartan_fc_cycles(rounds, pa, pw));
    fired_sip_cycles = steps * pa * sips_per_column;  // each step: one column busy Pa cycles
    // Each SIP holds its own Pw-bit weights and ANDs them with one activation bit per cycle.
    st.bit_products = fired_sip_cycles * grid_.lanes * pw;
    st.act_buffer_read_bits = steps * pa * grid_.lanes;
    st.wgt_buffer_read_bits = steps * sips_per_column * grid_.lanes * pw;  // loaded bit-serially
    st.offchip_wgt_bytes = bytes_at(l.wgt_count, pw);
    st.ideal_bit_products = macs * 16 * static_cast<uint64_t>(std::max(pa, pw));
  } else {
    // Stripes: every step costs Pa cycles, all columns in step.
    steps = static_cast<uint64_t>(ws.window_sets) * ws.filter_sets * ws.group_passes * ws.steps;
    st.cycles = steps * pa;
    fired_sip_cycles = st.cycles * sips_per_column * grid_.columns;
    st.bit_products = fired_sip_cycles * grid_.lanes * 16;
    st.act_buffer_read_bits = st.cycles * grid_.columns * grid_.lanes * tiles_reading;
    st.wgt_buffer_read_bits = steps * sips_per_column * grid_.lanes * 16;  // held for Pa cycles
    st.offchip_wgt_bytes = bytes_at(l.wgt_count, 16);                      // bit-parallel on conv
    st.ideal_bit_products = macs * 16 * static_cast<uint64_t>(pa);
  }
  st.adder_tree_adds = fired_sip_cycles * (grid_.lanes - 1);
  st.shifter_ops = fired_sip_cycles;
  st.accumulator_updates = fired_sip_cycles;
  st.offchip_act_bytes = bytes_at(l.act_count, pa);
  st.lane_cycles_busy = macs * static_cast<uint64_t>(pa);
  st.lane_cycles_total = st.cycles * sips_per_column * grid_.columns * grid_.lanes;
  return st;
}

}  // namespace

DesignEntry design_entry_tartan() {
  return {"tartan",
          "Tartan: Stripes on conv layers; FC weights loaded bit-serially per SIP so FC time scales with "
          "max(Pa, Pw) (Delmas et al. 2017)",
          [](Params& p) -> std::unique_ptr<Design> { return std::make_unique<Tartan>(p); }};
}

}  // namespace eff::sim
