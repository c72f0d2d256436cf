// The near-zero threshold search (docs/search.md, "thresholds"): per conv/FC layer a threshold t
// (|a| < t -> 0 on the input activations, Cnvlutin's pruning) maximising the MAC-weighted
// fraction of activations skipped while a Target holds. Candidates per layer: 0 and
// max|a| x 2^(k - levels) for k = 1..levels. Phases as the precision search: sensitivity (each
// layer alone, binary search for the largest candidate that meets the target), lift (every layer
// the same number of levels down, the fewest that meet the target), descent (each layer, the most
// MAC-weighted skipped fraction to regain first, bisected back towards its sensitivity level),
// final check.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/geometry.h"
#include "search/eval_set.h"
#include "search/precision_search.h"
#include "search/target.h"

namespace eff::search {

struct ThresholdOptions {
  Target target;
  int threads = 0;
  int64_t batch = 100;
  int levels = 12;
  // Transforms every evaluation applies under the thresholds (`search all`: the precision profile
  // found first, so the thresholds are chosen for the model as it will run). The target stays
  // relative to fp32.
  std::map<std::string, LayerTransform> base;
  EvaluationMemory* memory = nullptr;  // a sweep's shared memory (same base, set and levels); null: own
  // As the precision search's (docs/search.md): every evaluation kept in `checkpoint`; `resume`
  // loads it first (its `fingerprint` must match). No checkpoint with a shared memory.
  std::string checkpoint, fingerprint;
  bool resume = false;
  std::function<void(const std::string&)> log;
  bool progress = true;
};

struct ThresholdChoice {
  int index = 0;
  std::string name;
  int64_t macs = 0;
  double max_abs = 0;
  float threshold = 0;
  int level = 0, sensitivity_level = 0;
  // Of the input activations as the layer multiplies them on the search set (after the base
  // profile's rounding: values it rounds to zero count): zeros without thresholds, and zeros with
  // the thresholds found (|a| < threshold pruned first), which is what Cnvlutin skips.
  double zero_fraction = 0;
  double skipped_fraction = 0;
};

struct ThresholdResult {
  std::vector<ThresholdChoice> layers;
  SubsetScore search, report;
  EvaluationCounts evaluations;
  double zero_mac_weighted = 0, skipped_mac_weighted = 0;
  double wall_seconds = 0;
};

ThresholdResult search_thresholds(const Graph& graph, const std::vector<LayerGeometry>& geometry, const EvalSet& search,
                                  const EvalSet& report, const ThresholdOptions& options);

std::map<std::string, LayerTransform> threshold_transforms(const ThresholdResult& r);
// `base` with the thresholds of `r` added (what the thresholds were searched and judged with).
std::map<std::string, LayerTransform> with_thresholds(std::map<std::string, LayerTransform> base,
                                                      const ThresholdResult& r);
nlohmann::json thresholds_file_json(const ThresholdResult& r);

}  // namespace eff::search
