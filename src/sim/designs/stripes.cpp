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

// How the passes of a precision-gated layer (--gates, seed 003) may end early (param
// precision_gating). `array`: the whole array advances in lock-step, so a pass (window set x the
// tiles' filter set) stops after the high-order bits only when all its outputs are gated off.
// `tile`: each tile runs its own passes (16 windows x its 16 filters) and stops one early when all
// of them are off; tiles drift apart, so each needs its own activation buffer fed at its own pace
// from the activation memory, and the layer ends with the slowest tile. `sip`: every SIP runs its
// own outputs one after another and stops each off output after the high-order bits, the upper
// bound of what precision gating can give a bit-serial array; a SIP then needs its own activation
// and weight streams (no sharing along rows or columns), which the buffer reads charge. `off`:
// ungated. Depthwise layers are never precision-gated (gate_decisions.cpp), so every gated conv
// here has the dense mapping: filter f of a group sits on tile (f mod 256) / 16, row f mod 16.
enum class GateSync { kOff, kArray, kTile, kSip };

// Per unit (a tile, or a SIP: tile x row x column), its busy cycles and passes run, from the
// outputs' own gate decisions: a unit's pass (group, filter set, window set) streams Pa bits when
// one of its outputs is on, the high-order bits when all are off, nothing when it has no output.
struct UnitWork {
  std::vector<uint64_t> cycles, passes;
};

UnitWork unit_work(const SimLayer& l, const Grid& grid, const WalkShape& ws, const std::vector<uint8_t>& on, int pa,
                   int high_bits, bool per_sip) {
  const int64_t W = l.windows(), fpg = l.filters_per_group(), per_set = int64_t{grid.tiles} * grid.rows;
  const int64_t units = per_sip ? per_set * grid.columns : grid.tiles;
  const int64_t passes = l.groups * ws.filter_sets * ws.window_sets;
  // 0: the unit has no output in the pass, 1: all its outputs are off, 2: one is on.
  std::vector<uint8_t> state(static_cast<size_t>(units * passes), 0);
  for (int64_t k = 0; k < l.K; ++k) {
    const int64_t g = k / fpg, f = k % fpg, slot = f % per_set, set = (g * ws.filter_sets + f / per_set);
    for (int64_t w = 0; w < W; ++w) {
      const int64_t unit = per_sip ? slot * grid.columns + w % grid.columns : slot / grid.rows;
      uint8_t& st = state[static_cast<size_t>(unit * passes + set * ws.window_sets + w / grid.columns)];
      st = std::max<uint8_t>(st, on[static_cast<size_t>(k * W + w)] ? 2 : 1);
    }
  }
  UnitWork u;
  u.cycles.assign(static_cast<size_t>(units), 0);
  u.passes.assign(static_cast<size_t>(units), 0);
  for (int64_t unit = 0; unit < units; ++unit) {
    for (int64_t p = 0; p < passes; ++p) {
      const uint8_t st = state[static_cast<size_t>(unit * passes + p)];
      if (st == 0) continue;
      u.cycles[static_cast<size_t>(unit)] += static_cast<uint64_t>(ws.steps) * (st == 2 ? pa : high_bits);
      ++u.passes[static_cast<size_t>(unit)];
    }
  }
  return u;
}

// The precision gate of a layer as passes of the step walk see it.
struct PrecisionPasses {
  std::vector<uint8_t> on;       // per output (filter, window): the gate is on
  std::vector<uint8_t> pass_on;  // per pass (group, filter pass, window set): some output is on
  int64_t window_sets = 1;
  int64_t filters_per_pass = 1, filter_passes = 1;  // per group
  int high_bits = 0;                                // bits a pass streams when all its outputs are off
  int bits(size_t pass, int pa) const { return pass_on.empty() || pass_on[pass] ? pa : high_bits; }
  size_t pass_of(int64_t group, int64_t filter_pass, int64_t window_set) const {
    return static_cast<size_t>((group * filter_passes + filter_pass) * window_sets + window_set);
  }
};

PrecisionPasses precision_passes(const SimLayer& l, const SimContext& ctx, const Grid& grid, const WalkShape& ws,
                                 int pa, GateSync sync) {
  PrecisionPasses p;
  const LayerGate* gate = sync == GateSync::kOff ? nullptr : precision_gate(l, ctx);
  if (!gate || gate->always_on()) return p;
  const int low = gate->bits - gate->high_bits;
  p.high_bits = std::max(1, pa - low);
  const bool fc = l.kind == LayerKind::kFC;
  const bool per_tile = (sync == GateSync::kTile || sync == GateSync::kSip) && !fc;  // FC: array passes
  p.window_sets = fc ? 1 : ws.window_sets;
  p.filters_per_pass = per_tile ? grid.rows : static_cast<int64_t>(grid.tiles) * grid.rows;
  p.filter_passes = per_tile ? ws.filter_sets * grid.tiles : ws.filter_sets;
  p.on = precision_gate_decisions(l, *gate, std::max(1, ctx.threads));
  p.pass_on = pass_any_on(l, p.on, p.filters_per_pass, p.filter_passes, fc ? 1 : grid.columns, p.window_sets);
  return p;
}

