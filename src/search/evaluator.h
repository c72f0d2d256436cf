// Runs a model on an EvalSet under given per-layer value transforms and tallies what a Target
// needs. The fp32 pass also records each layer's operand ranges (the search's starting point).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/executor.h"
#include "engine/thread_governor.h"
#include "graph/ir.h"
#include "search/eval_set.h"
#include "search/target.h"

namespace eff::search {

// An operand's range over a set: the largest magnitude and whether any value is negative.
struct OperandRange {
  double max_abs = 0;
  bool negative = false;
};
struct LayerRanges {
  OperandRange activations, weights;
};

class Evaluator {
 public:
  // `batch` images per executor run; the executor uses `threads` cores (0: all).
  Evaluator(const Graph& graph, int threads, int64_t batch);

  // The fp32 model on `set`; with `ranges`, fills one entry per layer (execution order).
  Reference reference(const EvalSet& set, std::vector<LayerRanges>* ranges = nullptr) const;

  // The model with `transforms` on `set`. With `early_stop`, stops after the first batch at which
  // the judge is certain (the tally is then incomplete, `met` still exact).
  Tally run(const EvalSet& set, const Reference& ref, const Judge& judge,
            const std::map<std::string, LayerTransform>& transforms, bool early_stop) const;

  // The input activations of `layer` for every image of `set` (labels and indices kept), with the
  // transforms of `before` on the earlier layers (the rest are ignored; the layer's own input is
  // as it arrives, before its transform): the images of an evaluation that starts at that layer
  // (graph_from_layer). Only the graph up to the layer runs.
  EvalSet layer_inputs(const EvalSet& set, const LayerInfo& layer,
                       const std::map<std::string, LayerTransform>& before = {}) const;

  const std::vector<LayerInfo>& layers() const { return layers_; }

 private:
  const Graph& graph_;
  int threads_;
  // One for every executor this evaluator makes, so the load it learnt carries over.
  std::shared_ptr<ThreadGovernor> governor_;
  int64_t batch_;
  std::vector<LayerInfo> layers_;
};

// The part of `graph` from `layer`'s node on, with that layer's input activations as its only
// input, so that evaluations which leave every earlier layer in fp32 need not run the prefix again.
// Empty when any other value crosses the cut (a skip connection around the layer, a graph input
// used later), and for the first layer (nothing to save).
std::optional<Graph> graph_from_layer(const Graph& graph, const LayerInfo& layer);

// Tallies by configuration, shared by the searches of a sweep (same model, search set and
// batch, several targets): a tally's counts do not depend on the target, only its `met` does.
using EvaluationMemory = std::map<std::string, Tally>;

// A remembered tally as `judge` sees it: a complete one always answers (met recomputed); an
// early-stopped one only when its outcome is already certain under this judge (else nullopt).
std::optional<Tally> rejudge(const Tally& t, const Judge& judge);

// Index of the largest of n scores (ties: the lower index), as evaluate()'s top_k.
int64_t argmax(const float* scores, int64_t n);

}  // namespace eff::search
