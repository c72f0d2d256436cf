// What a precision search leaves behind: precision_profile.json (the format every
// --precision-profile takes), search.json (formats, accuracies, evaluations, the seed's notation,
// the speedups they imply), a terminal summary, and the simulated speedup of every design with the
// found profile on the report subset.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "graph/ir.h"
#include "search/eval_set.h"
#include "search/precision_search.h"
#include "search/threshold_search.h"
#include "sim/simulator.h"

namespace eff::search {

// Everything about the run that is not in the result (for search.json).
struct SearchSetup {
  std::string model;
  std::string search_source, report_source;
  uint64_t seed = 0;
  bool shuffled = false;  // subsets drawn by the seeded shuffle (else two data sets)
};

// One subset's score as every search's JSON gives it (images, metric, target met, agreement, SNR;
// top-1 and lost images when labelled).
nlohmann::json subset_json(const SubsetScore& s);

nlohmann::json precision_profile_json(const SearchResult& r);

// Activation / weight precisions P per layer in execution order, and the conv layers' only.
std::vector<int> activation_bits(const SearchResult& r);
std::vector<int> weight_bits(const SearchResult& r);

// `designs` ("all" or a list) with their DaDianNao, live on images [0, images) of `set` with
// `transforms` in the engine and in the simulator.
sim::SimResults simulate_designs(const Graph& graph, const std::map<std::string, LayerTransform>& transforms,
                                 const EvalSet& set, int64_t images, int threads, const std::string& designs);
// Every registered design with the found formats.
sim::SimResults simulate_with_profile(const Graph& graph, const SearchResult& r, const EvalSet& set, int64_t images,
                                      int threads);

nlohmann::json search_json(const SearchResult& r, const SearchSetup& setup, const SearchOptions& o,
                           const sim::SimResults* sim);
std::string summary_text(const SearchResult& r, const SearchOptions& o, const sim::SimResults* sim);

// thresholds.json's companion: per-layer thresholds, skipped fractions, accuracies, and
// Cnvlutin's speedup over DaDianNao without and with the thresholds.
nlohmann::json threshold_search_json(const ThresholdResult& r, const SearchSetup& setup, const ThresholdOptions& o,
                                     const sim::SimResults* without, const sim::SimResults* with);
std::string threshold_summary_text(const ThresholdResult& r, const ThresholdOptions& o, const sim::SimResults* without,
                                   const sim::SimResults* with);

// `search all`: both stages (the thresholds searched on the precision profile), the accuracies
// after each, and every design simulated with the profile and the thresholds.
nlohmann::json search_all_json(const SearchResult& p, const ThresholdResult& t, const SearchSetup& setup,
                               const SearchOptions& po, const ThresholdOptions& to, const sim::SimResults* sim);
std::string search_all_summary_text(const SearchResult& p, const ThresholdResult& t, const SearchOptions& po,
                                    const ThresholdOptions& to, const sim::SimResults* sim);

}  // namespace eff::search
