// The precision search (docs/search.md): per conv/FC layer, the fixed-point format of the input
// activations and of the weights that minimises MAC-weighted bits while a Target holds.
//   1. ranges: integer bits and sign from the fp32 run on the search set;
//   2. sensitivity: each operand alone reduced (the rest fp32), the fewest fraction bits that
//      meet the target (binary search);
//   3. lift: from those minima together, the fewest extra bits given to every operand alike that
//      meet the target;
//   4. descent: per operand (largest saving first) the fewest bits, down to its sensitivity
//      minimum, that keep the target (bisection);
//   5. final check on the search set, and the report set evaluated once.
// Every evaluation is remembered by configuration, in a checkpoint file when one is given: a
// resumed search replays the same decisions from it without re-running them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/geometry.h"
#include "engine/value_transform.h"
#include "search/eval_set.h"
#include "search/evaluator.h"
#include "search/formats.h"
#include "search/target.h"

namespace eff::search {

struct SearchOptions {
  Target target;
  Objective objective = Objective::kActivations;
  int threads = 0;
  int64_t batch = 100;
  std::string checkpoint;                       // file ("" for none)
  bool resume = false;                          // load `checkpoint` first (it must come from the same search)
  std::string fingerprint;                      // identifies the search (model, subsets, target, objective)
  std::function<void(const std::string&)> log;  // phase messages (may be empty)
  bool progress = true;
  // A sweep's shared memory of evaluations (see EvaluationMemory); null: this search's own. Give
  // no checkpoint with it (the checkpoint would hold other targets' evaluations).
  EvaluationMemory* memory = nullptr;
  // By layer name: ranges to take the integer bits from instead of the fp32 maxima (clipping
  // thresholds, `search precision --clip`, src/quant/search_clip.h). Layers not listed keep theirs.
  std::map<std::string, LayerRanges> clipped_ranges;
};

struct OperandChoice {
  FixedPointFormat format;        // the result
  int sensitivity_frac_bits = 0;  // phase 2: alone
  OperandRange range;             // on the search set, fp32
};

struct LayerChoice {
  int index = 0;
  std::string name, kind;
  LayerCostShape shape;
  OperandChoice activations, weights;
};

struct SubsetScore {
  int64_t images = 0;
  bool labelled = false;
  double fp32_top1 = 0;  // points (labelled sets)
  double top1 = 0;
  double agreement = 0;  // points of images whose top-1 equals fp32's
  int64_t lost = 0;      // images fp32 gets right and the found formats get wrong
  double snr_db = 0;
  double metric = 0, fp32_metric = 0;  // the target's metric
  bool met = false;
};

struct EvaluationCounts {
  int sensitivity = 0, ascent = 0, descent = 0, final_checks = 0;
  int from_checkpoint = 0;  // answered by a resumed checkpoint instead of run
  int from_memory = 0;      // answered by an earlier search of a sweep instead of run
  int prefix_passes = 0;    // passes up to a layer computing its inputs for evaluations from it
  int64_t images = 0;       // images run (early stops make this less than evaluations x set size)
  int total() const { return sensitivity + ascent + descent + final_checks; }
};

struct SearchResult {
  std::vector<LayerChoice> layers;
  SubsetScore search, report;
  EvaluationCounts evaluations;
  double cost = 0, cost_at_16_bits = 0;
  double wall_seconds = 0;
};

// The scores of a complete (or early-stopped) tally against its reference.
SubsetScore score_subset(const Reference& ref, const Judge& judge, const Tally& t, bool labelled);

// `geometry`: one entry per layer of the graph (model_geometry), in execution order.
SearchResult search_precision(const Graph& graph, const std::vector<LayerGeometry>& geometry, const EvalSet& search,
                              const EvalSet& report, const SearchOptions& options);

// The found formats as the engine and the simulator take them (layer name -> transform).
std::map<std::string, LayerTransform> transforms_of(const std::vector<LayerChoice>& layers);

}  // namespace eff::search
