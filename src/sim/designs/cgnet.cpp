// CGNet (seed 003; Hua et al., "Channel Gating Neural Networks", NeurIPS'19): the `systolic`
// array running channel-gated layers. Per group and filter tile, the base path (the first p of
// the c input channels, every kernel tap) streams every output pixel through the array, as the
// ungated array would; the gate compares each output's base partial sum with the layer's
// threshold; the conditional path (the other c - p channels) then streams only the pixels whose
// gate is on, through the same array (seed 003: "base (dense) & conditional (sparse) paths reuse
// the same systolic array"). Grouped gates (gates file `grouping`): filter block k's base path is
// input set k, so filter tiles stay within a block (gating/gates_file.h). Decisions come from the layer's real values
// (sim/gate_decisions.h). What the schedule assumes, and how it compares with the seed's 2.3x:
// docs/simulator-designs.md.
#include <cmath>
#include <limits>

#include "core/error.h"
#include "sim/design.h"
#include "sim/gate_decisions.h"
#include "sim/gates_file.h"
#include "sim/machinery.h"
#include "sim/systolic/array.h"

namespace eff::sim {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

class CGNet final : public Design {
 public:
  explicit CGNet(Params& p)
      : array_{static_cast<int>(p.integer("rows", 32, 1, 1024, "PE rows: reduction elements (taps x channels) per tile",
                                          "as `systolic` (the array CGNet shares between its paths)")),
               static_cast<int>(p.integer("cols", 32, 1, 1024, "PE columns: filters per tile", "as rows"))},
        memory_(cost::read_memory(p, systolic::equivalent_grid(array_))),
        base_fraction_(
            p.real("base_fraction", 0.25, 1e-9, 1.0,
                   "base path: floor(fraction x c) of each group's c input channels (at least 1, as `effectual gate`); "
                   "layers the --gates file does not set",
                   "seed 003: 1/8 and 1/16 on ResNet-18 CIFAR-10; gates file format example 0.25")),
        threshold_(p.real("threshold", 0.0, -kInf, kInf,
                          "gate threshold on the base partial sum (float domain of the pre-activation output); "
                          "-inf: every output takes the conditional path (the layer runs as `systolic`)",
                          "seed 003 (learned per layer; 0 predicts the ReLU's zeros)")),
        schedule_(schedule_of(p.choice(
            "schedule", "pixel", {"pixel", "filter", "packed"},
            "conditional path: `pixel` streams a pixel through a filter tile when any of its filters' gates is on "
            "(columns in lock-step); `filter` lets every column stream only its own gated-on pixels (per-column "
            "activation feeds); `packed` spreads the tile's gated-on outputs evenly over the columns (every PE "
            "holds all the tile's filters' weights)",
            "seed 003 'sampled feature convolution'; our assumptions (docs/simulator-designs.md)"))) {}

  Grid grid() const override { return systolic::equivalent_grid(array_); }

  cost::Inventory inventory() const override {
    using cost::Part;
    cost::Inventory inv = systolic::array_inventory(array_, memory_);
    const double cols = array_.cols;
    inv.add("gate comparators", Part::kAdderBit, 32.0 * cols, "one 32-bit comparison per column (base partial sum)");
    inv.add("gate thresholds", Part::kRegisterBit, 32.0 + 16.0, "the layer's threshold and base-channel count");
    inv.add("gate decision buffer (SRAM)", Part::kSram, cols * kDecisionPixels / 8.0 / 1024.0,
            fmt::format("{} pixels x {} filters, 1 bit each", kDecisionPixels, array_.cols), 1);
    const double scanners = schedule_ == Schedule::kPixel ? 1.0 : cols;
    inv.add("active-pixel scanners", Part::kMuxBit, scanners * 12.0 * 12.0,
            "priority encoder + 12-bit pixel address over the decision bits");
    if (schedule_ != Schedule::kPixel) {
      inv.add("per-column activation feeds", Part::kRegisterBit, 8.0 * array_.rows * cols,
              "each column's own row of 8-bit activations");
    }
    if (schedule_ == Schedule::kPacked) {
      inv.add("PE weight register files", Part::kRegisterBit, 8.0 * array_.rows * cols * (cols - 1),
              "schedule packed: every PE holds the weights of all the tile's filters");
      inv.add("PE weight selects", Part::kMuxBit, 8.0 * array_.rows * cols * (cols - 1), "one 8-bit select per weight");
    }
    return inv;
  }

