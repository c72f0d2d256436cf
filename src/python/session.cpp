#include "python/session.h"

#include <fmt/format.h>

#include "data/dataset.h"

namespace eff::python {

using nlohmann::json;

Session::Session(cli::Common options) : options_(std::move(options)) {
  options_.json = true;  // no terminal summaries from shared code (e.g. the DeftNN plan)
  loaded_ = cli::load(options_);
}

void Session::use_float_qdq() {
  if (options_.float_qdq) return;
  options_.float_qdq = true;
  loaded_ = cli::load(options_);
}

DType Session::input_dtype(size_t k) const {
  const Graph& g = loaded_.model.graph;
  if (k >= g.inputs.size()) return DType::kFloat32;
  const Value& v = g.value(g.inputs[k]);
  return v.has_type ? v.dtype : DType::kFloat32;
}

std::unique_ptr<Dataset> Session::open_data(const DataArg& d, std::string& source) const {
  const Model& m = loaded_.model;
  if (d.arrays.empty()) {
    if (d.labels.defined()) fail<UsageError>("labels given as an array go with inputs given as arrays");
    source = cli::inputs_source(d.files);
    return cli::open_inputs(m, d.files);
  }
  if (!d.files.data.empty() || !d.files.input.empty()) fail<UsageError>("give either data or inputs, not both");
  const Graph& g = m.graph;
  if (d.arrays.size() != g.inputs.size()) {
    fail<UsageError>("the model has {} input(s) ({}); {} array(s) given", g.inputs.size(), cli::input_names(g),
                     d.arrays.size());
  }
  std::vector<std::pair<std::string, Tensor>> named;
  source.clear();
  for (size_t k = 0; k < d.arrays.size(); ++k) {
    Tensor t = d.arrays[k];
    if (t.dtype() != input_dtype(k)) t = t.cast(input_dtype(k));
    // N x H x W for a model of one-channel images, as an .npy given to --input.
    if (cli::takes_images(m) && t.rank() == 3) t = t.reshaped({t.dim(0), 1, t.dim(1), t.dim(2)});
    std::string name = fmt::format("{}=array{}", g.value(g.inputs[k]).name, shape_str(t.shape()));
    source += (source.empty() ? "" : " ") + name;
    named.emplace_back(std::move(name), std::move(t));
  }
  return open_tensor_dataset(std::move(named), d.labels, "labels");
}

std::vector<Tensor> Session::run(const std::vector<Tensor>& inputs) {
  std::lock_guard lock(mutex_);
  const Graph& g = loaded_.model.graph;
  if (inputs.size() != g.inputs.size()) {
    fail<UsageError>("the model has {} input(s) ({}); {} given", g.inputs.size(), cli::input_names(g), inputs.size());
  }
  return loaded_.exec->run(inputs);
}

json Session::evaluate(const DataArg& d, const EvalArgs& a) {
  std::lock_guard lock(mutex_);
  a.check();
  std::string source;
  auto data = open_data(d, source);
  return api::evaluate(loaded_, options_, {*data, source}, a);
}

json Session::trace(const DataArg& d, const TraceArgs& a) {
  std::lock_guard lock(mutex_);
  a.check(options_);
  std::string source;
  auto data = open_data(d, source);
  return api::trace(loaded_, options_, {*data, source}, a);
}

json Session::profile(const DataArg& d, const ProfileArgs& a) {
  std::lock_guard lock(mutex_);
  a.check(options_);
  std::string source;
  auto data = open_data(d, source);
  return api::profile(loaded_, options_, {*data, source}, a);
}

json Session::simulate(const DataArg& d, SimulateArgs a) {
  std::lock_guard lock(mutex_);
  a.model = options_.model;
  a.precision_profile = options_.precision_profile;
  a.thresholds = options_.thresholds;
  a.threads = options_.threads;
  a.live = true;
  a.quiet = true;
  api::Simulation simulation(a);
  std::string source;
  auto data = open_data(d, source);
  simulation.live(loaded_, {*data, source});
  return api::simulation_json(simulation.finish());
}

json simulate_traces(const std::string& dir, SimulateArgs a) {
  a.live = false;
  a.quiet = true;
  a.images_given = a.images != 0;
  api::Simulation simulation(a);
  simulation.traces(dir);
  return api::simulation_json(simulation.finish());
}

json simulate_synthetic(const std::string& network, const cli::Common& common, SimulateArgs a,
                        const sim::SyntheticSpec& spec) {
  a.live = false;
  a.quiet = true;
  api::Simulation simulation(a);
  simulation.synthetic(api::synthetic_network(network, common), spec);
  return api::simulation_json(simulation.finish());
}

api::SearchData Session::search_data(const DataArg& d) const {
  return {[this, &d] {
            std::string source;
            return open_data(d, source);
          },
          !d.arrays.empty() || !d.files.data.empty() || !d.files.input.empty()};
}

json Session::search_precision(const DataArg& d, const SearchArgs& a) {
  std::lock_guard lock(mutex_);
  use_float_qdq();
  return api::search_precision(loaded_, options_, search_data(d), a).doc;
}

json Session::search_thresholds(const DataArg& d, const SearchArgs& a) {
  std::lock_guard lock(mutex_);
  use_float_qdq();
  return api::search_thresholds(loaded_, options_, search_data(d), a).doc;
}

json Session::search_all(const DataArg& d, const SearchArgs& a) {
  std::lock_guard lock(mutex_);
  use_float_qdq();
  return api::search_all(loaded_, options_, search_data(d), a).doc;
}

json Session::gate(const DataArg& d, const api::GateOptions& a) {
  std::lock_guard lock(mutex_);
  a.check(options_);
  std::string source;
  auto data = open_data(d, source);
  return api::gate(loaded_, options_, {*data, source}, a).doc;
}

json Session::optimize(const DataArg& d, const api::OptimizeOptions& a) {
  std::lock_guard lock(mutex_);
  a.check(options_);
  std::string source;
  auto data = open_data(d, source);
  return api::optimize(loaded_, options_, {*data, source}, a).doc;
}

json Session::bench(const std::vector<Tensor>& inputs, const api::BenchOptions& a) {
  std::lock_guard lock(mutex_);
  const Graph& g = loaded_.model.graph;
  if (inputs.size() > g.inputs.size()) {
    fail<UsageError>("the model has {} input(s) ({}); {} given", g.inputs.size(), cli::input_names(g), inputs.size());
  }
  std::vector<std::pair<std::string, Tensor>> given;
  for (size_t k = 0; k < inputs.size(); ++k) given.emplace_back(fmt::format("input {}", k), inputs[k]);
  return api::bench(loaded_, options_, std::move(given), a).doc;
}

json Session::info() {
  std::lock_guard lock(mutex_);
  json j = api::info(loaded_, options_);
  j["classes"] = loaded_.model.meta.classes;
  return j;
}

}  // namespace eff::python
