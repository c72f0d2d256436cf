// Dynamic Stripes (Delmas et al., arXiv 1706.00504; seed 001 §5.2; spec §2.3): Stripes whose
// precision is trimmed at run time to the activations processed together. Columns are split into
// precision groups of `group_size` windows; per step each group needs the width of the OR of its
// activations' serial patterns (leading zeros trimmed; trailing zeros too with trim_trailing).
// Without column registers all groups synchronise every step (step = max over groups); with R
// registers a group may run up to R steps ahead of the slowest (run-ahead, spec §2.3 G3 rule).
// Columns synchronise at the end of each (window set, filter set) pass (docs/simulator.md).
#include <algorithm>
#include <bit>

#include "sim/design.h"
#include "sim/machinery.h"

namespace eff::sim {

namespace {

//                               tiles rows lanes columns
constexpr Grid kDStripes16_16_16{16, 16, 16, 16};  // seed 001 Table 1 "16-16-16"

class DynamicStripes final : public Design {
 public:
  explicit DynamicStripes(Params& p)
      : grid_(read_grid(p, kDStripes16_16_16, "Dynamic Stripes, arXiv 1706.00504; seed 001 Table 1", true)),
        memory_(cost::read_memory(p, grid_)) {
    group_size_ = static_cast<int>(
        p.integer("group_size", grid_.columns, 1, 1024,
                  "columns (windows) sharing one dynamic precision per step; default: all columns, i.e. the 256 "
                  "activations processed concurrently (seed 001 §5.2)",
                  "seed 001 §5.2; spec §2.3 (G3 group_size)"));
    registers_ = static_cast<int>(p.integer("column_registers", 0, 0, 64,
                                            "steps a precision group may run ahead of the slowest one (0: all "
                                            "groups synchronise every step)",
                                            "spec §2.3 (ShapeShifter column registers)"));
    trim_trailing_ = p.flag("trim_trailing", false, "also skip trailing zero bits of each group (msb-lsb+1)",
                            "spec §2.3 (minor_bit); seed 001 §6 'dynamically ineffectual bits'");
    if (grid_.columns % group_size_ != 0) {
      p.reject("group_size", fmt::format("{} does not divide columns {}", group_size_, grid_.columns));
    }
  }

  Grid grid() const override { return grid_; }
  bool needs_weights() const override { return false; }

  // Stripes plus a precision detector per activation lane of each column (the OR tree and
  // leading-one detector of its group), a start-bit alignment shifter per SIP, and R registered
  // bricks per column for run-ahead.
  cost::Inventory inventory() const override {
    cost::Inventory inv = cost::bit_serial_inventory(grid_);
    const double values = double(grid_.tiles) * grid_.columns * grid_.lanes;
    inv.add(
        "precision detectors", cost::Part::kPrecisionDetector, values,
        fmt::format("{} columns x {} lanes per tile, groups of {} columns", grid_.columns, grid_.lanes, group_size_));
    inv.add("alignment shifters", cost::Part::kMuxBit, double(grid_.tiles) * grid_.rows * grid_.columns * 32,
            "one 32-bit shift per SIP");
    inv.add("column registers", cost::Part::kRegisterBit, values * 16 * registers_,
            fmt::format("{} run-ahead brick(s) per column", registers_));
    inv.events.detector_ops_per_act_value = 1;
    cost::add_memories(inv, grid_, memory_);
    return inv;
  }
  LayerStats simulate(const SimLayer& l, const SimContext& ctx) const override;

  // Replays the schedule: per step, each precision group streams `width` bits of its values'
  // serial patterns starting at the group's first bit (bit 0, or the lowest set bit of the group
  // OR with trimming); each bit is ANDed with the weight and shifted. A signed tensor's extra
  // cycle is the sign: a negative code is -pattern - 1, so its sum is negated and the weight
  // subtracted once. Exact only if the width the cycles were charged for covers every value of
  // the group, which is what this checks.
  bool recompute_outputs(const SimLayer& l, std::vector<int64_t>& out) const override;

