// Bit-Pragmatic (PRA): activations stream as oneffsets (the positions of their terms), weights
// stay bit-parallel; a lane spends one cycle per term, so zero bits cost nothing.
// Albericio et al., MICRO'17 "Bit-pragmatic deep neural network computing"; seed 001 §6.1;
// ../shared/specs/accelerators.md §2.5. docs/simulator-designs.md records the choices.
//
// Preset (seed 001 Table 1: 16-16-16, compared with DaDianNao 16-16-16; MICRO'17 §5 PRA-2b-1R):
//   tiles rows lanes columns | first_stage_bits column_registers encoding
//      16   16    16      16 |                2                1 positional
#include <algorithm>
#include <bit>
#include <memory>

#include "sim/design.h"
#include "sim/machinery.h"
#include "sim/serial/terms.h"

namespace eff::sim {

namespace {

using serial::TermEncoding;

// Per stored position and channel chunk (BrickOr's indexing): the cycles one column needs for the
// brick and its total term count. Depends on activations only, so it is built once per layer and
// read by every window and filter set.
struct PragmaticBricks {
  int64_t chunks_total = 0;
  std::vector<uint8_t> cycles;
  std::vector<uint16_t> terms;
  size_t index(const SimLayer& l, int64_t x, int64_t y, int64_t chunk) const {
    return static_cast<size_t>((y * l.X + x) * chunks_total + chunk);
  }
};

class Pragmatic final : public Design {
 public:
  explicit Pragmatic(Params& p)
      : grid_(read_grid(p, {16, 16, 16, 16}, "seed 001 Table 1 (16-16-16); MICRO'17 §5", true)),
        memory_(cost::read_memory(p, grid_)),
        first_stage_bits_(static_cast<int>(p.integer(
            "first_stage_bits", 2, 0, 16,
            "private first-stage shift per lane in bits: a lane may consume a term up to 2^b - 1 positions above "
            "the column's shared offset (0: only lanes at the smallest offset advance; >= 5: a full shifter)",
            "MICRO'17 §4.3 two-stage shifting (PRA-2b)"))),
        column_registers_(static_cast<int>(
            p.integer("column_registers", 1, 0, 64,
                      "weight registers per column: a column may run this many steps ahead of the slowest one (0: all "
                      "columns synchronise every step)",
                      "MICRO'17 §4.4 per-column synchronisation (1R)"))),
        encoding_(p.choice("encoding", "positional", {"positional", "booth"},
                           "terms streamed per activation: its one bits, or the Booth-like recoding of spec "
                           "§2.0 (runs of ones become two terms)",
                           "MICRO'17 §4 (positional), §5.7 improved oneffset encoding; G1/G2 always recode") == "booth"
                      ? TermEncoding::kBooth
                      : TermEncoding::kPositional) {
    if (grid_.lanes > serial::kMaxLanes) {
      p.reject("lanes", "at most 64 lanes per column (one 64-bit plane per term position)");
    }
  }

  Grid grid() const override { return grid_; }

  // T x R x C PIPs of L lanes: each lane's first-stage shifter (b stages over 16 + 2^b - 1 bits)
  // and 4-bit oneffset register, a 4-stage 32-bit second-stage shifter and accumulator per PIP;
  // an offset generator per activation lane of each column; 1 + R registered bricks per column
  // (MICRO'17 §4).
  cost::Inventory inventory() const override {
    cost::Inventory inv;
    const double pips = double(grid_.tiles) * grid_.rows * grid_.columns;
    const int b = std::min(first_stage_bits_, 4);  // 4 stages already reach all 16 positions
    const int width = 16 + (1 << b) - 1;
    inv.add("pragmatic lanes (shifted weight + tree)", cost::Part::kPragmaticLane, pips * grid_.lanes,
            fmt::format("{} PIPs x {} lanes", pips, grid_.lanes));
    inv.add("first-stage shifters", cost::Part::kMuxBit, pips * grid_.lanes * width * b,
            fmt::format("{} bits x {} stages per lane", width, b));
    inv.add("oneffset registers", cost::Part::kRegisterBit, pips * grid_.lanes * 4, "4 bits per lane");
    inv.add("second-stage shifters", cost::Part::kMuxBit, pips * 32 * 4, "32 bits x 4 stages per PIP");
    inv.add("weight registers", cost::Part::kRegisterBit, double(grid_.tiles) * grid_.rows * grid_.lanes * 16,
            "one 16-bit weight per row lane");
    inv.add("column registers", cost::Part::kRegisterBit,
            double(grid_.tiles) * grid_.columns * grid_.lanes * 16 * (1 + column_registers_),
            fmt::format("1 + {} brick(s) per column", column_registers_));
    inv.add("offset generators", cost::Part::kOffsetGenerator, double(grid_.tiles) * grid_.columns * grid_.lanes,
            "one per activation lane of each column");
    cost::add_accumulators(inv, static_cast<int64_t>(pips), 32, "PIPs");
    inv.events.bit_parallel = false;
    inv.events.tree_add_bits = grid_.lanes > 1 ? cost::tree_adder_bits(grid_.lanes, width) / (grid_.lanes - 1) : width;
    inv.events.shifter_bits = width;
    inv.events.shifter_stages = std::max(b, 1);
    inv.events.offset_ops_per_act_value = 1;
    cost::add_memories(inv, grid_, memory_);
    return inv;
  }

