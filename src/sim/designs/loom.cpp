// Loom (LM): activations and weights both bit-serial. A SIP ANDs `bits_per_cycle` activation bits
// with one weight bit per lane per cycle, so a step costs ceil(Pa / bits_per_cycle) * Pw cycles:
// conv time scales with Pa * Pw / 256 of an equal-throughput DaDianNao. Pa is the dynamic width of
// the activations the columns process together (or the profiled layer precision); Pw the layer's
// profiled weight precision or the dynamic width of the step's weights.
// Sharify et al., DAC'18 "Loom: exploiting weight and activation precisions to accelerate
// convolutional neural networks" (arXiv 1706.07853); seed 001 §5.4;
// ../shared/specs/accelerators.md §2.4. docs/simulator-designs.md records the choices.
//
// Preset (seed 001 Table 1: compared with DaDianNao 1-8-16, i.e. 128 16-bit MACs per cycle):
//   tiles rows lanes columns bits_per_cycle | SIP array (derived)
//       1    8    16      16              1 | 128 filter rows x 16 window columns x 16 lanes
// `rows` is the DaDianNao-equivalent filter count, so that the driver's baseline (a DaDianNao of
// the same tiles, rows and lanes) is the paper's comparison point; the SIP rows are
// rows * 256 / (columns * bits_per_cycle), the count that gives equal peak 16-bit throughput.
#include <algorithm>
#include <limits>
#include <memory>

#include "sim/design.h"
#include "sim/gate_decisions.h"
#include "sim/gates_file.h"
#include "sim/machinery.h"
#include "sim/serial/column_sync.h"

namespace eff::sim {

namespace {

int ceil_div(int a, int b) {
  return (a + b - 1) / b;
}

constexpr double kInf = std::numeric_limits<double>::infinity();

// A precision-gated layer's passes: `bits` gives the activation bits a pass streams.
struct PassBits {
  std::vector<uint8_t> on, pass_on;  // per output; per pass (group, filter set, window set)
  int low_bits = 0;
  int bits(size_t pass, int full) const {
    return pass_on.empty() || pass_on[pass] ? full : std::max(1, full - low_bits);
  }
};

class Loom final : public Design {
 public:
  explicit Loom(Params& p)
      : grid_(read_grid(p, {1, 8, 16, 16}, "seed 001 Table 1 (Loom vs DaDianNao 1-8-16); DAC'18 §4", true)),
        memory_(cost::read_memory(p, grid_)),
        bits_per_cycle_(static_cast<int>(p.integer(
            "bits_per_cycle", 1, 1, 16,
            "activation bits a SIP lane processes per cycle (1: LM-1b; 2 and 4: the LM-2b / LM-4b variants); the "
            "SIP array shrinks by the same factor to keep equal peak throughput",
            "DAC'18 §5 (1-, 2- and 4-bit variants); seed 001 §5.4"))),
        dynamic_activations_(p.choice("activation_precision", "dynamic", {"dynamic", "profile"},
                                      "activation bits per step: the width of the values the columns process "
                                      "together (detected at run time), or the layer's profiled precision",
                                      "DAC'18 §3 dynamic precision; seed 001 Table 1 (dynamic activation)") ==
                             "dynamic"),
        dynamic_weights_(p.choice("weight_precision", "static", {"static", "dynamic"},
                                  "weight bits per step: the layer's profiled precision, or the width of the "
                                  "step's weights over all filter rows",
                                  "seed 001 Table 1 (per-layer weight precision); DAC'18 §3 (finer weight "
                                  "granularity)") == "dynamic"),
        precision_gating_(p.choice("precision_gating", "array", {"array", "off"},
                                   "precision gating (--gates): a pass (window set x the array's filter rows, in "
                                   "lock-step) drops the low-order bits when all its outputs are off, or never "
                                   "(ungated)",
                                   "our model of seed 003's precision gating on Loom") == "array") {
    // Equal peak 16-bit throughput: DaDianNao does rows x lanes MACs per cycle; a SIP array of
    // R rows x columns x lanes does R x columns x lanes x bits_per_cycle 1-bit products, 256 per
    // MAC. So R = rows x 256 / (columns x bits_per_cycle) (lanes cancel).
    const int64_t products = static_cast<int64_t>(grid_.rows) * 256;
    const int64_t per_row = static_cast<int64_t>(grid_.columns) * bits_per_cycle_;
    if (products % per_row != 0) {
      p.reject("bits_per_cycle", fmt::format("columns {} x bits_per_cycle {} must divide rows {} x 256 (equal peak "
                                             "throughput to DaDianNao)",
                                             grid_.columns, bits_per_cycle_, grid_.rows));
    }
    sip_rows_ = static_cast<int>(products / per_row);
    sip_grid_ = {grid_.tiles, sip_rows_, grid_.lanes, grid_.columns};
  }

