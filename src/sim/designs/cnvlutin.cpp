// Cnvlutin (Albericio et al., ISCA'16; seed 001 §4, Figure 5; spec "Cnvlutin"): DaDianNao whose
// L activation lanes are decoupled into L subunits. Subunit s owns a contiguous slice of the
// channels (the first C mod L subunits one channel more) and, per window, walks only the
// effectual (non-zero; near-zero thresholds have already zeroed what they prune) activations of its slice
// over all Kx x Ky positions, stored zero-free with 4-bit offsets (ZFNAf). A window costs the
// longest subunit stream, at least one cycle; tiles run in lock-step on the same stream. The
// network's first layer (the image, not ZFNAf-encoded) runs as DaDianNao.
#include <algorithm>

#include "sim/design.h"
#include "sim/machinery.h"

namespace eff::sim {

namespace {

//                                tiles rows lanes columns
constexpr Grid kCnvlutin16_16_16{16, 16, 16, 1};  // seed 001 Table 1 "16-16-16"; ISCA'16 §4

constexpr int kOffsetBits = 4;  // log2(16) per stored activation (ZFNAf, seed 001 §4.1)

class Cnvlutin final : public Design {
 public:
  explicit Cnvlutin(Params& p)
      : grid_(read_grid(p, kCnvlutin16_16_16, "Cnvlutin, ISCA'16; seed 001 Table 1", false)),
        memory_(cost::read_memory(p, grid_)) {
    first_layer_dense_ = p.flag("first_layer_dense", true,
                                "the first layer's input (the image) is not zero-free encoded and runs as "
                                "DaDianNao",
                                "ISCA'16 §4 (the encoder sits at the output of each layer)");
  }

  Grid grid() const override { return grid_; }
  bool needs_weights() const override { return false; }

  // DaDianNao's datapath; each tile's weight memory split into one bank per subunit (lanes fetch
  // independently by offset); activations stored ZFNAf, 4 offset bits per 16-bit value; the
  // encoder's zero detectors and offset registers per tile (ISCA'16 §4).
  cost::Inventory inventory() const override {
    cost::Inventory inv = cost::bit_parallel_inventory(grid_);
    inv.add("encoder (offset registers)", cost::Part::kRegisterBit,
            2.0 * grid_.tiles * grid_.lanes * (16 + kOffsetBits),
            "per tile: a double-buffered brick of (value, offset) pairs");
    inv.add("encoder (zero detectors)", cost::Part::kPrecisionDetector, double(grid_.tiles) * grid_.lanes,
            "per tile: one per lane");
    inv.events.detector_ops_per_act_value = 1.0 / grid_.tiles;  // one encoder pass per value
    inv.events.act_write_bits_per_output = 16 + kOffsetBits;    // ZFNAf: value + offset
    cost::add_memories(inv, grid_, memory_, double(16 + kOffsetBits) / 16.0, grid_.lanes);
    return inv;
  }
  LayerStats simulate(const SimLayer& l, const SimContext& ctx) const override;

  // Replays the subunit streams: each subunit walks the effectual activations of its slice
  // (ZFNAf order: position, then offset within the slice) and fetches, by offset, the weight of
  // every filter of the group; zero codes (pruned ones included) are not in the streams.
  bool recompute_outputs(const SimLayer& l, std::vector<int64_t>& out) const override {
    if (first_layer_dense_ && l.first_layer) {
      recompute_walk(l, grid_, out, [](int16_t a, int16_t w) { return static_cast<int64_t>(a) * w; });
      return true;
    }
    const int64_t W = l.windows(), kg = l.filters_per_group(), L = grid_.lanes;
    const bool dw = l.mapping == ChannelMapping::kDepthwise;
    out.assign(static_cast<size_t>(l.K * W), 0);
    for (int64_t g = 0; g < l.groups; ++g) {
      const int64_t q = l.C / L, r = l.C % L;
      for (int64_t s = 0; s < (dw ? 1 : L); ++s) {
        const int64_t first = dw ? 0 : s * q + std::min<int64_t>(s, r), count = dw ? 1 : q + (s < r ? 1 : 0);
        for (int64_t w = 0; w < W; ++w) {
          for (int64_t ky = 0; ky < l.Ky; ++ky) {
            for (int64_t kx = 0; kx < l.Kx; ++kx) {
              const int16_t* a = l.act_ptr(l.window_x(w, kx), l.window_y(w, ky)) + l.group_channel_base(g) + first;
              for (int64_t off = 0; off < count; ++off) {
                if (a[off] == 0) continue;
                for (int64_t k = g * kg; k < (g + 1) * kg; ++k) {
                  out[k * W + w] += static_cast<int64_t>(a[off]) * l.wgt(k, ky, kx, first + off);
                }
              }
            }
          }
        }
      }
    }
    return true;
  }

