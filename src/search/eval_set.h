// The images a search works on, held in memory (preprocessed once): a search subset and a report
// subset, disjoint, drawn from one data set by a seeded shuffle or given as two data sets.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"

namespace eff::search {

struct EvalSet {
  std::string source;            // the data set it came from, for results
  std::vector<int64_t> indices;  // item indices in that data set
  // Per model input, in graph-input order, its items [N, ...] (images: float32 [N, C, H, W]).
  std::vector<Tensor> inputs;
  std::vector<int64_t> labels;  // empty when the data set has none
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
  bool has_labels() const { return !labels.empty(); }
  // Items [begin, begin + count) of every input, as one executor run takes them (copies:
  // executors may keep their inputs).
  std::vector<Tensor> batch(int64_t begin, int64_t count) const;
};

// A permutation of [0, n) that depends only on (n, seed): a Fisher-Yates shuffle driven by
// splitmix64, so every platform and standard library draws the same subsets.
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed);

// The first `search` items of the permutation form the search subset, the next `report` items
// the report subset. UsageError when either is empty or together they exceed the data set.
struct SplitIndices {
  std::vector<int64_t> search, report;
};
SplitIndices split_indices(int64_t n, int64_t search, int64_t report, uint64_t seed);

// Loads the given items (in the order given) of every input the data set gives (a model with
// several inputs: --input NAME=FILE.npy each). DataError when a label is outside [0, classes)
// (classes <= 0: not checked).
EvalSet load_eval_set(const Dataset& data, const std::vector<int64_t>& indices, int64_t classes);

// A Dataset view of an EvalSet (for code that reads data sets, such as the simulator).
std::unique_ptr<Dataset> as_dataset(const EvalSet& set);

}  // namespace eff::search
