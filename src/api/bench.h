// `effectual bench`'s body, shared by the command line and `import effectual`: latency (median,
// min, max) and throughput of the loaded model on given inputs or deterministic generated ones,
// optionally every node's share of an inference.
#pragma once

#include <string>
#include <vector>

#include "api/commands.h"

namespace eff::api {

struct BenchOptions {
  int64_t batch = 0;  // 0: the first input's rows as they are (generated inputs: 1)
  int repeat = 20, warmup = 3;
  bool per_layer = false;
  double max_seconds = 60;  // 0: no limit
  std::string runs_out;     // non-empty: every timed run written there as CSV (runs_csv)
  void check() const;
};

// `inputs`: tensors in graph-input order from the first input on, each with where it came from
// (for messages); empty: generated values. Inputs not given are generated.
Output bench(cli::Loaded& l, const cli::Common& o, std::vector<std::pair<std::string, Tensor>> inputs,
             const BenchOptions& a);

}  // namespace eff::api
