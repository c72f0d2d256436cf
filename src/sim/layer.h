// The layer as every simulated design sees it: one image's conv or FC layer after the common
// preprocessing of ../shared/specs/accelerators.md §2.0 (zero padding materialised, first-layer
// space-to-depth, FC as a 1x1 image, groups/depthwise), with activations and weights as 16-bit
// two's-complement fixed-point codes at the layer's precision. Designs read it and never change
// it; docs/adding-a-design.md explains every field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/value_transform.h"

namespace eff::sim {

enum class LayerKind { kConv, kFC };

// How the layer's channels map onto the grid (see docs/simulator.md, "groups and depthwise").
//   kDense: every filter reads all C channels of its group; tiles share one activation stream.
//   kDepthwise: one channel and one filter per group; up to min(lanes, rows) groups share a
//   tile (lane l feeds row l, the "diagonal" mapping) and tiles take different channel sets.
enum class ChannelMapping { kDense, kDepthwise };

struct SimLayer {
  int index = 0;     // layer index in execution order
  std::string name;  // the model's layer name
  int image = 0;     // image index within the run (for messages and results)
  LayerKind kind = LayerKind::kConv;
  ChannelMapping mapping = ChannelMapping::kDense;

  // Geometry after preprocessing. Activations are stored padded: X x Y positions (padding
  // included), C_total channels. Each of `groups` groups has C channels and K / groups filters.
  int64_t X = 1, Y = 1;  // padded input width, height (1 for FC)
  int64_t C_total = 1;   // channels of the stored activations
  int64_t groups = 1;
  int64_t C = 1;           // channels per group (the weights' channel count, C_wgt)
  int64_t K = 1;           // filters, all groups
  int64_t Kx = 1, Ky = 1;  // kernel after preprocessing
  int64_t stride_x = 1, stride_y = 1;
  int64_t dilation_x = 1, dilation_y = 1;
  int64_t OX = 1, OY = 1;       // output positions (windows) per filter; never derived from X, Kx
  bool space_to_depth = false;  // the first-layer rule of §2.0 item 2 was applied
  // With space_to_depth: the original stride s and kernel (folded channel c' = (py*s + px)*3 + c;
  // folded kernel taps with kx'*s + px >= orig_Kx carry zero weights and are not MACs).
  int64_t s2d_stride = 1, orig_Kx = 0, orig_Ky = 0;
  bool first_layer = false;  // the network's input image feeds this layer
  // An FC layer over several rows per image walked as this 1x1 convolution over them
  // (sim/fc_rows.h); results count it among the FC layers.
  bool fc_over_rows = false;
  // Off-chip weight layout: the model's FC weights stored input-major ([Ni][Nf]: MatMul, Gemm
  // transB=0), so a step over a block of filters reads one short run per input (the DRAM model's
  // strided pattern); otherwise filter-major, each filter set contiguous.
  bool wgts_input_major_offchip = false;
  int64_t macs = 0;       // real multiply-accumulates (the model's geometry, per image)
  int64_t act_count = 0;  // input activations before padding (off-chip traffic)
  int64_t wgt_count = 0;  // weights (off-chip traffic)

  // Near-zero thresholds (--thresholds) are already applied: pruned activations are zero codes,
  // the same values for every design (the engine's prune hook, docs/value-hooks.md).
  // Precision. act_bits / wgt_bits: the layer's precision P from the precision profile (its
  // total bits: the sign bit counts only in a signed format; a profile that does not state the
  // sign gets an unsigned format when the tensor has no negative value), or derived from the
  // observed range (docs/simulator.md "quantization"). Codes are value / 2^-frac_bits, rounded and
  // saturated to the format.
  FixedPointFormat act_format, wgt_format;
  int act_bits = 16, wgt_bits = 16;
  bool act_signed = false;  // a negative activation code in this layer (this image), or a format stated signed
  bool wgt_signed = false;

  // Values. acts: [Y][X][C_total] (channels innermost, so a brick of consecutive channels at one
  // position is contiguous). wgts: [K][Ky][Kx][C] (C = channels per group, innermost).
  std::vector<int16_t> acts;
  std::vector<int16_t> wgts;
  // The layer's bias per filter (live runs; empty when it has none, and in traces and synthetic
  // runs): dynamic gates compare partial sums with the bias included (sim/gate_decisions.h).
  std::vector<float> bias;

