// A search's evaluations kept in a file (`--out DIR`), so that an interrupted search resumed with
// `--resume` replays its decisions from them instead of running them again. The file records a
// fingerprint of the search (model, subsets, target, ...); one from another search is refused.
#pragma once

#include <functional>
#include <optional>
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

// The evaluations a search can answer without running: its own, a sweep's shared memory, and a
// checkpoint replayed by --resume; counts which of these answered, and keeps the checkpoint file
// up to date after every new evaluation.
class RecordedEvaluations {
 public:
  // `shared`: a sweep's memory, or null for this search's own. `checkpoint` empty: no file.
  RecordedEvaluations(EvaluationMemory* shared, std::string checkpoint, std::string fingerprint)
      : memory_(shared ? *shared : own_memory_),
        checkpoint_(std::move(checkpoint)),
        fingerprint_(std::move(fingerprint)) {}

  // Replays the checkpoint file, if there is one.
  void resume(const std::function<void(const std::string&)>& log) {
    if (!checkpoint_.empty()) from_checkpoint_ = load_checkpoint(checkpoint_, fingerprint_, memory_, log);
  }

  // The remembered tally of `key` judged by `judge` (a sweep's memory may hold it from another
  // target); only a complete one answers a question that does not allow early stopping.
  std::optional<Tally> recall(const std::string& key, const Judge& judge, bool early_stop) {
    auto it = memory_.find(key);
    if (it == memory_.end()) return std::nullopt;
    std::optional<Tally> r = rejudge(it->second, judge);
    if (!r || !(early_stop || r->complete)) return std::nullopt;
    if (from_checkpoint_.erase(key)) {
      ++resumed_;
    } else if (!own_.count(key)) {
      ++from_memory_;
    }
    return r;
  }

  void record(const std::string& key, const Tally& t) {
    memory_[key] = t;
    own_.insert(key);
    if (!checkpoint_.empty()) save_checkpoint(checkpoint_, fingerprint_, memory_);
  }

  int resumed() const { return resumed_; }
  int from_memory() const { return from_memory_; }

 private:
  EvaluationMemory own_memory_;
  EvaluationMemory& memory_;
  std::string checkpoint_, fingerprint_;
  std::set<std::string> own_;  // keys this search ran (the rest of a shared memory is reuse)
  std::set<std::string> from_checkpoint_;
  int resumed_ = 0, from_memory_ = 0;
};

}  // namespace eff::search
