// Per-layer gate thresholds found with accuracy in the loop (docs/gating.md): the model's eligible
// conv layers run as GatedConv nodes (gating/gates.h) and the search (search/level_search.h) picks,
// per layer, a level k of `levels`: the threshold below which a fraction k/levels of the layer's
// gate values fall on the search subset (sampled on the fp32 model), so level 0 gates nothing off
// and the top level gates everything off. Every evaluation runs the gated engine for real; the
// FLOPs a configuration executes are counted from the gates the kernels actually opened.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/geometry.h"
#include "engine/model.h"
#include "gating/gates.h"
#include "search/eval_set.h"
#include "search/precision_search.h"
#include "search/target.h"

namespace eff::gating {

struct GateSearchOptions {
  search::Target target;
  GateKind kind = GateKind::kChannel;
  double base_fraction = 0.25;  // channel gating
  // Channel gating: kFirst, the first base_fraction of each group's input channels for every output;
  // grouped (base_fraction = 1/G), G groups per layer (fewer where G does not divide the layer's
  // input and output channels per group: their greatest common divisor), gating/gates_file.h.
  Grouping grouping = Grouping::kFirst;
  int bits = 8, high_bits = 4;  // precision gating: B and B_hb
  int levels = 16;              // candidate gated-off fractions k / levels
  // One threshold per output channel: the layer's searched level is a threshold z on the gate value
  // normalised by the channel's mean and deviation on the search subset (the seed's normalised
  // partial sum), each channel's threshold mean + z x deviation; otherwise one raw threshold a layer.
  bool per_channel = false;
  // Evaluate this plan (its thresholds, base channels and code formats, e.g. a trained model's
  // gates file) on both subsets instead of searching; layers it does not list run ungated.
  const GatePlan* fixed = nullptr;
  int threads = 0;
  int64_t batch = 100;
  int64_t samples_per_image = 32;  // gate values sampled per layer and image for the candidates
  std::string checkpoint, fingerprint;
  bool resume = false;
  std::function<void(const std::string&)> log;
  bool progress = true;
};

struct GateLayerResult {
  std::string name;
  int64_t macs = 0;     // per image, ungated
  int64_t outputs = 0;  // output elements per image (each has one gate)
  int64_t channels_per_group = 0, base_channels = 0;
  int64_t groups = 1;                       // grouped channel gating: the layer's G
  int64_t base_macs = 0;                    // per image: the base path (channel gating)
  int64_t conditional_macs_per_output = 0;  // the conditional path of one gated-on output
  int level = 0, sensitivity_level = 0;
  float threshold = 0;  // per_channel: the normalised threshold z
  int frac_bits = 0;
  bool is_signed = false;
  double off_search = 0, off_report = 0;  // fraction of gates off (precision: the sparsity Sp)
  // Channel gating: ungated MACs / executed MACs on the report subset; precision: B_avg there.
  double flop_reduction = 1, b_avg = 0;
};

// The seed's easy/hard view: per class of the report subset, the FLOP reduction of images the fp32
// model classifies right with a softmax probability of at least 0.9 (easy) and of the rest (hard).
struct ClassView {
  int64_t label = 0;
  int64_t easy = 0, hard = 0;
  double easy_reduction = 1, hard_reduction = 1, all_reduction = 1;
};

struct GateResult {
  GateSearchOptions options;
  GatePlan plan;
  std::vector<GateLayerResult> layers;
  std::vector<std::string> skipped;  // conv/FC layers not gated ("name: why")
  search::SubsetScore search, report;
  search::EvaluationCounts evaluations;
  int64_t network_macs = 0;                           // per image, every conv/FC layer
  double reduction_search = 1, reduction_report = 1;  // network FLOP reduction
  double b_avg_report = 0;                            // precision: MAC-weighted B_avg over gated layers
  std::vector<ClassView> classes;
  double wall_seconds = 0;
};

// `geometry`: model_geometry of the model (every conv/FC layer, execution order). With
// options.fixed, no search: the plan's gates are measured like a search's final result (kind, B and
// B_hb are taken from the plan).
GateResult search_gates(const Model& model, const std::vector<LayerGeometry>& geometry, const search::EvalSet& search,
                        const search::EvalSet& report, const GateSearchOptions& options);

}  // namespace eff::gating
