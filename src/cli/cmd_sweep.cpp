// effectual sweep: many points (models x data x designs x configurations x value hooks x
// technologies) computed into one folder, in one process, in shards or on MPI ranks, and merged
// into one table and report (docs/sweep.md).
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "engine/executor.h"
#include "sweep/merge.h"
#include "sweep/mpi_driver.h"
#include "sweep/mpi_plugin.h"
#include "sweep/runner.h"
#include "sweep/spec.h"

namespace eff::cli {

namespace {

struct SweepFlags {
  std::string spec;
  std::string out;
  std::string cache;
  std::string shard;
  bool resume = false;
  bool no_merge = false;
  int threads = 0;
  int jobs = 1;
  bool threads_given = false, jobs_given = false;
  std::string merge_dir;
};

void print_merge(const std::string& dir, const sweep::MergeSummary& m) {
  fmt::print("merged {} point(s) ({} ok, {} failed, {} missing): wrote {}/results.json, results.csv, report.html\n",
             m.points, m.ok, m.failed, m.missing, dir);
}

void run_sweep(const SweepFlags& f) {
  if (f.spec.empty()) fail<UsageError>("sweep: give SPEC.yaml (or `sweep merge DIR`)");
  if (f.out.empty()) fail<UsageError>("sweep: --out DIR is required");
  const sweep::Spec spec = sweep::load_spec(f.spec);
  sweep::RunOptions o;
  o.out = f.out;
  o.cache = f.cache;
  o.resume = f.resume;
  // Default: one point per core, one thread each. Points of one thread never wait for each other,
  // while OpenMP teams stall whenever the machine is busy (docs/sweep.md measures both).
  const int cores = resolve_threads(0);
  o.threads = f.threads_given ? usable_threads(f.threads) : f.jobs_given ? std::max(1, cores / f.jobs) : 1;
  o.jobs = f.jobs_given ? f.jobs : f.threads_given ? 1 : cores;
  constexpr int kMaxJobs = 1024;  // a thread each: more is a typo, not a plan
  if (o.jobs > kMaxJobs) fail<UsageError>("--jobs {}: at most {} points at once", o.jobs, kMaxJobs);
  if (!f.shard.empty()) sweep::parse_shard(f.shard, o.shard, o.shards);

  if (sweep::launcher_world_size() > 1) {
    if (o.shards > 1) fail<UsageError>("--shard: under mpirun the ranks share the points; drop --shard");
    if (f.jobs_given) fail<UsageError>("--jobs: under mpirun each rank computes one point at a time; start more ranks");
    if (!f.threads_given) o.threads = 0;  // the node's cores shared by its ranks (mpi_driver.h)
    sweep::MergeSummary merged;
    const sweep::MpiOutcome r = sweep::run_mpi(spec, o, [&] {
      if (!f.no_merge) merged = sweep::merge_sweep(o.out);
    });
    if (r.rank != 0) {
      if (r.counts.failed != 0) std::exit(1);  // rank 0 says why
      return;
    }
    fmt::print("sweep: {} point(s) on {} MPI ranks\n", spec.points.size(), r.size);
    if (!f.no_merge) print_merge(o.out, merged);
    if (merged.failed > 0) fail("{} point(s) failed (see {}/results.json)", merged.failed, o.out);
    return;
  }

  const sweep::RunCounts c = sweep::run_local(spec, o);
  const size_t mine = sweep::shard_points(spec, o.shard, o.shards).size();
  fmt::print("sweep: {} point(s){}: {} computed, {} finished earlier, {} failed\n", mine,
             o.shards > 1 ? fmt::format(" of shard {}/{}", o.shard, o.shards) : "", c.done, c.skipped, c.failed);
  if (o.shards > 1) {
    fmt::print("merge once every shard has finished: effectual sweep merge {}\n", o.out);
  } else if (!f.no_merge) {
    print_merge(o.out, sweep::merge_sweep(o.out));
  }
  sweep::fail_on_failures(c);
}

}  // namespace

void register_sweep_command(CLI::App& app) {
  static SweepFlags f;
  auto* c = app.add_subcommand("sweep", "run a sweep file's points into a folder; `sweep merge DIR` (docs/sweep.md)");
  c->add_option("SPEC", f.spec, "sweep file (YAML: axes, compute, points)");
  c->add_option("--out", f.out, "the sweep folder (points, cache, merged results)");
  c->add_option("--cache", f.cache, "capture cache folder shared with other sweeps (default OUT/cache)");
  c->add_option("--shard", f.shard, "I/N: compute only the points whose position is I mod N");
  c->add_flag("--resume", f.resume, "skip points that finished in an earlier run");
  c->add_flag("--no-merge", f.no_merge, "do not merge at the end");
  static CLI::Option* threads_opt =
      c->add_option("--threads", f.threads, "threads per point (0: all cores; default 1, or cores / --jobs)")
          ->check(non_negative_count());
  static CLI::Option* jobs_opt =
      c->add_option("--jobs", f.jobs, "points computed at once (default: one per core, or 1 with --threads)")
          ->check(positive_count());
  auto* m = c->add_subcommand("merge", "merge a sweep folder's points into results.json/.csv and report.html");
  m->add_option("DIR", f.merge_dir, "the sweep folder")->required();
  m->callback([] { print_merge(f.merge_dir, sweep::merge_sweep(f.merge_dir)); });
  c->callback([m] {
    if (m->parsed()) return;
    f.threads_given = threads_opt->count() > 0;
    f.jobs_given = jobs_opt->count() > 0;
    run_sweep(f);
  });
}

}  // namespace eff::cli
