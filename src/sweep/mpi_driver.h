// A sweep on MPI ranks (docs/sweep.md): rank 0 takes the folder's lock, prepares it and hands out
// points one at a time while a thread of its own computes points too; the other ranks ask for a
// point whenever they finish one. Rank 0 merges at the end.
#pragma once

#include "sweep/runner.h"
#include "sweep/spec.h"

namespace eff::sweep {

struct MpiOutcome {
  int rank = 0, size = 1;
  RunCounts counts;  // this rank's
};

// Runs the whole sweep (no shards) over the job's ranks; `merge` is called on rank 0 once every
// point is written. Errors before the points start (lock, folder) are thrown on rank 0 and make
// the other ranks return with counts.failed = -1.
MpiOutcome run_mpi(const Spec& spec, RunOptions o, const std::function<void()>& merge);

}  // namespace eff::sweep
