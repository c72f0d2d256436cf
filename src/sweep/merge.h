// `effectual sweep merge DIR`: one results table (results.json, results.csv) and one HTML report
// (report.html) over every point of DIR/spec.yaml, in the sweep file's order. They hold only what
// the points computed, never timings, process names or the order points finished in, so they are
// byte-identical whether the sweep ran in one process, in shards or on MPI ranks. Timings go to
// timings.json beside them.
#pragma once

#include <cstdint>
#include <string>

namespace eff::sweep {

struct MergeSummary {
  int64_t points = 0, ok = 0, failed = 0, missing = 0;
};

MergeSummary merge_sweep(const std::string& dir);

}  // namespace eff::sweep
