// A search's evaluations kept in a file (`--out DIR`), so that an interrupted search resumed with
// `--resume` replays its decisions from them instead of running them again. The file records a
// fingerprint of the search (model, subsets, target, ...); one from another search is refused.
#pragma once

#include <functional>
#include <set>
#include <string>

#include "search/evaluator.h"

namespace eff::search {

// Written atomically (the whole memory: a kill leaves the previous or the new file, never half).
void save_checkpoint(const std::string& path, const std::string& fingerprint, const EvaluationMemory& memory);

// Adds the file's evaluations to `memory` and returns their keys; nothing when there is no file
// (logged). ConfigError for a file that is not a checkpoint, UsageError for another search's.
std::set<std::string> load_checkpoint(const std::string& path, const std::string& fingerprint, EvaluationMemory& memory,
                                      const std::function<void(const std::string&)>& log);

}  // namespace eff::search