  Grid grid() const override { return grid_; }

  // The SIP array (tiles x sip_rows x columns SIPs of `lanes` bits_per_cycle-bit lanes), a 32-bit
  // shifter and accumulator per SIP, per-row serial weight bits, a double-buffered dispatcher,
  // and a precision detector per activation lane of each column (dynamic activation precision).
  cost::Inventory inventory() const override {
    cost::Inventory inv;
    const double sips = double(sip_grid_.tiles) * sip_grid_.rows * sip_grid_.columns;
    inv.add("serial lanes (1-bit AND + tree)", cost::Part::kLoomLane, sips * sip_grid_.lanes * bits_per_cycle_,
            fmt::format("{} SIPs x {} lanes x {} bit(s)", sips, sip_grid_.lanes, bits_per_cycle_));
    inv.add("weight bit registers", cost::Part::kRegisterBit, 2.0 * sip_grid_.tiles * sip_grid_.rows * sip_grid_.lanes,
            "a double-buffered serial weight bit per row lane");
    inv.add("dispatcher (transposer)", cost::Part::kRegisterBit, 2.0 * grid_.tiles * grid_.columns * grid_.lanes * 16,
            "double-buffered bricks, one per column");
    inv.add("partial-sum shifters", cost::Part::kMuxBit, sips * 32, "one 32-bit shift per SIP");
    inv.add("precision detectors", cost::Part::kPrecisionDetector, double(grid_.tiles) * grid_.columns * grid_.lanes,
            "one per activation lane of each column");
    cost::add_accumulators(inv, static_cast<int64_t>(sips), 32, "SIPs");
    inv.events.bit_parallel = false;
    inv.events.tree_add_bits =
        sip_grid_.lanes > 1 ? cost::tree_adder_bits(sip_grid_.lanes, bits_per_cycle_) / (sip_grid_.lanes - 1) : 1;
    inv.events.detector_ops_per_act_value = dynamic_activations_ ? 1 : 0;
    cost::add_memories(inv, grid_, memory_);
    return inv;
  }

  LayerStats simulate(const SimLayer& l, const SimContext& ctx) const override;

  // Both operands serial: every cycle ANDs activation bit i with weight bit j and adds the result
  // shifted by i + j; the top bit of each operand weighs negative when its tensor is signed. The
  // bits streamed are the layer precisions (the dynamic widths are never wider for values that
  // fit them). Equal to a x w exactly when both fit their layer precisions.
  bool recompute_outputs(const SimLayer& l, std::vector<int64_t>& out) const override {
    const int pa = std::clamp(l.act_bits, 1, 16);
    const int pw = std::clamp(l.wgt_bits, 1, 16);
    const bool a_signed = l.act_signed, w_signed = l.wgt_signed;
    recompute_walk(l, sip_grid_, out, [=](int16_t a, int16_t w) {
      const uint32_t ab = static_cast<uint16_t>(a), wb = static_cast<uint16_t>(w);
      int64_t sum = 0;
      for (int i = 0; i < pa; ++i) {
        if (((ab >> i) & 1u) == 0) continue;
        const int ai = a_signed && i == pa - 1 ? -1 : 1;
        for (int j = 0; j < pw; ++j) {
          if (((wb >> j) & 1u) == 0) continue;
          const int wj = w_signed && j == pw - 1 ? -1 : 1;
          sum += ai * wj * (int64_t{1} << (i + j));
        }
      }
      return sum;
    });
    return true;
  }

 private:
  // Serial weight bits of filter set f at step s (dense layers).
  int weight_bits(const SimLayer& l, const WalkShape& ws, int64_t g, int64_t f, int64_t s) const;