  // --check-values: the engine's output, float [K][OY][OX] (empty when not captured), the bias
  // per filter (empty: none) and whether the output was taken after a fused ReLU or Clip.
  std::vector<float> reference_output;
  std::vector<float> reference_bias;
  bool reference_relu = false;
  bool reference_clip = false;
  float reference_min = 0.f, reference_max = 0.f;  // Clip bounds
  // Quantized layers instead: the exact sums in code units [K][OY][OX] (sim/code_sums.h).
  std::vector<int64_t> reference_sums;

  int64_t filters_per_group() const { return K / groups; }
  int64_t windows() const { return OX * OY; }
  // Activation code at padded position (x, y), channel c of the stored tensor.
  int16_t act(int64_t x, int64_t y, int64_t c) const { return acts[(y * X + x) * C_total + c]; }
  const int16_t* act_ptr(int64_t x, int64_t y) const { return acts.data() + (y * X + x) * C_total; }
  int16_t wgt(int64_t k, int64_t ky, int64_t kx, int64_t c) const { return wgts[((k * Ky + ky) * Kx + kx) * C + c]; }
  // Input position of window w (raster order: x fastest) at kernel offset (kx, ky).
  int64_t window_x(int64_t w, int64_t kx) const { return (w % OX) * stride_x + kx * dilation_x; }
  int64_t window_y(int64_t w, int64_t ky) const { return (w / OX) * stride_y + ky * dilation_y; }
  // First stored channel read by group g (dense) — for depthwise, channel g.
  int64_t group_channel_base(int64_t g) const { return g * C; }
};

// The grid organisation of the seed papers (seed 001 Table 1 "Tiles-Filters/Tile-Products/Filter"):
// T tiles, each with `rows` filters (inner-product units / SIP rows), each taking `lanes`
// activation-weight pairs per step, for `columns` windows at once (1 for DaDianNao).
struct Grid {
  int tiles = 16;
  int rows = 16;
  int lanes = 16;
  int columns = 1;
  bool operator==(const Grid&) const = default;
};

// Shared step walk (§2.0 item 6): windows in raster order `columns` at a time (window sets);
// filters T*rows at a time per group (filter-set groups); per (window set, filter-set group) the
// reduction in steps: for ky, for kx, for channel chunk of `lanes` channels.
struct WalkShape {
  int64_t window_sets = 0;   // ceil(OX*OY / columns)
  int64_t filter_sets = 0;   // filter-set groups per group (depthwise: per channel-set pass)
  int64_t group_passes = 0;  // groups walked one after another (depthwise: 1)
  int64_t chunks = 0;        // channel chunks per step position: ceil(C / lanes) (depthwise: 1)
  int64_t steps = 0;         // Kx * Ky * chunks
  int lanes_used = 0;        // lanes that can carry a real channel in a chunk
};
WalkShape walk_shape(const SimLayer& l, const Grid& g);

// The channel chunk of step s for a tile: stored channels [first, first + count) at input
// position (x, y) of window w. Dense: the same for every tile. Depthwise: tile t of filter-set
// pass f takes the channel set (f * tiles + t) of min(lanes, rows) channels.
struct StepBrick {
  int64_t x = 0, y = 0;
  int64_t first = 0;
  int count = 0;  // 0 when this tile has no channel here (a partial tile)
};
StepBrick step_brick(const SimLayer& l, const Grid& g, const WalkShape& ws, int64_t group, int64_t filter_set, int tile,
                     int64_t window, int64_t step);

// FC column rotation (§2.2): step i is dispatched to column i mod columns one per cycle; a column
// is busy for costs[i] cycles; a step waits for its column. Returns the layer's cycles.
uint64_t fc_rotation_cycles(const std::vector<uint32_t>& costs, int columns);

// Column run-ahead (§2.3, G3 rule): `costs` is steps x groups (row-major). Each group keeps its
// finish time; a step is dispatched once every group finished the step `registers` steps back
// (registers = 0: all groups synchronise every step). Returns the cycles of the sequence.
uint64_t run_ahead_cycles(const uint32_t* costs, int64_t steps, int groups, int registers);

}  // namespace eff::sim
