// The accuracy / speed frontier of `search precision|thresholds --sweep` (docs/search.md): one
// search per target, sharing the memory of evaluations (a tally's counts do not depend on the
// target), one row per target in frontier.json and frontier.csv.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "search/precision_search.h"
#include "search/search_report.h"
#include "search/threshold_search.h"

namespace eff::search {

// The targets of a sweep: `--sweep-targets` ("100,99.5,99" in percent kept, or dB for the SNR)
// or, when empty, keep 100, 99.5, 99, 98, 97, 95 and 90% (no default for the SNR).
std::vector<Target> sweep_targets(const Target& base, const std::string& list);

struct PrecisionPoint {
  Target target;
  SearchResult result;
};
struct ThresholdPoint {
  Target target;
  ThresholdResult result;
};

// Runs the searches in the order of `targets` with one shared memory; `o.target` is replaced.
std::vector<PrecisionPoint> sweep_precision(const Graph& graph, const std::vector<LayerGeometry>& geometry,
                                            const EvalSet& search, const EvalSet& report, SearchOptions o,
                                            const std::vector<Target>& targets);
std::vector<ThresholdPoint> sweep_thresholds(const Graph& graph, const std::vector<LayerGeometry>& geometry,
                                             const EvalSet& search, const EvalSet& report, ThresholdOptions o,
                                             const std::vector<Target>& targets);

// x = Stripes' ideal speedup (precision) or the MAC-weighted skipped fraction (thresholds),
// y = the accuracies on both subsets.
nlohmann::json precision_frontier_json(const std::vector<PrecisionPoint>& points, const SearchSetup& setup);
std::string precision_frontier_csv(const std::vector<PrecisionPoint>& points);
nlohmann::json threshold_frontier_json(const std::vector<ThresholdPoint>& points, const SearchSetup& setup);
std::string threshold_frontier_csv(const std::vector<ThresholdPoint>& points);
std::string precision_frontier_text(const std::vector<PrecisionPoint>& points);
std::string threshold_frontier_text(const std::vector<ThresholdPoint>& points);

}  // namespace eff::search