  Grid grid_;
  cost::OnChipMemory memory_;
  int bits_per_cycle_;
  bool dynamic_activations_;
  bool dynamic_weights_;
  bool precision_gating_;
  int sip_rows_ = 0;
  Grid sip_grid_;
};

int Loom::weight_bits(const SimLayer& l, const WalkShape& ws, int64_t g, int64_t f, int64_t s) const {
  if (!dynamic_weights_) return std::clamp(l.wgt_bits, 1, 16);
  const int64_t pos = s / ws.chunks, j = s % ws.chunks;
  const int64_t ky = pos / l.Kx, kx = pos % l.Kx;
  const int64_t per_set = static_cast<int64_t>(sip_grid_.tiles) * sip_grid_.rows;
  const int64_t k0 = g * l.filters_per_group() + f * per_set;
  const int64_t k1 = std::min(k0 + per_set, (g + 1) * l.filters_per_group());
  const int64_t c0 = j * grid_.lanes, c1 = std::min(l.C, c0 + grid_.lanes);
  uint16_t orv = 0;
  for (int64_t k = k0; k < k1; ++k) {
    const int16_t* w = &l.wgts[static_cast<size_t>(((k * l.Ky + ky) * l.Kx + kx) * l.C)];
    for (int64_t c = c0; c < c1; ++c) orv |= serial_pattern(w[c]);
  }
  return group_width(orv, l.wgt_signed, false);
}

LayerStats Loom::simulate(const SimLayer& l, const SimContext& ctx) const {
  const Grid& sg = sip_grid_;
  const WalkShape ws = walk_shape(l, sg);
  const BrickOr bo = brick_or(l, ws, sg.lanes, ctx.threads);
  const int bpc = bits_per_cycle_;
  const int pa_profile = std::clamp(l.act_bits, 1, 16);
  const int64_t per_set = static_cast<int64_t>(sg.tiles) * sg.rows;
  const int64_t kg = l.filters_per_group();
  auto act_bits_of = [&](uint16_t orv) {
    return dynamic_activations_ ? std::min(group_width(orv, l.act_signed, false), 16) : pa_profile;
  };

  // Precision gating (--gates, seed 003): passes whose outputs are all gated off drop the low
  // bits of their activations (at least one bit stays).
  PassBits pg;
  if (const LayerGate* gate = precision_gating_ ? precision_gate(l, ctx) : nullptr; gate && !gate->always_on()) {
    pg.low_bits = gate->bits - gate->high_bits;
    pg.on = precision_gate_decisions(l, *gate, std::max(1, ctx.threads));
    pg.pass_on = pass_any_on(l, pg.on, per_set, ws.filter_sets, l.kind == LayerKind::kFC ? 1 : sg.columns,
                             l.kind == LayerKind::kFC ? 1 : ws.window_sets);
  }

  LayerStats st;
  st.macs = static_cast<uint64_t>(l.macs);
  uint64_t cycles = 0;
  // Events, counted like the other grid designs (docs/simulator-designs.md): a busy column fires
  // all its SIP rows, padding rows and lanes included; columns without a window fire nothing.
  uint64_t sip_cycles = 0;     // SIPs of busy columns x their busy cycles
  uint64_t pair_cycles = 0;    // real (window, filter, lane) triples x their cycles (utilisation)
  uint64_t act_bits_read = 0;  // activation bits streamed to busy columns (all lanes)
  uint64_t wgt_bits_read = 0;  // weight bits streamed to all rows (all lanes)

  if (l.kind == LayerKind::kFC) {
    // One window: steps (filter set, chunk) rotate over the columns. A step's weights reach its
    // column bit-serially over the row's weight wires (Ww cycles, wires busy), then the column
    // computes act cycles x Ww (both operands serial).
    std::vector<int> dispatch, busy;
    for (int64_t f = 0; f < ws.filter_sets; ++f) {
      const int64_t filters = std::min(per_set, kg - f * per_set);
      for (int64_t s = 0; s < ws.steps; ++s) {
        const int a_bits = pg.bits(static_cast<size_t>(f), act_bits_of(bo.at(0, 0, l.X, s)));
        const int a = ceil_div(a_bits, bpc);
        const int w = weight_bits(l, ws, 0, f, s);
        const int64_t lanes = std::min<int64_t>(sg.lanes, l.C - s * sg.lanes);
        dispatch.push_back(w);
        busy.push_back(w + a * w);
        sip_cycles += static_cast<uint64_t>(per_set) * a * w;
        pair_cycles += static_cast<uint64_t>(filters * lanes) * a * w;
        act_bits_read += static_cast<uint64_t>(sg.lanes) * a_bits;
        wgt_bits_read += static_cast<uint64_t>(per_set * sg.lanes) * w;
      }
    }
    cycles = static_cast<uint64_t>(serial::rotation_cycles_with_load(dispatch, busy, sg.columns));
  } else if (l.mapping == ChannelMapping::kDepthwise) {
    // Depthwise: tile t of filter-set pass f takes its own set of min(lanes, rows) channels (one
    // filter each, lane i feeding row i), so a step costs the slowest tile's A x W.
    const int64_t d = ws.lanes_used;
    for (int64_t f = 0; f < ws.filter_sets; ++f) {
      for (int64_t wset = 0; wset < ws.window_sets; ++wset) {
        const int64_t w0 = wset * sg.columns, w1 = std::min(w0 + sg.columns, l.windows());
        const uint64_t nwin = static_cast<uint64_t>(w1 - w0);
        for (int64_t s = 0; s < ws.steps; ++s) {
          const int64_t ky = s / l.Kx, kx = s % l.Kx;
          uint64_t step_cost = 0;
          for (int t = 0; t < sg.tiles; ++t) {
            const int64_t set = f * sg.tiles + t;
            const int64_t k0 = set * d, k1 = std::min(k0 + d, l.groups);
            if (k0 >= k1) break;
            uint16_t aor = 0;
            for (int64_t w = w0; w < w1; ++w) aor |= bo.at(l.window_x(w, kx), l.window_y(w, ky), l.X, set);
            const int a_bits = act_bits_of(aor);
            int w_bits = std::clamp(l.wgt_bits, 1, 16);
            if (dynamic_weights_) {
              uint16_t wor = 0;
              for (int64_t k = k0; k < k1; ++k) wor |= serial_pattern(l.wgt(k, ky, kx, 0));
              w_bits = group_width(wor, l.wgt_signed, false);
            }
            const uint64_t cost = static_cast<uint64_t>(ceil_div(a_bits, bpc)) * static_cast<uint64_t>(w_bits);
            step_cost = std::max(step_cost, cost);
            pair_cycles += cost * nwin * static_cast<uint64_t>(k1 - k0);
            act_bits_read += static_cast<uint64_t>(a_bits) * nwin * static_cast<uint64_t>(sg.lanes);
            wgt_bits_read += static_cast<uint64_t>(w_bits) * static_cast<uint64_t>(sg.rows * sg.lanes);
          }
          cycles += step_cost;
          sip_cycles += step_cost * nwin * static_cast<uint64_t>(per_set);
        }
      }
    }
  } else if (!pg.pass_on.empty()) {
    // Precision-gated (--gates): a pass (window set, filter set) whose outputs are all gated off
    // streams only the high-order bits, so the sums no longer factorise: walk every pass.
    for (int64_t g = 0; g < ws.group_passes; ++g) {
      for (int64_t s = 0; s < ws.steps; ++s) {
        const int64_t pos = s / ws.chunks, j = s % ws.chunks;
        const int64_t ky = pos / l.Kx, kx = pos % l.Kx;
        const uint64_t lanes = static_cast<uint64_t>(std::min<int64_t>(sg.lanes, l.C - j * sg.lanes));
        std::vector<uint64_t> w_of(static_cast<size_t>(ws.filter_sets));
        for (int64_t f = 0; f < ws.filter_sets; ++f) w_of[f] = static_cast<uint64_t>(weight_bits(l, ws, g, f, s));
        for (int64_t wset = 0; wset < ws.window_sets; ++wset) {
          const int64_t w0 = wset * sg.columns, w1 = std::min(w0 + sg.columns, l.windows());
          const uint64_t nwin = static_cast<uint64_t>(w1 - w0);
          uint16_t orv = 0;
          for (int64_t w = w0; w < w1; ++w) orv |= bo.at(l.window_x(w, kx), l.window_y(w, ky), l.X, g * ws.chunks + j);
          const int full_bits = act_bits_of(orv);
          for (int64_t f = 0; f < ws.filter_sets; ++f) {
            const int bits = pg.bits(static_cast<size_t>((g * ws.filter_sets + f) * ws.window_sets + wset), full_bits);
            const uint64_t a = static_cast<uint64_t>(ceil_div(bits, bpc));
            const uint64_t filters = static_cast<uint64_t>(std::min(per_set, kg - f * per_set));
            cycles += a * w_of[f];
            sip_cycles += a * w_of[f] * nwin * static_cast<uint64_t>(per_set);
            pair_cycles += a * w_of[f] * nwin * filters * lanes;
            act_bits_read += static_cast<uint64_t>(bits) * nwin * static_cast<uint64_t>(sg.lanes);
            wgt_bits_read += w_of[f] * static_cast<uint64_t>(per_set * sg.lanes);
          }
        }
      }
    }
  } else {
    // All columns share each weight bit and all rows each activation bit, so a step costs
    // A(window set, step) x W(filter set, step) for the whole array. The sum over window sets and
    // filter sets factorises: per step, (sum over window sets of A) x (sum over filter sets of W).
    for (int64_t g = 0; g < ws.group_passes; ++g) {
      std::vector<uint64_t> a_sum(ws.steps, 0), a_win(ws.steps, 0), abits_win(ws.steps, 0);
#pragma omp parallel for schedule(static) num_threads(ctx.threads) if (ctx.threads > 1)
      for (int64_t s = 0; s < ws.steps; ++s) {
        const int64_t pos = s / ws.chunks, j = s % ws.chunks;
        const int64_t ky = pos / l.Kx, kx = pos % l.Kx;
        const int64_t chunk = g * ws.chunks + j;
        uint64_t sum = 0, weighted = 0, bits_weighted = 0;
        for (int64_t wset = 0; wset < ws.window_sets; ++wset) {
          const int64_t w0 = wset * sg.columns, w1 = std::min(w0 + sg.columns, l.windows());
          uint16_t orv = 0;
          for (int64_t w = w0; w < w1; ++w) orv |= bo.at(l.window_x(w, kx), l.window_y(w, ky), l.X, chunk);
          const int max_bits = act_bits_of(orv);
          const uint64_t a = static_cast<uint64_t>(ceil_div(max_bits, bpc));
          sum += a;
          weighted += a * static_cast<uint64_t>(w1 - w0);
          bits_weighted += static_cast<uint64_t>(max_bits) * static_cast<uint64_t>(w1 - w0);
        }
        a_sum[s] = sum;
        a_win[s] = weighted;
        abits_win[s] = bits_weighted;
      }
      for (int64_t s = 0; s < ws.steps; ++s) {
        const int64_t j = s % ws.chunks;
        const uint64_t lanes = static_cast<uint64_t>(std::min<int64_t>(sg.lanes, l.C - j * sg.lanes));
        uint64_t w_sum = 0, w_fil = 0;
        for (int64_t f = 0; f < ws.filter_sets; ++f) {
          const uint64_t filters = static_cast<uint64_t>(std::min(per_set, kg - f * per_set));
          const uint64_t w = static_cast<uint64_t>(weight_bits(l, ws, g, f, s));
          w_sum += w;
          w_fil += w * filters;
        }
        cycles += a_sum[s] * w_sum;
        sip_cycles += a_win[s] * w_sum * static_cast<uint64_t>(per_set);
        pair_cycles += a_win[s] * w_fil * lanes;
        act_bits_read += abits_win[s] * static_cast<uint64_t>(sg.lanes) * static_cast<uint64_t>(ws.filter_sets);
        wgt_bits_read += w_sum * static_cast<uint64_t>(per_set * sg.lanes) * static_cast<uint64_t>(ws.window_sets);
      }
    }
  }

  st.cycles = cycles;
  // Per SIP cycle: bits_per_cycle x 1-bit products per lane, one adder-tree pass over all lanes,
  // one shift and one update of the partial sum.
  st.bit_products = sip_cycles * static_cast<uint64_t>(sg.lanes) * static_cast<uint64_t>(bpc);
  st.adder_tree_adds = sip_cycles * static_cast<uint64_t>(sg.lanes - 1);
  st.shifter_ops = sip_cycles;
  st.accumulator_updates = sip_cycles;
  st.act_buffer_read_bits = act_bits_read;
  st.wgt_buffer_read_bits = wgt_bits_read;
  st.offchip_act_bytes = bytes_at(l.act_count, l.act_bits);
  st.offchip_wgt_bytes = bytes_at(l.wgt_count, l.wgt_bits);
  st.lane_cycles_busy = pair_cycles;
  st.lane_cycles_total = cycles * static_cast<uint64_t>(sg.tiles) * sg.rows * sg.lanes * sg.columns;
  // Potentials (spec §2.10): width(a) x Pw per MAC (per-value width, the same sign rule).
  const int pw = std::clamp(l.wgt_bits, 1, 16);
  const bool act_signed = l.act_signed;
  if (dynamic_weights_) {
    // width(a) x width(w): per group, kernel offset and channel, the sum of the activation
    // widths over all windows (shared by the group's filters) times each filter's weight width.
    uint64_t total = 0;
    for (int64_t g = 0; g < l.groups; ++g) {
      for (int64_t ky = 0; ky < l.Ky; ++ky) {
        for (int64_t kx = 0; kx < l.Kx; ++kx) {
          for (int64_t c = 0; c < l.C; ++c) {
            uint64_t acts = 0;
            for (int64_t w = 0; w < l.windows(); ++w) {
              const int16_t a = l.act(l.window_x(w, kx), l.window_y(w, ky), l.group_channel_base(g) + c);
              acts += static_cast<uint64_t>(group_width(serial_pattern(a), act_signed, false));
            }
            uint64_t weights = 0;
            for (int64_t k = g * kg; k < (g + 1) * kg; ++k) {
              weights += static_cast<uint64_t>(group_width(serial_pattern(l.wgt(k, ky, kx, c)), l.wgt_signed, false));
            }
            total += acts * weights;
          }
        }
      }
    }
    st.ideal_bit_products = total;
  } else if (!pg.on.empty() && !l.space_to_depth && l.kind == LayerKind::kConv) {
    // Precision-gated: per output, its own activation widths, the low bits dropped where its gate
    // is off (at least one bit per value): sums per (group, window) of both, then per filter.
    const int64_t W = l.windows();
    std::vector<uint64_t> full(static_cast<size_t>(l.groups * W)), high(full.size());
    for (int64_t g = 0; g < l.groups; ++g) {
      for (int64_t w = 0; w < W; ++w) {
        uint64_t f = 0, h = 0;
        for (int64_t ky = 0; ky < l.Ky; ++ky) {
          for (int64_t kx = 0; kx < l.Kx; ++kx) {
            const int16_t* a = l.act_ptr(l.window_x(w, kx), l.window_y(w, ky)) + l.group_channel_base(g);
            for (int64_t c = 0; c < l.C; ++c) {
              const int width = group_width(serial_pattern(a[c]), act_signed, false);
              f += static_cast<uint64_t>(width);
              h += static_cast<uint64_t>(std::max(1, width - pg.low_bits));
            }
          }
        }
        full[static_cast<size_t>(g * W + w)] = f;
        high[static_cast<size_t>(g * W + w)] = h;
      }
    }
    uint64_t total = 0;
    for (int64_t k = 0; k < l.K; ++k) {
      const int64_t g = k / kg;
      for (int64_t w = 0; w < W; ++w) {
        const size_t i = static_cast<size_t>(g * W + w);
        total += pg.on[static_cast<size_t>(k * W + w)] ? full[i] : high[i];
      }
    }
    st.ideal_bit_products = total * static_cast<uint64_t>(pw);
  } else {
    st.ideal_bit_products =
        sum_over_macs(l, [act_signed](int16_t a) { return group_width(serial_pattern(a), act_signed, false); }) *
        static_cast<uint64_t>(pw);
  }
  return st;
}

}  // namespace

DesignEntry design_entry_loom() {
  return {"loom",
          "Loom: activations and weights bit-serial; conv time scales with Pa x Pw / 256, FC with Pw / 16 "
          "(DAC'18)",
          [](Params& p) -> std::unique_ptr<Design> { return std::make_unique<Loom>(p); }};
}

}  // namespace eff::sim
