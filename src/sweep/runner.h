// Running a sweep's points: each point's captures from the cache, its simulation, evaluation and
// profile, written into its folder (store.h). The same PointRunner serves a single process, a
// shard and every MPI rank; only where the next point comes from differs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "sweep/capture_cache.h"
#include "sweep/spec.h"
#include "sweep/store.h"

namespace eff::sweep {

struct RunOptions {
  std::string out;
  std::string cache;  // "" -> OUT/cache
  bool resume = false;
  int shard = 0, shards = 1;
  int threads = 0;  // per point; 0: all cores
  int jobs = 1;     // points computed at once in this process (each with `threads`)
};

struct RunCounts {
  int64_t done = 0, skipped = 0, failed = 0;
  double work_seconds = 0;  // inside the points (captures included)
  std::string first_failure;
};

class PointRunner {
 public:
  PointRunner(const Spec& spec, const RunOptions& o);
  // Computes the point unless --resume finds it finished; never throws for the point's own errors
  // (they are recorded as its status), only for the sweep folder's. Thread-safe counts.
  void run(const Point& p);
  RunCounts counts() const;

 private:
  nlohmann::json compute(const Point& p, std::map<std::string, std::string>& files, nlohmann::json& timing);
  const Spec& spec_;
  RunOptions o_;
  SweepStore store_;
  CaptureCache cache_;
  mutable std::mutex mu_;
  RunCounts counts_;
};

// The order points are handed out in when several run at once (--jobs, MPI ranks): one point of
// each capture (model, images, value hooks) in turn, so that workers starting together build
// different captures instead of waiting on the same one (points of one capture follow their first
// one, which built it). Points of a single capture keep their file order.
std::vector<const Point*> capture_interleaved(const std::vector<const Point*>& points);

// The points of the shard, one after another, with a progress bar on a terminal. Returns the
// counts; the caller merges.
RunCounts run_local(const Spec& spec, const RunOptions& o);

// Checks and prepares OUT for a run: the spec copied in, stale temporaries removed.
void prepare_out(const Spec& spec, const RunOptions& o);

// "N point(s) failed; first: ..." as a one-line error when any failed.
void fail_on_failures(const RunCounts& c);

}  // namespace eff::sweep
