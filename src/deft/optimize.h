// `effectual optimize` (docs/deft.md): per conv/FC layer, a DeftNN configuration (packed format,
// synapse vector elimination alpha) or the fp32 engine's own kernel, chosen under an accuracy
// target with the search machinery of src/search (a search subset decides, a disjoint report
// subset reports), each candidate's speed measured in the engine (the layer's node time).
//
// 1. Every candidate (format x alpha) is timed on every layer at once: one graph per candidate
//    with all eligible layers rewritten, node times of interleaved rounds, medians.
// 2. Sensitivity: the model with one layer changed, per (layer, candidate) that is faster there
//    than the engine, evaluated on the search subset (lost images against fp32).
// 3. Greedy path under the target: moves ordered by time saved per lost image; each accepted
//    move's model is evaluated and kept only if the whole model still meets the target. Then a few
//    more moves past the target (the lossy end of the frontier, seed 004 Figure 14).
// 4. The Pareto frontier of the evaluated models (predicted time vs search accuracy); its points
//    timed end to end against the engine in the same run and evaluated on the report subset.
// 5. On more than one thread: which DeftLayers of the chosen plan run on one thread (timed end to
//    end; the plan records it, so run/bench/eval use it).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deft/deft_model.h"
#include "search/eval_set.h"
#include "search/target.h"

namespace eff::deft {

struct Candidate {
  bool engine = true;  // the layer as the fp32 engine runs it (oneDNN conv / inner product)
  Format format = Format::kFp32;
  double alpha = 2.0;        // above 1: no elimination
  std::string name() const;  // "engine", "fp8", "fp8@0.95"
};

struct OptimizeOptions {
  search::Target target;
  // kInt8 is tried without elimination only (its kernels run the whole depth).
  std::vector<Format> formats{Format::kDeft16Q, Format::kFp8, Format::kBf16Dot, Format::kInt8};
  std::vector<double> alphas{0.99, 0.95, 0.9, 0.8};  // besides no elimination
  Compensation compensation = Compensation::kFold;
  int64_t calibration_images = 256;  // the first images of the search subset (SVE, int8 ranges)
  int threads = 1;
  int64_t batch = 100;      // images per evaluation run
  int64_t speed_batch = 1;  // the batch the times are measured at
  int speed_rounds = 5;     // interleaved rounds (medians)
  int speed_runs = 10;      // runs per round
  int beyond_target = 6;    // moves past the target, for the frontier
  int max_frontier = 8;     // frontier points timed end to end and evaluated on the report subset
  // The model loaded again with a plan applied (the rewrite must run before the layout pass).
  std::function<Graph(const DeftModelPlan&)> load_with_plan;
  // Checkpoint (search/checkpoint.h): evaluations by configuration, replayed with `resume`.
  std::string checkpoint, fingerprint;
  bool resume = false;
  bool progress = false;
  std::function<void(const std::string&)> log;
};

struct LayerOption {
  Candidate candidate;
  int64_t kept = 0;   // synapses kept of the layer's depth
  double ms = 0;      // the layer's node time at speed_batch (median)
  int64_t lost = -1;  // search images lost with only this layer changed; -1: not evaluated
  bool alone_meets = false;
  bool duplicate = false;  // keeps the same synapses as a milder alpha in the same format
};

struct OptimizedLayer {
  std::string name;
  bool conv = false;
  int64_t depth = 0, rows = 0;
  std::vector<LayerOption> options;  // [0]: the engine, timed among the fastest candidate's layers
  int chosen = 0;
  double engine_blocked_ms = 0;  // the engine option's node time in the all-engine graph
  int threads = 0;               // a DeftLayer's thread cap in the written plan (0: the run's)
};

struct OptimizePoint {
  std::vector<int> choice;  // per layer, an index into its options
  double predicted_ms = 0;  // the engine's end-to-end time less the layer time saved
  search::Tally search;
  bool meets = false;  // the target on the search subset
  bool frontier = false;
  bool measured = false;  // the fields below are set (frontier points)
  double measured_ms = 0, engine_ms = 0;
  search::Tally report;
};

struct OptimizeResult {
  std::vector<OptimizedLayer> layers;
  std::vector<std::string> skipped;
  search::Reference search_ref, report_ref;
  std::vector<OptimizePoint> points;  // [0]: the engine alone
  int chosen = 0;                     // the point written out
  double engine_ms = 0;               // end to end, per-node median sum, at speed_batch
  bool report_met = false;            // the target as stated on the report subset
  DeftModelPlan plan;                 // the chosen point's
  int evaluations = 0, resumed = 0;
  int64_t calibration_images = 0;
  // With threads > 1: the chosen plan timed end to end with the team on every DeftLayer, with every
  // DeftLayer on one thread, and mixed (the team only where it paid per layer); "team", "one" or
  // "mixed" was written. At a speed batch of 2 or more, that plan with the batch split too
  // (DeftModelPlan::batch_split; split_ms, 0 when not timed): "split" where it was faster. Empty with
  // one thread.
  // The plan the search chose ran slower end to end than the engine, so the engine was written.
  bool engine_kept = false;
  struct ThreadChoice {
    double team_ms = 0, one_ms = 0, mixed_ms = 0, split_ms = 0;
    std::string chosen;
  } thread_choice;
};

OptimizeResult optimize(const Graph& graph, const search::EvalSet& search, const search::EvalSet& report,
                        const OptimizeOptions& o);

// The point optimize writes: `chosen`, or the engine's (points[0]) when `chosen` ran slower end to
// end than the engine in the frontier's timing (both in one run).
int point_to_write(const std::vector<OptimizePoint>& points, int chosen);

// optimize.json: the setup, the per-layer table (every candidate's time, kept synapses, lost
// images), the chosen configuration and its accuracy on both subsets.
nlohmann::json optimize_json(const OptimizeResult& r, const OptimizeOptions& o, const search::EvalSet& search,
                             const search::EvalSet& report, const std::string& model);
// frontier.json / frontier.csv: the Pareto points (seed 004 Figures 14-15).
nlohmann::json frontier_json(const OptimizeResult& r, const OptimizeOptions& o, const std::string& model);
std::string frontier_csv(const OptimizeResult& r);
// Per layer: what the chosen configuration runs and what it saved; "measured" for the sidecar.
nlohmann::json layer_measurements(const OptimizeResult& r);
std::string optimize_text(const OptimizeResult& r, const OptimizeOptions& o);

}  // namespace eff::deft