 private:
  uint32_t width_of(uint16_t orv, bool sign) const { return group_width(orv, sign, trim_trailing_); }
  // Brick ORs of the group's windows (columns [c0, c1) of a window set whose input origins are
  // ox, oy) at kernel offset (dx, dy), channel chunk `chunk`: what the group's width comes from.
  static uint16_t group_or(const BrickOr& bo, const SimLayer& l, const int64_t* ox, const int64_t* oy, int64_t c0,
                           int64_t c1, int64_t dx, int64_t dy, int64_t chunk) {
    uint16_t orv = 0;
    for (int64_t c = c0; c < c1; ++c) orv |= bo.at(ox[c] + dx, oy[c] + dy, l.X, chunk);
    return orv;
  }
  Grid grid_;
  cost::OnChipMemory memory_;
  int group_size_ = 16;
  int registers_ = 0;
  bool trim_trailing_ = false;
};

LayerStats DynamicStripes::simulate(const SimLayer& l, const SimContext& ctx) const {
  const WalkShape ws = walk_shape(l, grid_);
  const BrickOr bo = brick_or(l, ws, grid_.lanes, ctx.threads);
  const bool dw = l.mapping == ChannelMapping::kDepthwise;
  const bool sign = l.act_signed;
  const uint64_t sips = static_cast<uint64_t>(grid_.tiles) * grid_.rows;
  const int64_t kg = l.filters_per_group();
  LayerStats s;
  s.macs = l.macs;
  uint64_t cycles = 0, busy = 0, column_cycles = 0, steps_issued = 0;

  // Lanes carrying a real channel in chunk j of a group (the last chunk may be partial).
  auto chunk_count = [&](int64_t j) {
    return static_cast<uint64_t>(std::min<int64_t>(grid_.lanes, l.C - j * grid_.lanes));
  };

  if (l.kind == LayerKind::kFC) {
    std::vector<uint32_t> costs;
    for (int64_t fs = 0; fs < ws.filter_sets; ++fs) {
      for (int64_t g = 0; g < ws.group_passes; ++g) {
        for (int64_t j = 0; j < ws.chunks; ++j) {
          const uint32_t c = width_of(bo.at(0, 0, l.X, g * ws.chunks + j), sign);
          costs.push_back(c);
          if (fs == 0) busy += c * chunk_count(j) * kg;
          column_cycles += c;
        }
      }
    }
    steps_issued = costs.size();
    cycles = fc_rotation_cycles(costs, grid_.columns);
  } else {
    const int64_t W = l.windows();
    const int ngroups = grid_.columns / group_size_;
    // Dense layers: the activations, hence the costs, are the same for every filter set; walk one
    // and multiply. Depthwise: each filter-set pass reads its own channel sets.
    const int64_t passes = dw ? ws.filter_sets : ws.group_passes;
    const uint64_t repeat = dw ? 1 : static_cast<uint64_t>(ws.filter_sets);
    for (int64_t pass = 0; pass < passes; ++pass) {
      std::vector<int64_t> bases;  // brick-OR chunk index of each distinct tile stream
      std::vector<uint64_t> base_lanes;
      if (dw) {
        for (int t = 0; t < grid_.tiles; ++t) {
          const int64_t set = pass * grid_.tiles + t;
          if (set * ws.lanes_used >= l.groups) break;
          bases.push_back(set);
          base_lanes.push_back(std::min<int64_t>(ws.lanes_used, l.groups - set * ws.lanes_used));
        }
      } else {
        bases.push_back(pass * ws.chunks);
      }
      uint64_t pass_cycles = 0, pass_busy = 0, pass_cols = 0;
#pragma omp parallel for schedule(dynamic, 16) num_threads(ctx.threads) reduction(+ : pass_cycles, pass_busy, pass_cols)
      for (int64_t wset = 0; wset < ws.window_sets; ++wset) {
        std::vector<uint32_t> costs(static_cast<size_t>(ws.steps * ngroups));
        const int64_t w0 = wset * grid_.columns;
        const int64_t wn = std::min<int64_t>(grid_.columns, W - w0);
        int64_t ox[1024], oy[1024];
        for (int64_t c = 0; c < wn; ++c) {
          ox[c] = ((w0 + c) % l.OX) * l.stride_x;
          oy[c] = ((w0 + c) / l.OX) * l.stride_y;
        }
        for (int64_t st = 0; st < ws.steps; ++st) {
          const int64_t pos = st / ws.chunks, j = st % ws.chunks;
          const int64_t dx = (pos % l.Kx) * l.dilation_x, dy = (pos / l.Kx) * l.dilation_y;
          uint32_t* row = costs.data() + st * ngroups;
          for (int gr = 0; gr < ngroups; ++gr) {
            const int64_t c0 = static_cast<int64_t>(gr) * group_size_;
            const int64_t c1 = std::min<int64_t>(wn, c0 + group_size_);
            if (c1 <= c0) {
              row[gr] = 0;  // no window left in this group: its columns idle
              continue;
            }
            uint32_t cost = 0;
            uint64_t lanes_real = 0;
            for (size_t b = 0; b < bases.size(); ++b) {
              const uint16_t orv = group_or(bo, l, ox, oy, c0, c1, dx, dy, bases[b] + j);
              cost = std::max(cost, width_of(orv, sign));
              lanes_real += dw ? base_lanes[b] : chunk_count(j);
            }
            row[gr] = cost;
            pass_busy += static_cast<uint64_t>(cost) * static_cast<uint64_t>(c1 - c0) * lanes_real;
            pass_cols += static_cast<uint64_t>(cost) * static_cast<uint64_t>(c1 - c0);
          }
        }
        pass_cycles += run_ahead_cycles(costs.data(), ws.steps, ngroups, registers_);
      }
      cycles += pass_cycles * repeat;
      busy += pass_busy * (dw ? 1 : static_cast<uint64_t>(kg));
      column_cycles += pass_cols * repeat;
    }
    steps_issued = static_cast<uint64_t>(ws.window_sets) * ws.filter_sets * ws.group_passes * ws.steps;
  }
  s.cycles = cycles;
  s.lane_cycles_total = cycles * sips * grid_.columns * grid_.lanes;
  s.lane_cycles_busy = busy;
  s.ideal_bit_products = 16 * sum_over_macs(l, [&](int16_t a) { return width_of(serial_pattern(a), sign); });
  const uint64_t fired_sip_cycles = column_cycles * sips;
  s.bit_products = fired_sip_cycles * grid_.lanes * 16;
  s.adder_tree_adds = fired_sip_cycles * (grid_.lanes - 1);
  s.shifter_ops = fired_sip_cycles;
  s.accumulator_updates = fired_sip_cycles;
  s.act_buffer_read_bits = column_cycles * grid_.lanes * (dw ? grid_.tiles : 1);
  s.wgt_buffer_read_bits = steps_issued * sips * grid_.lanes * 16;
  s.offchip_act_bytes = bytes_at(l.act_count, std::max(1, l.act_bits));
  s.offchip_wgt_bytes = bytes_at(l.wgt_count, 16);
  return s;
}

bool DynamicStripes::recompute_outputs(const SimLayer& l, std::vector<int64_t>& out) const {
  const WalkShape ws = walk_shape(l, grid_);
  const BrickOr bo = brick_or(l, ws, grid_.lanes, 1);
  const bool dw = l.mapping == ChannelMapping::kDepthwise;
  const bool sign = l.act_signed;
  const int64_t W = l.windows(), kg = l.filters_per_group();
  out.assign(static_cast<size_t>(l.K * W), 0);
  // A group's bits: `width` cycles (one of them the sign when the tensor is signed) from `first`.
  auto product = [sign](int16_t a, int16_t w, int first, int width) {
    const uint32_t pattern = serial_pattern(a);
    int64_t sum = 0;
    for (int b = first; b < first + width - (sign ? 1 : 0) && b < 16; ++b) {
      if ((pattern >> b) & 1u) sum += int64_t{w} * (int64_t{1} << b);
    }
    return a < 0 ? -sum - w : sum;
  };
  auto first_bit = [this](uint16_t orv) { return trim_trailing_ && orv != 0 ? std::countr_zero(orv) : 0; };

  // FC: one window; each step's chunk has its own width (a group of one column).
  // Conv: window sets of `columns` windows, split into groups of `group_size` columns.
  const int64_t cols = l.kind == LayerKind::kFC ? 1 : grid_.columns;
  const int64_t gsize = l.kind == LayerKind::kFC ? 1 : group_size_;
  const int64_t window_sets = (W + cols - 1) / cols;
  std::vector<int64_t> ox(static_cast<size_t>(cols)), oy(static_cast<size_t>(cols));
  for (int64_t wset = 0; wset < window_sets; ++wset) {
    const int64_t w0 = wset * cols, wn = std::min<int64_t>(cols, W - w0);
    for (int64_t c = 0; c < wn; ++c) {
      ox[c] = ((w0 + c) % l.OX) * l.stride_x;
      oy[c] = ((w0 + c) / l.OX) * l.stride_y;
    }
    for (int64_t st = 0; st < ws.steps; ++st) {
      const int64_t pos = st / ws.chunks, j = st % ws.chunks;
      const int64_t kx = pos % l.Kx, ky = pos / l.Kx;
      const int64_t dx = kx * l.dilation_x, dy = ky * l.dilation_y;
      for (int64_t c0 = 0; c0 < wn; c0 += gsize) {
        const int64_t c1 = std::min(wn, c0 + gsize);
        if (dw) {
          // Channel set `set` (tile t of pass f): lane r carries channel set * lanes_used + r to row r.
          for (int64_t set = 0; set * ws.lanes_used < l.groups; ++set) {
            const uint16_t orv = group_or(bo, l, ox.data(), oy.data(), c0, c1, dx, dy, set);
            const int first = first_bit(orv), width = static_cast<int>(width_of(orv, sign));
            const int64_t k_end = std::min<int64_t>(l.groups, (set + 1) * ws.lanes_used);
            for (int64_t c = c0; c < c1; ++c) {
              for (int64_t k = set * ws.lanes_used; k < k_end; ++k) {
                out[k * W + w0 + c] += product(l.act(ox[c] + dx, oy[c] + dy, k), l.wgt(k, ky, kx, 0), first, width);
              }
            }
          }
          continue;
        }
        for (int64_t g = 0; g < ws.group_passes; ++g) {
          const int64_t chunk = g * ws.chunks + j;
          const uint16_t orv = group_or(bo, l, ox.data(), oy.data(), c0, c1, dx, dy, chunk);
          const int first = first_bit(orv), width = static_cast<int>(width_of(orv, sign));
          const int64_t ch0 = j * grid_.lanes, ch1 = std::min<int64_t>(l.C, ch0 + grid_.lanes);
          for (int64_t c = c0; c < c1; ++c) {
            const int16_t* a = l.act_ptr(ox[c] + dx, oy[c] + dy) + l.group_channel_base(g);
            for (int64_t k = g * kg; k < (g + 1) * kg; ++k) {
              int64_t acc = 0;
              for (int64_t ch = ch0; ch < ch1; ++ch) acc += product(a[ch], l.wgt(k, ky, kx, ch), first, width);
              out[k * W + w0 + c] += acc;
            }
          }
        }
      }
    }
  }
  return true;
}

}  // namespace

DesignEntry design_entry_dstripes() {
  return {"dstripes",
          "Stripes with per-group run-time precision, optional trailing-zero trimming and column run-ahead "
          "(arXiv 1706.00504)",
          [](Params& p) -> std::unique_ptr<Design> { return std::make_unique<DynamicStripes>(p); }};
}

}  // namespace eff::sim
