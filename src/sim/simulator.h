// The simulation driver: builds the chosen designs from the registry and a YAML configuration,
// pairs each with a DaDianNao of the same grid, simulates layers as value sources produce them
// (live capture, traces, synthetic values) and keeps one LayerStats per (image, layer, design).
// Results are a plain struct; JSON (the source of truth), CSV and the terminal table derive from
// it (docs/simulator.md).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sim/cost/dram.h"
#include "sim/cost/energy.h"
#include "sim/cost/inventory.h"
#include "sim/cost/technology.h"
#include "sim/design.h"

namespace eff::sim {

struct DesignInstance {
  std::string label;  // unique name in results ("stripes", or the config's `name:`)
  std::string id;     // registry id
  std::unique_ptr<Design> design;
  int baseline = -1;  // index into DesignSet::baselines
};

struct DesignSet {
  std::vector<DesignInstance> designs;
  std::vector<std::unique_ptr<Design>> baselines;  // one DaDianNao per distinct grid
  std::vector<Grid> baseline_grids;
  std::vector<cost::OnChipMemory> baseline_memories;  // the same capacities as the designs they serve
};

// `list`: "all" or comma-separated registry ids. `config_text`: YAML (may be empty), `file` names
// it in errors. Config format: {designs: [{design: ID, name: LABEL, <param>: value, ...}]}; entries
// configure (and, with --designs absent, select) designs. Unknown keys -> ConfigError.
DesignSet build_designs(const std::string& list, const std::string& config_text, const std::string& file);
DesignSet build_designs_from_file(const std::string& list, const std::string& config_path);
// The declared parameters of a design (defaults, meaning, source), for --describe.
std::vector<ParamDecl> describe_design(const std::string& id);

struct LayerRecord {
  int image = 0;
  int layer = 0;
  std::string name;
  LayerKind kind = LayerKind::kConv;
  int design = 0;
  LayerStats stats;
  LayerStats baseline_stats;  // its DaDianNao's (results() fills in the memory writes of both)
  uint64_t baseline_cycles = 0;
  cost::EnergyBreakdown energy;           // pJ, this design on this layer
  cost::EnergyBreakdown baseline_energy;  // the DaDianNao of the same grid on this layer
  // Memory (cost/memory.h): what the timeline needs, and the stalls results() computes for the
  // design and for its DaDianNao (their leakage and clock energy is added to `energy`).
  int64_t filter_sets = 1, baseline_filter_sets = 1;
  uint64_t output_bytes = 0;  // the layer's outputs at 16 bits
  // Weights stored input-major off-chip (SimLayer::wgts_input_major_offchip): the contiguous bytes
  // one filter-set step reads per input, for the design and its DaDianNao (0: filter-major, one
  // contiguous block per step).
  uint64_t weight_run_bytes = 0, baseline_weight_run_bytes = 0;
  uint64_t baseline_offchip_act_bytes = 0, baseline_offchip_wgt_bytes = 0;
  uint64_t memory_stall_cycles = 0, baseline_memory_stall_cycles = 0;
  // Proteus-style packing: the layer's input activations and weights off-chip at 16 bits and at
  // the layer's precisions (seed 001 §5).
  uint64_t footprint_16bit_bytes = 0, footprint_packed_bytes = 0;
  // --check-values: -1 not checked (no reference or the design cannot recompute), 0 match,
  // 1 mismatch; the largest |recomputed - engine| relative to the layer's largest |output|.
  int check = -1;
  double check_error = 0;
};

// Compares a design's scheduled recomputation with the layer's reference output: -1 when it
// cannot be checked, else 0 / 1 and the relative error (tolerance 1e-3 of the largest output,
// room for fp32 accumulation and for 16-bit codes of unprofiled tensors).
int check_layer_values(const Design& d, const SimLayer& l, double& relative_error);

struct Totals {
  LayerStats stats;
  uint64_t baseline_cycles = 0;
  cost::EnergyBreakdown energy;
  cost::EnergyBreakdown baseline_energy;
  uint64_t memory_stall_cycles = 0, baseline_memory_stall_cycles = 0;
  uint64_t footprint_16bit_bytes = 0, footprint_packed_bytes = 0;
  double packing_saving_pj = 0;  // off-chip energy the packing saves
  double speedup_with_memory() const {
    const uint64_t c = stats.cycles + memory_stall_cycles;
    return c ? double(baseline_cycles + baseline_memory_stall_cycles) / double(c) : 0.0;
  }
  // Seed 001 Table 1's "relative energy efficiency": DaDianNao's chip energy over the design's.
  double energy_efficiency() const { return energy.on_chip() > 0 ? baseline_energy.on_chip() / energy.on_chip() : 0.0; }
  // The same with off-chip transfers included (system energy).
  double system_energy_efficiency() const {
    return energy.total() > 0 ? baseline_energy.total() / energy.total() : 0.0;
  }
  double speedup() const { return stats.cycles ? double(baseline_cycles) / double(stats.cycles) : 0.0; }
  double ideal_speedup() const {
    return stats.ideal_bit_products ? double(stats.macs) * 256.0 / double(stats.ideal_bit_products) : 0.0;
  }
  double utilisation() const {
    return stats.lane_cycles_total ? double(stats.lane_cycles_busy) / double(stats.lane_cycles_total) : 0.0;
  }
};

struct SimResults {
  std::vector<std::string> designs;  // labels, in order
  std::vector<std::string> design_ids;
  std::vector<Grid> grids;
  std::vector<LayerRecord> records;  // sorted by (image, layer, design)
  // Per design: conv, fc, all.
  std::vector<Totals> conv, fc, all;
  int images = 0;
  std::string memory_model;                  // "bandwidth only: ..." or "DRAM timing: ..." (--dram)
  std::map<std::string, std::string> notes;  // source, precision rule, ...
  // Cost model: the technology, and per design its area and its DaDianNao's.
  std::string technology;  // node (file)
  double frequency_hz = 0;
  std::vector<cost::AreaBreakdown> areas, baseline_areas;
  double relative_area(size_t d) const {
    return baseline_areas[d].total_mm2 > 0 ? areas[d].total_mm2 / baseline_areas[d].total_mm2 : 0.0;
  }
  // Average chip power of a design over `t` (W): its on-chip energy (memory stalls included) over
  // its cycles with memory at the clock.
  double power_w(const Totals& t) const {
    const double cycles = double(t.stats.cycles + t.memory_stall_cycles);
    return cycles > 0 ? t.energy.on_chip() * 1e-12 / (cycles / frequency_hz) : 0.0;
  }
};

class SimRun {
 public:
  // `technology`: the table energy and area are priced with (default: the built-in 65 nm one).
  SimRun(const DesignSet& set, SimContext ctx, const cost::Technology* technology = nullptr);
  // --dram: DDR4 timing for the memory timeline (cost/dram.h); unset: bandwidth only.
  void set_dram(const cost::DramTiming& dram) { dram_ = dram; }
  // Simulates every design (and baseline) on the layer. Thread-safe.
  void simulate(const SimLayer& layer);
  // Sorted records and totals; independent of the order layers and images arrived in.
  SimResults results() const;
  // Some design (or --check-values) reads the weights.
  bool needs_weights() const;

 private:
  void add_memory(SimResults& r) const;
  const DesignSet& set_;
  SimContext ctx_;
  cost::Technology technology_;
  std::optional<cost::DramTiming> dram_;
  std::vector<cost::CostModel> costs_, baseline_costs_;
  mutable std::mutex mu_;
  std::vector<LayerRecord> records_;
};

nlohmann::json to_json(const SimResults& r);
std::string layers_csv(const SimResults& r);
std::string totals_csv(const SimResults& r);
// The seed's Table 1 performance column: one row per design, speedups over its DaDianNao for
// conv, FC and all layers, plus ideal speedup (potential) and utilisation.
std::string format_table(const SimResults& r);

}  // namespace eff::sim
