// Accuracy on labelled data and latency measurement: library functions behind `eval` and `bench`.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/tensor.h"
#include "engine/executor.h"
#include "engine/non_finite.h"

namespace eff {

class Dataset;

struct EvalOptions {
  int64_t first = 0;
  int64_t limit = 0;  // 0: the whole data set
  int64_t batch = 32;
  bool progress = true;
};

struct EvalResult {
  int64_t count = 0;
  int64_t top1_correct = 0;
  int64_t top5_correct = 0;
  double seconds = 0;           // inference time only (data loading excluded)
  NonFinite input_non_finite;   // NaN/Inf among the input values
  NonFinite output_non_finite;  // among the class scores (such an image counts as wrong)
  double top1() const { return count ? static_cast<double>(top1_correct) / count : 0.0; }
  double top5() const { return count ? static_cast<double>(top5_correct) / count : 0.0; }
};

// Runs the data set through the model in batches; the first output is taken as class scores
// [N, classes]. Images are processed in order, so results do not depend on the batch size.
EvalResult evaluate(Executor& ex, Dataset& data, const EvalOptions& opts);

// Indices of the k largest scores of row `row` of a [N, C] tensor, best first (ties: lower index).
std::vector<int64_t> top_k(const Tensor& scores, int64_t row, int64_t k);
// Whether row `row` of a [N, C] tensor holds no NaN/Inf. A row that does counts as wrong in every
// accuracy (an all-NaN row's top_k is its classes in index order, which would "find" label 0).
bool row_is_finite(const Tensor& scores, int64_t row);

// One timed run, in the order run: wall time, the thread count the run used (the governor may
// change it between runs), and what the process did meanwhile (getrusage deltas over all
// threads): minor/major page faults, voluntary/involuntary context switches, buffer-pool
// allocations. They tell a stall of our own (faults, allocations) from preemption (involuntary
// switches) when one run takes far longer than the others. `start_ms`: when the run began on the
// machine-wide monotonic clock (CLOCK_MONOTONIC, ms since boot), so the runs of processes that
// ran at the same time line up (what the other copy was doing while this run was slow).
struct RunSample {
  double ms = 0;
  double start_ms = 0;
  int threads = 0;
  long minflt = 0, majflt = 0, nvcsw = 0, nivcsw = 0;
  int64_t pool_allocations = 0;
};

struct LatencyStats {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  double p99_ms = 0, p999_ms = 0;  // nearest-rank percentiles of the single runs
  int runs_over_20x_median = 0;    // the busy goal's count (issue 8: none over 20x)
  // Wall time over runs: on a busy machine the median can look quiet while single runs wait for
  // the cores (time another process took); the mean counts that time, the median does not.
  double mean_ms = 0;
  double throughput_per_s = 0;  // images per second at the median latency
  int repeat = 0;
  int64_t batch = 1;
  std::vector<RunSample> runs;  // every timed run, in order
};

// The CSV `bench --runs-out` writes: a header line, then one line per run (index from 0, ms,
// threads, minflt, majflt, nvcsw, nivcsw, pool_allocations, start_ms).
std::string runs_csv(const std::vector<RunSample>& runs);

LatencyStats measure_latency(Executor& ex, const Tensor& input, int repeat, int warmup);
// Several graph inputs; the batch is the first input's dim 0. Stops early (stats.repeat says how
// many runs were timed) once warm-up plus runs exceed `max_seconds`, so a huge --repeat ends.
LatencyStats measure_latency(Executor& ex, const std::vector<Tensor>& inputs, int repeat, int warmup,
                             double max_seconds = 0);

}  // namespace eff
