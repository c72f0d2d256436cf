// What `import effectual` does, in plain C++ over the library and the command line's shared input
// handling (cli/common.h): one loaded model and the commands on it, each returning the JSON document
// its command prints with --json (and writes with --out), computed by the commands' own bodies (src/api).
// No Python types here: module.cpp converts arrays and dicts and releases the GIL around calls.
#pragma once

#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/bench.h"
#include "api/commands.h"
#include "api/gate.h"
#include "api/optimize.h"
#include "api/search.h"
#include "api/simulate.h"
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

using EvalArgs = api::EvalOptions;
using TraceArgs = api::TraceOptions;
using ProfileArgs = api::ProfileOptions;
using SimulateArgs = api::SimulateOptions;  // model, hooks and threads come from the session

using SearchArgs = api::SearchOptions;

// `effectual simulate --traces DIR --json`: a trace written by `trace` simulated without the model
// (`a.images` 0: all the trace holds).
nlohmann::json simulate_traces(const std::string& dir, SimulateArgs a);
// `effectual simulate --synthetic --network NETWORK --json` (NETWORK: a preset, a network YAML or
// an .onnx model whose geometry is used; `common` gives its threads and input shapes).
nlohmann::json simulate_synthetic(const std::string& network, const cli::Common& common, SimulateArgs a,
                                  const sim::SyntheticSpec& spec);

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
  nlohmann::json simulate(const DataArg& data, SimulateArgs a);
  // `effectual search precision --json`: search.json (its "profile" is precision_profile.json's).
  nlohmann::json search_precision(const DataArg& data, const SearchArgs& a);
  // `effectual search thresholds --json` and `search all --json`.
  nlohmann::json search_thresholds(const DataArg& data, const SearchArgs& a);
  nlohmann::json search_all(const DataArg& data, const SearchArgs& a);
  // `effectual gate --json` (gate.json; files written when out/save/html are named).
  nlohmann::json gate(const DataArg& data, const api::GateOptions& a);
  // `effectual optimize --json` (optimize.json; the optimized model goes to a.out).
  nlohmann::json optimize(const DataArg& data, const api::OptimizeOptions& a);
  // `effectual bench --json`: `inputs` in graph-input order (empty: generated values).
  nlohmann::json bench(const std::vector<Tensor>& inputs, const api::BenchOptions& a);
  // `effectual info --json`'s model part: inputs, outputs, layers with geometry.
  nlohmann::json info();

  const cli::Common& options() const { return options_; }
  const Model& model() const { return loaded_.model; }
  // The declared dtype of graph input k (float32 when the model does not say).
  DType input_dtype(size_t k) const;

 private:
  // The searches apply value hooks of their own, which act on QDQ layers' floats: the model is
  // loaded again without the QDQ fusion (cli::Common::float_qdq) before the first search.
  void use_float_qdq();
  std::unique_ptr<Dataset> open_data(const DataArg& d, std::string& source) const;
  api::SearchData search_data(const DataArg& d) const;

  std::mutex mutex_;  // one call at a time on the executor (Python threads run without the GIL)
  cli::Common options_;
  cli::Loaded loaded_;
};

}  // namespace eff::python
