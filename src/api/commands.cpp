#include "api/commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/progress.h"
#include "engine/evaluate.h"
#include "engine/geometry.h"
#include "engine/non_finite.h"
#include "engine/quantized_layers.h"
#include "profile/profile_json.h"
#include "report/trace_writer.h"

namespace eff::api {

using nlohmann::json;

namespace {

json non_finite_layers(const NonFiniteObserver& counts) {
  json bad = json::array();
  for (const auto& e : counts.layers_with_non_finite()) {
    bad.push_back({{"layer", e.layer}, {"nan", e.counts.nan}, {"inf", e.counts.inf}});
  }
  return bad;
}

// The observer is the command's only for the call (a Python session keeps its executor).
struct ObserverScope {
  Executor& exec;
  ObserverScope(Executor& e, LayerObserver* o) : exec(e) { exec.set_observer(o); }
  ~ObserverScope() { exec.set_observer(nullptr); }
};

}  // namespace

void EvalOptions::check() const {
  if (batch < 1) fail<UsageError>("--batch must be at least 1");
  if (first < 0 || limit < 0) fail<UsageError>("--first and --limit must not be negative");
}

json evaluate(cli::Loaded& l, const cli::Common& o, const Data& d, const EvalOptions& a) {
  a.check();
  Dataset& data = d.set;
  if (a.first >= data.size()) {
    fail<UsageError>("--first {} is past the end of {} ({} items)", a.first, data.name(), data.size());
  }
  NonFiniteObserver layer_counts;
  ObserverScope scope(*l.exec, &layer_counts);
  eff::EvalOptions eo;
  eo.limit = cli::items_to_use(data, a.first, a.limit, "--limit", o.json);
  eo.batch = a.batch;
  eo.first = a.first;
  const EvalResult r = eff::evaluate(*l.exec, data, eo);
  json j = {{"model", o.model},
            {"data", data.name()},
            {"images", r.count},
            {"top1", r.top1()},
            {"top5", r.top5()},
            {"images_per_s", r.seconds > 0 ? r.count / r.seconds : 0.0},
            {"threads", l.exec->threads()},
            {"transforms", l.transforms.size()}};
  j["non_finite"] = {{"inputs", {{"nan", r.input_non_finite.nan}, {"inf", r.input_non_finite.inf}}},
                     {"scores", {{"nan", r.output_non_finite.nan}, {"inf", r.output_non_finite.inf}}},
                     {"layers", non_finite_layers(layer_counts)}};
  return j;
}

void TraceOptions::check(const cli::Common& o) const {
  if (format != "effectual" && format != "dnnsim" && format != "both") {
    fail<UsageError>("--format must be effectual, dnnsim or both (got '{}')", format);
  }
  if (out.empty()) fail<UsageError>("trace needs --out (the directory to write)");
  if (images < 1) fail<UsageError>("--images must be at least 1");
  if (batch < 1) fail<UsageError>("--batch must be at least 1");
  if (!o.deft.empty()) {
    fail<UsageError>("--deft: trace records Conv/Gemm layers as the fp32 engine runs them; drop --deft");
  }
  if (!o.gates.empty()) {
    fail<UsageError>("--gates: trace records Conv/Gemm layers as the fp32 engine runs them; drop --gates");
  }
}

json trace(cli::Loaded& l, const cli::Common& o, const Data& d, const TraceOptions& a) {
  a.check(o);
  Executor& exec = *l.exec;
  Dataset& data = d.set;
  if (a.first < 0 || a.first >= data.size()) {
    fail<UsageError>("--first {} is outside the data set ({} items)", a.first, data.size());
  }
  const int64_t end = a.first + cli::items_to_use(data, a.first, a.images, "--images", o.json);
  std::vector<Shape> first_shapes;
  for (const Tensor& t : data.inputs(a.first, 1)) first_shapes.push_back(t.shape());
  const std::vector<LayerGeometry> geo = model_geometry(exec, first_shapes);
  TraceRecorder rec(&exec.graph());
  ObserverScope scope(exec, &rec);
  // Dynamically quantized models: one image per inference, each image quantized on its own (as
  // `simulate` runs them), so the trace gives the live simulation's values.
  const int64_t batch = has_dynamic_layers(exec.layers()) ? 1 : a.batch;
  json labels = json::array();
  for (int64_t b = a.first; b < end; b += batch) {
    const int64_t n = std::min(batch, end - b);
    const Tensor y = data.labels(b, n);
    if (y.defined()) {
      for (int64_t i = 0; i < n; ++i) labels.push_back(y.get_i64(i));
    }
    exec.run(data.inputs(b, n));
  }
  TraceWriteOptions wo;
  wo.dir = a.out;
  wo.effectual_layout = a.format != "dnnsim";
  wo.dnnsim_layout = a.format != "effectual";
  wo.manifest_extra = {
      {"model", {{"path", o.model}, {"name", l.model.meta.name}}},
      {"inputs", {{"source", d.source}, {"first", a.first}, {"count", end - a.first}, {"labels", labels}}},
      {"precision_profile", o.precision_profile},
      {"thresholds", o.thresholds}};
  const json m = write_trace(wo, geo, l.layers, l.transforms, rec);
  return {{"dir", a.out}, {"layers", m["layers"].size()}, {"images", end - a.first}};
}

void ProfileOptions::check(const cli::Common& o) const {
  if (images < 1 || batch < 1 || first < 0) fail<UsageError>("--images and --batch must be positive, --first >= 0");
  if (!o.deft.empty()) {
    fail<UsageError>("--deft: profile observes Conv/Gemm layers as the fp32 engine runs them; drop --deft");
  }
  if (!o.gates.empty()) {
    fail<UsageError>("--gates: profile observes Conv/Gemm layers as the fp32 engine runs them; drop --gates");
  }
}

json profile(cli::Loaded& l, const cli::Common& o, const Data& d, const ProfileOptions& a) {
  a.check(o);
  profile::ProfileOptions po = a.options;
  if (po.machines.empty()) po.machines = profile::default_machines();
  po.transforms = l.transforms;
  po.threads = cli::usable_threads(o.threads);
  Executor& exec = *l.exec;
  Dataset& data = d.set;
  if (a.first >= data.size()) {
    fail<UsageError>("--first {} is outside the data set {} ({} items)", a.first, data.name(), data.size());
  }
  // Otherwise a summary of "0 images, 0 layers" with every fraction 0. (An optimized model whose
  // layers all run as DeftNN layers is profiled as before: the command notes they are skipped.)
  if (exec.layers().empty() && l.model.meta.deft.is_null()) {
    fail<UsageError>("{}: the model has no conv/FC layer to profile", exec.graph().source);
  }
  const int64_t end = a.first + cli::items_to_use(data, a.first, a.images, "--images", o.json || !a.images_given);
  profile::Profiler profiler(exec.graph(), po);
  NonFiniteObserver layer_counts;
  NonFinite input_counts;
  // Dynamically quantized models: one image per inference, so each image has its own zero point.
  const int64_t batch = has_dynamic_layers(exec.layers()) ? 1 : a.batch;
  profile::run_profile(exec, data, profiler, a.first, end - a.first, batch, !o.json, &layer_counts, &input_counts);
  const json run = {{"model", o.model},
                    {"model_name", l.model.meta.name},
                    {"data", d.source},
                    {"first", a.first},
                    {"count", end - a.first},
                    {"precision_profile", o.precision_profile},
                    {"thresholds", o.thresholds},
                    {"non_finite",
                     {{"inputs", {{"nan", input_counts.nan}, {"inf", input_counts.inf}}},
                      {"layers", non_finite_layers(layer_counts)}}}};
  return profile::profile_to_json(profiler, run);
}

json info(cli::Loaded& l, const cli::Common& o) {
  const Graph& g = l.model.graph;
  // Input sizes from --input-shape, the sidecar or the declared shape; a model with dynamic H/W
  // (or an input without a declared shape) and none of those gets the geometry the graph alone
  // gives, with what depends on the input marked as such (null in JSON).
  std::vector<Shape> shapes;
  std::string unknown_sizes;
  try {
    shapes = l.model.input_shapes();
  } catch (const UsageError& e) {
    unknown_sizes = e.what();
  }
  const bool sized = unknown_sizes.empty();
  const std::vector<LayerGeometry> geo = sized ? model_geometry(*l.exec, shapes) : static_model_geometry(g);
  int64_t macs = 0, params = 0;
  for (const auto& x : geo) {
    macs = macs < 0 || x.macs < 0 ? -1 : macs + x.macs;
    params += x.params;
  }
  std::map<std::string, int> ops;
  for (const Node& n : g.nodes) ops[n.op]++;
  json j;
  j["model"] = o.model;
  j["name"] = l.model.meta.name;
  j["opset"] = g.opset;
  j["producer"] = g.producer;
  j["nodes"] = g.nodes.size();
  j["ops"] = ops;
  j["input_shape"] = sized ? json(shapes[0]) : json(nullptr);
  json ins = json::array(), outs = json::array();
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const Value& v = g.value(g.inputs[i]);
    ins.push_back({{"name", v.name},
                   {"declared_shape", v.has_shape ? json(v.shape) : json(nullptr)},
                   {"dim_names", v.dim_names},
                   {"dtype", dtype_name(v.dtype)},
                   {"shape", sized ? json(shapes[i]) : json(nullptr)}});
  }
  for (ValueId v : g.outputs) outs.push_back({{"name", g.value(v).name}});
  j["inputs"] = ins;
  j["outputs"] = outs;
  j["layers"] = geo;
  j["totals"] = {{"layers", geo.size()}, {"macs", macs < 0 ? json(nullptr) : json(macs)}, {"params", params}};
  // Why sizes and MACs are missing, and what gives them (--input-shape NAME:dims).
  if (!sized) j["sizes_unknown"] = unknown_sizes;
  if (l.model.meta.test_accuracy_top1) j["test_accuracy_top1"] = *l.model.meta.test_accuracy_top1;
  return j;
}

}  // namespace eff::api
