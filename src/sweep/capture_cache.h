// Capture once, simulate many (docs/sweep.md): the values a model produces on an image range
// under a precision profile and thresholds are captured once, as a trace directory
// (docs/trace-format.md) plus the run's top-1 count, and every design, configuration and
// technology of the sweep simulates from it. Entries are content-addressed (a hash of the model
// file's bytes, the data range and the value-hook files' bytes), built in a temporary folder and
// renamed into place, and guarded by an flock per key, so any number of processes (shards, MPI
// ranks, other sweeps sharing the folder) may ask for the same entry at once: one builds it, the
// others wait and then read it.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "sweep/spec.h"

namespace eff::sweep {

struct CaptureRequest {
  std::string model;
  DataRange data;
  std::string precision;   // profile file or ""
  std::string thresholds;  // thresholds file or ""
  int threads = 0;
};

struct Capture {
  std::string dir;      // the trace directory
  nlohmann::json eval;  // {"images", "labelled", "top1_correct", "top1"}
  bool built = false;   // this call built it (false: found in the cache)
};

class CaptureCache {
 public:
  explicit CaptureCache(std::string root);
  // The key of a request: what its values depend on, hashed.
  std::string key(const CaptureRequest& r);
  // The entry for `r`, built if no process has built it yet.
  Capture get(const CaptureRequest& r);
  // A value profile summary of `r` (profile/), cached beside the captures the same way.
  nlohmann::json profile(const CaptureRequest& r);
  // The precision profile `effectual search precision` finds for `model` on data set `set` with
  // the sweep file's search options ({keep, search_images, report_images, seed}): the path of its
  // precision_profile.json, searched once per model, set and options and cached the same way.
  std::string searched_profile(const std::string& model, const std::string& set, const nlohmann::json& options,
                               int threads);
  const std::string& root() const { return root_; }

 private:
  std::string file_hash(const std::string& path);
  std::string root_;
  std::mutex mu_;                                   // file_hashes_ (points may run in parallel)
  std::map<std::string, std::string> file_hashes_;  // path -> hash, per process
};

// Holds an exclusive flock on `path` (created if missing) for its lifetime.
class FileLock {
 public:
  explicit FileLock(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

// "<host>-<pid>": names temporary folders so that stale ones can be told from live ones.
std::string process_tag();
// Whether the process that wrote `tag` (process_tag()) is still running; true when it ran on
// another host (cannot tell).
bool tag_alive(const std::string& tag);

}  // namespace eff::sweep
