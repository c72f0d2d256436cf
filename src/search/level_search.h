// The per-layer level search that the thresholds search runs (threshold_search.h), for any knob
// with ordered levels per layer where a higher level saves more and risks more (gating thresholds,
// gating/gate_search.h): sensitivity (each layer alone, binary search for the highest level that
// meets the target), lift (every layer the same number of levels down, the fewest that meet the
// target together), descent (each layer in the order of what it has to regain, bisected back up
// towards its sensitivity level), and the final complete evaluation.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "search/precision_search.h"

namespace eff::search {

struct LevelSearchCallbacks {
  // Whether the configuration meets the target; `counter` is the phase's evaluation count, to be
  // incremented when an evaluation actually runs. With early_stop the answer may rest on a partial
  // pass (it is certain either way).
  std::function<bool(const std::vector<int>& levels, bool early_stop, int& counter)> met;
  // What a configuration saves (more is better), to order the descent.
  std::function<double(const std::vector<int>& levels)> saving;
  std::function<void(const std::string&)> log;
  bool progress = true;
};

// Returns the levels found and the sensitivity level of each layer; `what` names the knob in the
// error when even level 0 everywhere misses the target.
std::vector<int> search_levels(size_t layers, int max_level, const LevelSearchCallbacks& cb, EvaluationCounts& counts,
                               std::vector<int>& sensitivity, const std::string& what);

}  // namespace eff::search