  LayerStats simulate(const SimLayer& l, const SimContext& ctx) const override {
    int64_t base = 0, blocks = 1;
    gating::Grouping grouping = gating::Grouping::kFirst;
    std::vector<double> thresholds;  // per filter; empty: ungated
    choose_gate(l, ctx, base, thresholds, grouping, blocks);
    const int64_t channels = model_channels(l);
    const bool all_on = std::all_of(thresholds.begin(), thresholds.end(), [](double t) { return t == -kInf; });
    if (all_on || base >= channels) {  // configured as an ordinary layer
      return systolic::stats_of(systolic::run_layer_dense(l, array_), l, array_);
    }
    const std::vector<uint8_t> on =
        channel_gate_decisions(l, base, thresholds, std::max(1, ctx.threads), grouping, blocks);
    const systolic::Gemm g = systolic::gemm_of(l);
    const int64_t M = g.pixels, W = l.windows();
    systolic::Counts c;
    c.cycles = static_cast<uint64_t>(array_.rows);
    std::vector<uint8_t> any_on(static_cast<size_t>(M));
    std::vector<int64_t> on_count;
    // Grouped gating: each block of filters has its own base channels, so a filter tile stays
    // within one block (the base path is a grouped conv; the conditional path streams the other
    // channels of the block's filters).
    const int64_t per_block = g.filters / blocks;
    for (int64_t group = 0; group < g.groups; ++group) {
      for (int64_t n0 = 0; n0 < g.filters; n0 += std::min<int64_t>(array_.cols, per_block - n0 % per_block)) {
        const int64_t cols_used = std::min<int64_t>(array_.cols, per_block - n0 % per_block);
        systolic::run_dense(c, array_, M, g.taps * base, cols_used);  // base path: every pixel
        c.comparisons += static_cast<uint64_t>(M * cols_used);
        std::fill(any_on.begin(), any_on.end(), 0);
        on_count.assign(static_cast<size_t>(cols_used), 0);
        for (int64_t n = 0; n < cols_used; ++n) {
          const uint8_t* row = on.data() + (group * g.filters + n0 + n) * W;
          for (int64_t m = 0; m < M; ++m) {
            any_on[static_cast<size_t>(m)] |= row[m];
            on_count[static_cast<size_t>(n)] += row[m];
          }
        }
        int64_t pixels = 0, pairs = 0, busiest = 0;
        for (uint8_t a : any_on) pixels += a;
        for (int64_t k : on_count) {
          pairs += k;
          busiest = std::max(busiest, k);
        }
        const int64_t cond_rows = g.taps * (g.channels - base);
        for (int64_t r0 = 0; r0 < cond_rows; r0 += array_.rows) {
          const int64_t rows_used = std::min<int64_t>(array_.rows, cond_rows - r0);
          const auto useful = static_cast<uint64_t>(pairs * rows_used);
          if (schedule_ == Schedule::kPixel) {
            systolic::run_tile(c, array_, pixels, rows_used, cols_used, useful);
          } else if (pairs > 0) {
            // filter: columns stream their own pixels, the busiest one sets the time; packed: the
            // outputs are spread evenly over the columns.
            const int64_t longest = schedule_ == Schedule::kFilter ? busiest : (pairs + cols_used - 1) / cols_used;
            c.cycles += systolic::tile_cycles(longest, array_);
            c.pe_macs += useful;
            c.useful_macs += useful;
            c.act_values += useful;
            c.wgt_values += static_cast<uint64_t>(rows_used * cols_used);
            c.output_updates += static_cast<uint64_t>(pairs);
          }
        }
      }
    }
    return systolic::stats_of(c, l, array_);
  }

 private:
  static constexpr double kDecisionPixels = 4096;  // 64 x 64 output pixels per layer

  // The layer's base channels and threshold: the --gates file's entry when a channel-gates file
  // is given (a layer it does not list runs ungated), else the design's parameters on every conv
  // layer but the first (CGNet keeps the image layer and the classifier dense).
  void choose_gate(const SimLayer& l, const SimContext& ctx, int64_t& base, std::vector<double>& thresholds,
                   gating::Grouping& grouping, int64_t& blocks) const {
    const int64_t channels = model_channels(l);
    if (ctx.gates && ctx.gates->kind == GateKind::kChannel) {
      const LayerGate* lg = ctx.gates->find(l.name);
      if (!lg) return;
      if (lg->base_channels > channels) {
        fail<ConfigError>("{}: layer '{}': base_channels {} is more than the layer's {} input channels per group",
                          ctx.gates->path, l.name, lg->base_channels, channels);
      }
      if (!lg->thresholds.empty() && static_cast<int64_t>(lg->thresholds.size()) != l.K) {
        fail<ConfigError>("{}: layer '{}': {} thresholds for {} output channels", ctx.gates->path, l.name,
                          lg->thresholds.size(), l.K);
      }
      if (ctx.gates->grouping != gating::Grouping::kFirst) {
        const int64_t filters = l.mapping == ChannelMapping::kDepthwise ? 1 : l.filters_per_group();
        if (channels % lg->groups != 0 || filters % lg->groups != 0 || lg->base_channels != channels / lg->groups)
          fail<ConfigError>(
              "{}: layer '{}': groups {} must divide its {} input and {} output channels per group, "
              "base_channels = input channels / groups",
              ctx.gates->path, l.name, lg->groups, channels, filters);
        grouping = ctx.gates->grouping;
        blocks = lg->groups;
      }
      base = lg->base_channels;
      thresholds = filter_thresholds(*lg, l.K);
      return;
    }
    if (l.kind != LayerKind::kConv || l.first_layer) return;
    base = std::clamp<int64_t>(static_cast<int64_t>(std::floor(base_fraction_ * double(channels))), 1, channels);
    thresholds.assign(static_cast<size_t>(l.K), threshold_);
  }

  enum class Schedule { kPixel, kFilter, kPacked };
  static Schedule schedule_of(const std::string& s) {
    return s == "filter" ? Schedule::kFilter : s == "packed" ? Schedule::kPacked : Schedule::kPixel;
  }

  systolic::ArrayConfig array_;
  cost::OnChipMemory memory_;
  double base_fraction_, threshold_;
  Schedule schedule_;
};

}  // namespace

DesignEntry design_entry_cgnet() {
  return {"cgnet", "channel-gated systolic array: base and conditional paths share the array (seed 003)",
          [](Params& p) -> std::unique_ptr<Design> { return std::make_unique<CGNet>(p); }};
}

}  // namespace eff::sim
