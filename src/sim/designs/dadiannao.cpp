// DaDianNao (Chen et al., MICRO'14), the baseline of the whole family (seed 001 §3.1, spec §2.1):
// bit-parallel 16-bit multipliers; each cycle every tile takes one activation brick (L channels of
// one window) broadcast from the activation memory and multiplies it with the L-weight bricks of
// its Ro filters. One window at a time, every step costs one cycle whatever the values.
#include "sim/design.h"
#include "sim/machinery.h"

namespace eff::sim {

namespace {

//                                tiles rows lanes columns
constexpr Grid kDaDianNao16_16_16{16, 16, 16, 1};  // seed 001 Table 1, "16-16-16" (MICRO'14)

class DaDianNao final : public Design {
 public:
  explicit DaDianNao(Params& p)
      : grid_(read_grid(p, kDaDianNao16_16_16, "DaDianNao, MICRO'14; seed 001 §3.1 and Table 1", false)),
        memory_(cost::read_memory(p, grid_)) {}

  Grid grid() const override { return grid_; }
  bool needs_weights() const override { return false; }

  cost::Inventory inventory() const override {
    cost::Inventory inv = cost::bit_parallel_inventory(grid_);
    cost::add_memories(inv, grid_, memory_);
    return inv;
  }

  LayerStats simulate(const SimLayer& l, const SimContext&) const override {
    const WalkShape ws = walk_shape(l, grid_);
    const uint64_t steps = static_cast<uint64_t>(ws.window_sets) * ws.filter_sets * ws.group_passes * ws.steps;
    const uint64_t ipus = static_cast<uint64_t>(grid_.tiles) * grid_.rows;
    // Depthwise: tiles take different channel sets, so each reads its own brick.
    const uint64_t bricks_per_cycle = l.mapping == ChannelMapping::kDepthwise ? grid_.tiles : 1;
    LayerStats s;
    s.cycles = steps;
    s.macs = l.macs;
    s.lane_cycles_total = steps * ipus * grid_.lanes;
    s.lane_cycles_busy = l.macs;
    s.ideal_bit_products = static_cast<uint64_t>(l.macs) * 256;
    s.bit_products = s.lane_cycles_total * 256;
    s.adder_tree_adds = steps * ipus * (grid_.lanes - 1);
    s.accumulator_updates = steps * ipus;
    s.act_buffer_read_bits = steps * bricks_per_cycle * grid_.lanes * 16;
    s.wgt_buffer_read_bits = steps * ipus * grid_.lanes * 16;
    s.offchip_act_bytes = bytes_at(l.act_count, 16);
    s.offchip_wgt_bytes = bytes_at(l.wgt_count, 16);
    return s;
  }

  bool recompute_outputs(const SimLayer& l, std::vector<int64_t>& out) const override;

 private:
  Grid grid_;
  cost::OnChipMemory memory_;
};

bool DaDianNao::recompute_outputs(const SimLayer& l, std::vector<int64_t>& out) const {
  recompute_walk(l, grid_, out, [](int16_t a, int16_t w) { return static_cast<int64_t>(a) * w; });
  return true;
}

}  // namespace

DesignEntry design_entry_dadiannao() {
  return {"dadiannao", "bit-parallel 16-bit baseline: one activation brick per cycle per tile (MICRO'14)",
          [](Params& p) -> std::unique_ptr<Design> { return std::make_unique<DaDianNao>(p); }};
}

}  // namespace eff::sim
