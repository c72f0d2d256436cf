// A weight-stationary systolic array, 8-bit (the TPU style; the baseline of seed 003's CGNet
// comparison): `rows` x `cols` PEs, each holding one weight; activations flow left to right,
// partial sums top to bottom. A layer is a GEMM per group, the reduction (kernel taps x channels)
// tiled onto the rows and the filters onto the columns; per tile every output pixel streams
// through once. Timing, fill/drain and the events: src/sim/systolic/array.h and
// docs/simulator-designs.md. Values do not change its cycles.
#include "sim/design.h"
#include "sim/machinery.h"
#include "sim/systolic/array.h"

namespace eff::sim {

namespace {

class Systolic final : public Design {
 public:
  explicit Systolic(Params& p)
      : array_{static_cast<int>(
                   p.integer("rows", 32, 1, 1024, "PE rows: reduction elements (taps x channels) per tile",
                             "seed 003 CGNet baseline: >= 577 MACs/cycle (253.8 fps x 1.82 GMAC / 800 MHz)")),
               static_cast<int>(p.integer("cols", 32, 1, 1024, "PE columns: filters per tile", "as rows"))},
        memory_(cost::read_memory(p, systolic::equivalent_grid(array_))) {}

  Grid grid() const override { return systolic::equivalent_grid(array_); }
  bool needs_weights() const override { return false; }
  cost::Inventory inventory() const override { return systolic::array_inventory(array_, memory_); }

  LayerStats simulate(const SimLayer& l, const SimContext&) const override {
    return systolic::stats_of(systolic::run_layer_dense(l, array_), l, array_);
  }

 private:
  systolic::ArrayConfig array_;
  cost::OnChipMemory memory_;
};

}  // namespace

DesignEntry design_entry_systolic() {
  return {"systolic", "weight-stationary 8-bit systolic array, rows x cols PEs (TPU-style; seed 003 baseline)",
          [](Params& p) -> std::unique_ptr<Design> { return std::make_unique<Systolic>(p); }};
}

}  // namespace eff::sim
