// What `import effectual` does, in plain C++ over the library and the command line's shared input
// handling (cli/common.h): one loaded model and the commands on it, each returning the JSON document
// its command prints with --json (and writes with --out), built by the same library functions.
// No Python types here: module.cpp converts arrays and dicts and releases the GIL around calls.
#pragma once

#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/common.h"
#include "profile/profiler.h"

namespace eff::python {

// Where items come from: a data set or .npy files named as on the command line (--data, --input,
// --labels), or tensors in memory (graph-input order, sharing their first dimension).
struct DataArg {
  cli::Inputs files;
  std::vector<Tensor> arrays;  // empty: `files`
  Tensor labels;               // with `arrays`: integers [N], or undefined
};

struct EvalArgs {
  int64_t limit = 0, first = 0, batch = 64;
};

struct TraceArgs {
  std::string out;
  int64_t images = 1, first = 0, batch = 16;
  std::string format = "effectual";
};

struct ProfileArgs {
  int64_t images = 64, first = 0, batch = 32;
  profile::ProfileOptions options;  // threads and transforms come from the model
};

struct SimulateArgs {
  std::string designs = "all";  // "" with a config: the config's entries
  std::string config, technology;
  int64_t images = 1, first = 0;
  bool space_to_depth = true;
  bool check_values = false;
};

struct SearchArgs {
  std::string search_data, report_data;
  int64_t search_images = 500, report_images = 500;
  uint64_t seed = 1;
  std::string keep, metric = "top1", objective = "activations";
  std::optional<double> max_loss, min_snr_db;
  int64_t batch = 100, sim_images = 8;
};

// `effectual simulate --traces DIR --json`: a trace written by `trace` simulated without the model.
struct TraceSimulateArgs {
  std::string dir;
  std::string designs = "all";  // "" with a config: the config's entries
  std::string config, technology, precision_profile, thresholds;
  int64_t images = 0, first = 0;  // images 0: all the trace holds
  int threads = 0;
  bool space_to_depth = true;
};
nlohmann::json simulate_traces(const TraceSimulateArgs& a);

class Session {
 public:
  // Loads the model as the command line does for these flags (sidecar, input shapes, value hooks).
  explicit Session(cli::Common options);

  // Inputs in graph-input order; outputs in graph-output order.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);
  // `effectual eval --json`.
  nlohmann::json evaluate(const DataArg& data, const EvalArgs& a);
  // `effectual trace --json` (the trace goes to a.out).
  nlohmann::json trace(const DataArg& data, const TraceArgs& a);
  // `effectual profile --json`: profile.json.
  nlohmann::json profile(const DataArg& data, const ProfileArgs& a);
  // `effectual simulate --json` (live form): results.json, per-layer records and totals.
  nlohmann::json simulate(const DataArg& data, const SimulateArgs& a);
  // `effectual search precision --json`: search.json (its "profile" is precision_profile.json's).
  nlohmann::json search_precision(const DataArg& data, const SearchArgs& a);
  // `effectual info --json`'s model part: inputs, outputs, layers with geometry.
  nlohmann::json info();

  const cli::Common& options() const { return options_; }
  const Model& model() const { return loaded_.model; }
  // The declared dtype of graph input k (float32 when the model does not say).
  DType input_dtype(size_t k) const;

 private:
  std::unique_ptr<Dataset> open_data(const DataArg& d, std::string& source) const;

  std::mutex mutex_;  // one call at a time on the executor (Python threads run without the GIL)
  cli::Common options_;
  cli::Loaded loaded_;
};

}  // namespace eff::python
