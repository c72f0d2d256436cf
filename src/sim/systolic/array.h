// A weight-stationary systolic array (the `systolic` and `cgnet` designs): `rows` x `cols`
// processing elements, each holding one 8-bit weight, multiplying the 8-bit activation that
// passes it left to right and adding the product to the partial sum that passes it top to
// bottom. A layer is a GEMM per group: M output pixels (windows) x the reduction (kernel taps x
// channels) x N filters; the reduction is tiled onto the rows and the filters onto the columns.
// Per (reduction tile, filter tile) the tile's weights are loaded, then its pixels stream through
// (docs/simulator-designs.md, "Systolic array and CGNet", gives the timing and its sources).
#pragma once

#include <cstdint>
#include <vector>

#include "sim/cost/inventory.h"
#include "sim/design.h"

namespace eff::sim::systolic {

struct ArrayConfig {
  int rows = 32, cols = 32;
};

// The layer as a GEMM per group. A space-to-depth first layer is mapped with its model kernel
// and channels (an im2col array needs no re-layout).
struct Gemm {
  int64_t groups = 1;
  int64_t pixels = 1;    // M: windows per filter
  int64_t taps = 1;      // kernel taps per channel
  int64_t channels = 1;  // channels per group
  int64_t filters = 1;   // N: filters per group
};
Gemm gemm_of(const SimLayer& l);

// Cycles of one tile streaming `pixels` pixels: at least `rows` cycles of streaming (the next
// tile's weights shift in over `rows` cycles behind a double buffer), then the skew: the last
// pixel leaves the array rows + cols - 2 cycles after it entered. No pixel: the tile is skipped.
inline uint64_t tile_cycles(int64_t pixels, const ArrayConfig& a) {
  if (pixels <= 0) return 0;
  return static_cast<uint64_t>(std::max<int64_t>(pixels, a.rows) + a.rows + a.cols - 2);
}

// What the array did, accumulated tile by tile.
struct Counts {
  uint64_t cycles = 0;
  uint64_t pe_macs = 0;         // multiply-adds the PEs fired (partial tiles: only PEs with a weight)
  uint64_t useful_macs = 0;     // of those, the model's MACs whose result is used
  uint64_t act_values = 0;      // activations read into the array's left edge
  uint64_t wgt_values = 0;      // weights loaded
  uint64_t output_updates = 0;  // partial sums added into the output accumulators (bottom edge)
  uint64_t comparisons = 0;     // gate comparisons (cgnet)
};

// One tile: `pixels` stream through `rows_used` x `cols_used` PEs (every PE of the tile fires for
// every streamed pixel); `useful` is the part of those MACs whose outputs are used.
void run_tile(Counts& c, const ArrayConfig& a, int64_t pixels, int64_t rows_used, int64_t cols_used, uint64_t useful);

// The dense (ungated) reduction of one filter tile of one group: ceil(rows / a.rows) tiles.
void run_dense(Counts& c, const ArrayConfig& a, int64_t pixels, int64_t reduction_rows, int64_t cols_used);

// The ungated layer: every group, filter tile and reduction tile, plus the first weight load.
Counts run_layer_dense(const SimLayer& l, const ArrayConfig& a);

// Counts -> the statistics the driver and the energy model read (8-bit operands: an 8x8 multiply
// is 64 bit-products; potentials: 256 per useful MAC, so the ideal speedup over DaDianNao is the
// MAC reduction).
LayerStats stats_of(const Counts& c, const SimLayer& l, const ArrayConfig& a);

// The DaDianNao the array is compared with: 1 tile, `cols` filters, `rows` lanes (the same
// number of multipliers, 16-bit).
inline Grid equivalent_grid(const ArrayConfig& a) {
  return Grid{1, a.cols, a.rows, 1};
}

// PEs (8x8 multiplier, 32-bit adder, weight + shadow weight, activation and partial-sum
// registers), output accumulators, and the family's memories for the equivalent grid.
cost::Inventory array_inventory(const ArrayConfig& a, const cost::OnChipMemory& m);

}  // namespace eff::sim::systolic