 private:
  Grid grid_;
  cost::OnChipMemory memory_;
  bool first_layer_dense_ = true;
};

LayerStats Cnvlutin::simulate(const SimLayer& l, const SimContext& ctx) const {
  const WalkShape ws = walk_shape(l, grid_);
  const bool dw = l.mapping == ChannelMapping::kDepthwise;
  const uint64_t ipus = static_cast<uint64_t>(grid_.tiles) * grid_.rows;
  const int L = grid_.lanes;
  const bool dense = first_layer_dense_ && l.first_layer;
  auto effectual = [](int16_t a) { return a != 0; };

  // Subunit streams: dense layers slice each group's C channels over the L subunits; depthwise
  // layers give each lane of a tile's diagonal its own channel (one subunit per channel).
  const int64_t units = dw ? l.groups : l.groups * L;
  std::vector<int64_t> unit_first(units), unit_count(units);
  for (int64_t u = 0; u < units; ++u) {
    if (dw) {
      unit_first[u] = u;
      unit_count[u] = 1;
    } else {
      const int64_t g = u / L, s = u % L, q = l.C / L, r = l.C % L;
      unit_first[u] = l.group_channel_base(g) + s * q + std::min<int64_t>(s, r);
      unit_count[u] = q + (s < r ? 1 : 0);
    }
  }
  // Effectual activations per stored position and subunit, computed once per layer.
  std::vector<uint32_t> nz(static_cast<size_t>(l.X * l.Y * units));
#pragma omp parallel for schedule(static) num_threads(ctx.threads) if (ctx.threads > 1)
  for (int64_t p = 0; p < l.X * l.Y; ++p) {
    const int16_t* a = l.acts.data() + p * l.C_total;
    for (int64_t u = 0; u < units; ++u) {
      uint32_t n = 0;
      for (int64_t c = unit_first[u]; c < unit_first[u] + unit_count[u]; ++c) n += effectual(a[c]) ? 1 : 0;
      nz[p * units + u] = n;
    }
  }

  LayerStats s;
  s.macs = l.macs;
  uint64_t cycles = 0, stream_reads = 0;
  if (dense) {
    cycles = static_cast<uint64_t>(ws.window_sets) * ws.filter_sets * ws.group_passes * ws.steps;
    stream_reads = cycles * (dw ? grid_.tiles : 1) * L;
  } else {
    const int64_t W = l.windows();
    // Which subunits run together in one pass: dense groups one after another, L subunits each;
    // depthwise passes take tiles x min(L, rows) channels (lock-step across tiles).
    const int64_t passes = dw ? ws.filter_sets : l.groups;
    const int64_t per_pass = dw ? static_cast<int64_t>(grid_.tiles) * ws.lanes_used : L;
    const uint64_t repeat = dw ? 1 : static_cast<uint64_t>(ws.filter_sets);
    // Input offsets of the Kx*Ky kernel positions relative to a window's origin.
    std::vector<int64_t> offsets;
    for (int64_t ky = 0; ky < l.Ky; ++ky) {
      for (int64_t kx = 0; kx < l.Kx; ++kx) offsets.push_back(ky * l.dilation_y * l.X + kx * l.dilation_x);
    }
    for (int64_t pass = 0; pass < passes; ++pass) {
      const int64_t u0 = pass * per_pass, u1 = std::min(units, u0 + per_pass);
      uint64_t pass_cycles = 0, pass_reads = 0;
#pragma omp parallel num_threads(ctx.threads) reduction(+ : pass_cycles, pass_reads)
      {
        std::vector<uint32_t> count(static_cast<size_t>(u1 - u0));
#pragma omp for schedule(dynamic, 64)
        for (int64_t w = 0; w < W; ++w) {
          std::fill(count.begin(), count.end(), 0u);
          const int64_t origin = (w / l.OX) * l.stride_y * l.X + (w % l.OX) * l.stride_x;
          for (int64_t off : offsets) {
            const uint32_t* p = nz.data() + (origin + off) * units + u0;
            for (size_t u = 0; u < count.size(); ++u) count[u] += p[u];
          }
          uint32_t longest = 0;
          for (uint32_t c : count) {
            longest = std::max(longest, c);
            pass_reads += c;
          }
          pass_cycles += std::max<uint32_t>(1, longest);
        }
      }
      cycles += pass_cycles * repeat;
      stream_reads += pass_reads * repeat;
    }
  }
  s.cycles = cycles;
  s.lane_cycles_total = cycles * ipus * L;
  // Effectual activations stored, and effectual MACs (each stored value weighted by the windows
  // and kernel offsets that read it, times the filters of its group), from the per-position counts.
  uint64_t stored = 0, effectual_macs = static_cast<uint64_t>(l.macs);
  {
    const std::vector<int64_t> cx = coverage_x(l), cy = coverage_y(l);
    uint64_t weighted = 0;
    for (int64_t p = 0; p < l.X * l.Y; ++p) {
      uint64_t n = 0;
      for (int64_t u = 0; u < units; ++u) n += nz[p * units + u];
      stored += n;
      weighted += n * static_cast<uint64_t>(cx[p % l.X] * cy[p / l.X]);
    }
    if (!dense) {
      // A folded first layer has taps that are not MACs: count through the phase-aware walk.
      effectual_macs = l.space_to_depth ? sum_over_macs(l, [&](int16_t a) { return effectual(a) ? 1 : 0; })
                                        : weighted * static_cast<uint64_t>(l.filters_per_group());
    }
  }
  s.lane_cycles_busy = effectual_macs;
  s.ideal_bit_products = 256 * effectual_macs;
  s.bit_products = 256 * (dense ? s.lane_cycles_total : stream_reads * grid_.rows * (dw ? 1 : grid_.tiles));
  s.adder_tree_adds = cycles * ipus * (L - 1);
  s.accumulator_updates = cycles * ipus;
  // Each (value, offset) pair is read once per window and filter set; each feeds Ro weights per
  // tile read from the subunit's weight-memory slice.
  s.act_buffer_read_bits = stream_reads * (16 + (dense ? 0 : kOffsetBits));
  s.wgt_buffer_read_bits = stream_reads * grid_.rows * (dw ? 1 : grid_.tiles) * 16;
  if (dense) {
    s.offchip_act_bytes = bytes_at(l.act_count, 16);
  } else {
    // ZFNAf footprint: only effectual values, each with its offset (padding is never stored).
    s.offchip_act_bytes = bytes_at(static_cast<int64_t>(stored), 16 + kOffsetBits);
  }
  s.offchip_wgt_bytes = bytes_at(l.wgt_count, 16);
  return s;
}

}  // namespace

DesignEntry design_entry_cnvlutin() {
  return {"cnvlutin", "DaDianNao with decoupled lanes skipping zero and near-zero activations (ZFNAf offsets, ISCA'16)",
          [](Params& p) -> std::unique_ptr<Design> { return std::make_unique<Cnvlutin>(p); }};
}

}  // namespace eff::sim
