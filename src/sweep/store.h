// The sweep folder (docs/sweep.md):
//   DIR/spec.yaml                 the sweep file as last run
//   DIR/locks/shard-I-of-N.lock   "pid host" of the process writing shard I of N
//   DIR/points/<id>/point.json    a finished point: its values, results and status (written last)
//   DIR/points/<id>/...           its other files (simulation results.json, totals.csv)
//   DIR/cache/                    captures shared by the points (capture_cache.h), unless --cache
//   DIR/results.json|.csv, report.html, timings.json   written by merge
// A point folder is filled under a temporary name and renamed into place, so a killed sweep
// leaves only temporary folders (removed by the next run) and loses only the points in flight.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "sweep/spec.h"

namespace eff::sweep {

// Refuses (one UsageError line) while another live process writes the same shard of DIR, or a
// shard of a different split (their points would overlap); removes the locks of dead processes on
// this host. Released on destruction.
class SweepLock {
 public:
  SweepLock(const std::string& dir, int shard, int shards);
  ~SweepLock();
  SweepLock(const SweepLock&) = delete;
  SweepLock& operator=(const SweepLock&) = delete;

 private:
  std::string path_;
};

class SweepStore {
 public:
  explicit SweepStore(std::string dir);
  const std::string& dir() const { return dir_; }
  std::string point_dir(const std::string& id) const;
  // The point's point.json when it finished with status "ok" and computed everything asked.
  std::optional<nlohmann::json> finished(const Point& p, const Spec& spec) const;
  // Fills a temporary folder with `files` (name -> bytes) and `point` as point.json, then swaps it in.
  void write_point(const std::string& id, const std::map<std::string, std::string>& files,
                   const nlohmann::json& point) const;
  // Removes temporary point folders left by dead processes on this host.
  void remove_stale_temporaries() const;
  void write_spec(const Spec& spec) const;

 private:
  std::string dir_;
};

}  // namespace eff::sweep