class Stripes final : public Design {
 public:
  explicit Stripes(Params& p)
      : grid_(read_grid(p, kStripes16_16_16, "Stripes, MICRO'16 §4; seed 001 Table 1", true)),
        memory_(cost::read_memory(p, grid_)),
        sync_(sync_of(p.choice("precision_gating", "tile", {"tile", "array", "sip", "off"},
                               "precision gating (--gates): a pass ends after the high-order bits when all its "
                               "outputs are off; pass = a tile's 16 windows x 16 filters, the whole array's, one "
                               "SIP's own output (own activation and weight streams), or never (ungated)",
                               "our model of seed 003's precision gating on Stripes"))) {}

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
    const PrecisionPasses pg = precision_passes(l, ctx, grid_, ws, pa, sync_);
    LayerStats s;
    uint64_t steps = 0, fired_sip_cycles = 0, act_bits_read = 0, own_weight_bits = 0;
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
      } else if (sync_ == GateSync::kTile || sync_ == GateSync::kSip) {
        // Per tile or per SIP: its own passes' bits; the layer ends with the slowest unit. Every
        // SIP is clocked until then (no clock gating, as in the lock-step modes). A tile reads its
        // own activations while it has work (16 columns x lanes a cycle, no broadcast across
        // tiles); a SIP reads its own lanes, and its own weights once per step of each pass.
        const bool per_sip = sync_ == GateSync::kSip;
        const UnitWork u = unit_work(l, grid_, ws, pg.on, pa, pg.high_bits, per_sip);
        uint64_t busy = 0, passes = 0;
        for (size_t i = 0; i < u.cycles.size(); ++i) {
          s.cycles = std::max(s.cycles, u.cycles[i]);
          busy += u.cycles[i];
          passes += u.passes[i];
        }
        fired_sip_cycles = s.cycles * sips_per_column * grid_.columns;
        act_bits_read = busy * grid_.lanes * (per_sip ? 1 : grid_.columns);
        if (per_sip) own_weight_bits = passes * static_cast<uint64_t>(ws.steps) * grid_.lanes * 16;
      } else {
        for (size_t i = 0; i < pg.pass_on.size(); ++i) s.cycles += static_cast<uint64_t>(ws.steps) * pg.bits(i, pa);
      }
      if (fired_sip_cycles == 0) {
        fired_sip_cycles = s.cycles * sips_per_column * grid_.columns;
        act_bits_read = s.cycles * grid_.columns * grid_.lanes * tiles_reading;
      }
    }
    s.macs = l.macs;
    s.lane_cycles_total = s.cycles * sips_per_column * grid_.columns * grid_.lanes;
    s.lane_cycles_busy = static_cast<uint64_t>(l.macs) * pa;
    s.ideal_bit_products = static_cast<uint64_t>(l.macs) * pa * 16;
    if (!pg.pass_on.empty()) {
      // Per output: the bits its pass streamed (busy), the bits its own gate needs (potential).
      const int64_t W = l.windows();
      const uint64_t macs_per_output = static_cast<uint64_t>(l.macs / (l.K * W));
      uint64_t streamed = 0, needed = 0;
      for (int64_t k = 0; k < l.K; ++k) {
        const int64_t g = k / l.filters_per_group(), f = (k % l.filters_per_group()) / pg.filters_per_pass;
        for (int64_t w = 0; w < W; ++w) {
          const int64_t wset = l.kind == LayerKind::kFC ? 0 : w / grid_.columns;
          const auto own = static_cast<uint64_t>(pg.on[static_cast<size_t>(k * W + w)] ? pa : pg.high_bits);
          const bool own_pass = sync_ == GateSync::kSip && l.kind != LayerKind::kFC;
          streamed += own_pass ? own : static_cast<uint64_t>(pg.bits(pg.pass_of(g, f, wset), pa));
          needed += own;
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
    // Held for Pa cycles and shared by a row's columns; per-SIP streams read their own.
    s.wgt_buffer_read_bits = own_weight_bits ? own_weight_bits : steps * sips_per_column * grid_.lanes * 16;
    s.offchip_act_bytes = bytes_at(l.act_count, pa);
    s.offchip_wgt_bytes = bytes_at(l.wgt_count, 16);
    return s;
  }

 private:
  static GateSync sync_of(const std::string& s) {
    if (s == "off") return GateSync::kOff;
    if (s == "array") return GateSync::kArray;
    return s == "sip" ? GateSync::kSip : GateSync::kTile;
  }

  Grid grid_;
  cost::OnChipMemory memory_;
  GateSync sync_;
};

}  // namespace

DesignEntry design_entry_stripes() {
  return {"stripes", "bit-serial activations at the per-layer profiled precision (MICRO'16)",
          [](Params& p) -> std::unique_ptr<Design> { return std::make_unique<Stripes>(p); }};
}

}  // namespace eff::sim