  LayerStats simulate(const SimLayer& l, const SimContext& ctx) const override;

  // Shift-and-add over the oneffsets (seed 001 §6: a x w = sum over terms t of +-(w << t)): each
  // term of |a| adds the weight shifted by its position, with the term's sign (Booth-like terms
  // may be negative), and the product takes a's sign. Exact for every code but -32768, whose
  // magnitude a 16-bit sign-magnitude datapath saturates to 32767.
  bool recompute_outputs(const SimLayer& l, std::vector<int64_t>& out) const override {
    const TermEncoding enc = encoding_;
    recompute_walk(l, grid_, out, [enc](int16_t a, int16_t w) {
      const uint16_t mag = bits::magnitude(a);
      int64_t sum = 0;
      for (const serial::SignedTerm& t : serial::signed_terms(mag, enc)) sum += t.sign * (int64_t{w} << t.position);
      return a < 0 ? -sum : sum;
    });
    return true;
  }

 private:
  PragmaticBricks bricks(const SimLayer& l, const WalkShape& ws, int threads) const;

  Grid grid_;
  cost::OnChipMemory memory_;
  int first_stage_bits_;
  int column_registers_;
  TermEncoding encoding_;
};

PragmaticBricks Pragmatic::bricks(const SimLayer& l, const WalkShape& ws, int threads) const {
  PragmaticBricks b;
  const bool dw = l.mapping == ChannelMapping::kDepthwise;
  const int64_t width = dw ? ws.lanes_used : grid_.lanes;
  const int64_t per_group = dw ? (l.groups + width - 1) / width : ws.chunks;
  const int64_t groups = dw ? 1 : l.groups;
  const int64_t span = dw ? l.groups : l.C;
  b.chunks_total = per_group * groups;
  const size_t n = static_cast<size_t>(l.X * l.Y * b.chunks_total);
  b.cycles.assign(n, 1);
  b.terms.assign(n, 0);
#pragma omp parallel for schedule(static) num_threads(threads) if (l.Y > 1 && threads > 1)
  for (int64_t y = 0; y < l.Y; ++y) {
    uint32_t masks[serial::kMaxLanes];
    for (int64_t x = 0; x < l.X; ++x) {
      const int16_t* a = l.act_ptr(x, y);
      for (int64_t g = 0; g < groups; ++g) {
        const int16_t* ag = a + (dw ? 0 : l.group_channel_base(g));
        for (int64_t j = 0; j < per_group; ++j) {
          const int64_t lo = j * width, hi = std::min(span, lo + width);
          const int lanes = static_cast<int>(hi - lo);
          for (int i = 0; i < lanes; ++i) masks[i] = serial::term_mask(bits::magnitude(ag[lo + i]), encoding_);
          const serial::TermPlanes planes = serial::to_planes(masks, lanes);
          const size_t at = b.index(l, x, y, g * per_group + j);
          b.cycles[at] = static_cast<uint8_t>(serial::pragmatic_brick_cycles(planes, first_stage_bits_));
          b.terms[at] = static_cast<uint16_t>(planes.terms);
        }
      }
    }
  }
  return b;
}

LayerStats Pragmatic::simulate(const SimLayer& l, const SimContext& ctx) const {
  const WalkShape ws = walk_shape(l, grid_);
  const PragmaticBricks b = bricks(l, ws, ctx.threads);
  const bool dw = l.mapping == ChannelMapping::kDepthwise;
  const int64_t kg = l.filters_per_group();

  LayerStats st;
  st.macs = static_cast<uint64_t>(l.macs);
  uint64_t cycles = 0;
  // Sums over the bricks real windows read: once per layer for dense layers (every filter set
  // reads the same bricks), per filter set for depthwise ones (tiles read different channels).
  uint64_t column_cycles = 0;  // the bricks' cycles
  uint64_t terms = 0;          // the bricks' terms
  uint64_t bricks_read = 0;    // how many bricks were read

  // Which tiles carry distinct bricks: dense layers broadcast one activation stream to all tiles;
  // depthwise tiles take different channel sets.
  const int tile_count = dw ? grid_.tiles : 1;

  if (l.kind == LayerKind::kFC) {
    // One window: every (filter set, chunk) step goes to the next column in turn (spec §2.2);
    // the column is busy for the brick's cycles.
    std::vector<uint32_t> costs;
    costs.reserve(static_cast<size_t>(ws.filter_sets * ws.steps));
    for (int64_t g = 0; g < ws.group_passes; ++g) {
      for (int64_t f = 0; f < ws.filter_sets; ++f) {
        for (int64_t s = 0; s < ws.steps; ++s) {
          uint32_t cost = 0;
          for (int t = 0; t < tile_count; ++t) {
            const StepBrick sb = step_brick(l, grid_, ws, g, f, t, 0, s);
            if (sb.count == 0) continue;
            const int64_t chunk = dw ? f * grid_.tiles + t : g * ws.chunks + s % ws.chunks;
            const size_t at = b.index(l, sb.x, sb.y, chunk);
            cost = std::max<uint32_t>(cost, b.cycles[at]);
            column_cycles += b.cycles[at];
            if (dw || f == 0) terms += b.terms[at];
            ++bricks_read;
          }
          costs.push_back(std::max<uint32_t>(cost, 1));
        }
      }
    }
    cycles = fc_rotation_cycles(costs, grid_.columns);
  } else {
    // Per (group, window set): the steps' per-column costs, then the run-ahead walk. For dense
    // layers the costs are the same for every filter set, so one walk serves them all.
    const int64_t sets_walked = dw ? ws.filter_sets : 1;
    const int64_t repeat = dw ? 1 : ws.filter_sets;
    const int64_t total_ws = ws.group_passes * ws.window_sets;
    // Brick index offset of each step (ky, kx, chunk) from the window's origin brick.
    std::vector<size_t> step_offset(static_cast<size_t>(ws.steps));
    for (int64_t s = 0; s < ws.steps; ++s) {
      const int64_t pos = s / ws.chunks, j = s % ws.chunks;
      const int64_t dy = (pos / l.Kx) * l.dilation_y, dx = (pos % l.Kx) * l.dilation_x;
      step_offset[s] = static_cast<size_t>((dy * l.X + dx) * b.chunks_total + j);
    }
#pragma omp parallel num_threads(ctx.threads) if (ctx.threads > 1) \
    reduction(+ : cycles, column_cycles, terms, bricks_read)
    {
      std::vector<uint32_t> costs(static_cast<size_t>(ws.steps * grid_.columns));
#pragma omp for schedule(dynamic, 16)
      for (int64_t gw = 0; gw < total_ws; ++gw) {
        const int64_t g = gw / ws.window_sets, wset = gw % ws.window_sets;
        for (int64_t f = 0; f < sets_walked; ++f) {
          std::fill(costs.begin(), costs.end(), 0u);
          for (int c = 0; c < grid_.columns; ++c) {
            const int64_t w = wset * grid_.columns + c;
            if (w >= l.windows()) break;  // a partial window set: idle columns cost nothing
            if (!dw) {
              // Dense: one brick per step, the same for every tile; index arithmetic hoisted.
              const size_t base = b.index(l, l.window_x(w, 0), l.window_y(w, 0), g * ws.chunks);
              for (int64_t s = 0; s < ws.steps; ++s) {
                const size_t at = base + step_offset[s];
                costs[s * grid_.columns + c] = b.cycles[at];
                column_cycles += b.cycles[at];
                terms += b.terms[at];
              }
              bricks_read += static_cast<uint64_t>(ws.steps);
              continue;
            }
            for (int64_t s = 0; s < ws.steps; ++s) {
              uint32_t cost = 0;
              for (int t = 0; t < tile_count; ++t) {
                const StepBrick sb = step_brick(l, grid_, ws, g, f, t, w, s);
                if (sb.count == 0) continue;
                const size_t at = b.index(l, sb.x, sb.y, f * grid_.tiles + t);
                cost = std::max<uint32_t>(cost, b.cycles[at]);
                column_cycles += b.cycles[at];
                terms += b.terms[at];
                ++bricks_read;
              }
              costs[s * grid_.columns + c] = cost;
            }
          }
          cycles += run_ahead_cycles(costs.data(), ws.steps, grid_.columns, column_registers_) * repeat;
        }
      }
    }
  }

  // Events, counted like the other grid designs (docs/simulator-designs.md): a column with a
  // window fires all T x rows PEs for each of its busy cycles, padding rows and lanes included;
  // idle columns (no window, or waiting for a synchronisation) fire nothing. A term selects its
  // 16-bit weight shifted by the oneffset in every PE of the column: 16 bit-products and one
  // first-stage shift per PE; each busy PE cycle adds one second-stage shift, one adder-tree
  // pass over all lanes and one accumulator update. Dense layers walked one filter set for all
  // (conv: `column_cycles`, `terms`, `bricks_read` are per filter set; FC: column_cycles and
  // bricks_read cover every filter set, terms the first one).
  st.cycles = cycles;
  const uint64_t sips = static_cast<uint64_t>(grid_.tiles) * grid_.rows;
  const uint64_t fsets = static_cast<uint64_t>(ws.filter_sets);
  const bool conv_dense = !dw && l.kind == LayerKind::kConv;
  const uint64_t pe_rows = dw ? static_cast<uint64_t>(grid_.rows) : sips;
  const uint64_t fired = column_cycles * (conv_dense ? fsets : 1) * pe_rows;
  const uint64_t term_rows = terms * (dw ? 1 : fsets * sips);
  st.bit_products = term_rows * 16;
  st.shifter_ops = term_rows + fired;
  st.adder_tree_adds = fired * static_cast<uint64_t>(grid_.lanes - 1);
  st.accumulator_updates = fired;
  st.act_buffer_read_bits = bricks_read * (conv_dense ? fsets : 1) * static_cast<uint64_t>(grid_.lanes) * 16;
  const uint64_t steps_issued = static_cast<uint64_t>(ws.window_sets) * fsets * ws.group_passes * ws.steps;
  st.wgt_buffer_read_bits = steps_issued * sips * static_cast<uint64_t>(grid_.lanes) * 16;
  st.offchip_act_bytes = bytes_at(l.act_count, l.act_bits);
  st.offchip_wgt_bytes = bytes_at(l.wgt_count, l.wgt_bits);
  // A lane is busy one cycle per term of a real activation, for every real filter.
  st.lane_cycles_busy = terms * (dw ? 1 : static_cast<uint64_t>(kg));
  st.lane_cycles_total = cycles * static_cast<uint64_t>(grid_.tiles) * grid_.rows * grid_.lanes * grid_.columns;
  const TermEncoding enc = encoding_;
  st.ideal_bit_products = sum_over_macs(
      l, [enc](int16_t code) { return std::popcount(serial::term_mask(bits::magnitude(code), enc)) * 16; });
  return st;
}

}  // namespace

DesignEntry design_entry_pragmatic() {
  return {"pragmatic",
          "Bit-Pragmatic: activations as streams of oneffsets (zero bits skipped), two-stage shifting, column "
          "run-ahead (MICRO'17)",
          [](Params& p) -> std::unique_ptr<Design> { return std::make_unique<Pragmatic>(p); }};
}

}  // namespace eff::sim
