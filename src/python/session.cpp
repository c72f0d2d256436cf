#include "python/session.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/progress.h"
#include "engine/evaluate.h"
#include "engine/geometry.h"
#include "engine/non_finite.h"
#include "engine/quantized_layers.h"
#include "engine/transform_files.h"
#include "profile/profile_json.h"
#include "report/trace_writer.h"
#include "search/eval_set.h"
#include "search/formats.h"
#include "search/precision_search.h"
#include "search/search_report.h"
#include "search/target.h"
#include "sim/live.h"
#include "sim/simulator.h"
#include "sim/sources.h"

namespace eff::python {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json non_finite_layers(const NonFiniteObserver& counts) {
  json bad = json::array();
  for (const auto& e : counts.layers_with_non_finite()) {
    bad.push_back({{"layer", e.layer}, {"nan", e.counts.nan}, {"inf", e.counts.inf}});
  }
  return bad;
}

// The observer is the caller's only for the call.
struct ObserverScope {
  Executor& exec;
  ObserverScope(Executor& e, LayerObserver* o) : exec(e) { exec.set_observer(o); }
  ~ObserverScope() { exec.set_observer(nullptr); }
};

// `search precision`'s target flags, checked as the command checks them.
search::Target target_of(const SearchArgs& a) {
  search::Target t;
  t.metric = search::parse_metric(a.metric);
  if (a.max_loss && !(*a.max_loss >= 0)) {
    fail<UsageError>("max_loss {}: give a number of points >= 0, e.g. max_loss=0.5", *a.max_loss);
  }
  if (!a.keep.empty() && a.max_loss) fail<UsageError>("give keep or max_loss, not both");
  if (a.max_loss && t.metric != search::Metric::kTop1) fail<UsageError>("max_loss goes with metric='top1'");
  if (a.min_snr_db && t.metric != search::Metric::kOutputSnr) {
    fail<UsageError>("min_snr_db goes with metric='output-snr'");
  }
  if (!a.keep.empty()) {
    if (t.metric == search::Metric::kOutputSnr) fail<UsageError>("keep does not apply to metric='output-snr'");
    t.keep = search::parse_percentage(a.keep, "keep");
  }
  t.max_loss_points = a.max_loss ? *a.max_loss : -1;
  if (a.min_snr_db) t.min_snr_db = *a.min_snr_db;
  search::validate_target(t);
  return t;
}

// The "precision" note `effectual simulate` writes, word for word.
std::string precision_note(int quantized, const std::string& profile) {
  if (!profile.empty()) return "profile: " + profile;
  constexpr const char* kNoProfile =
      "derived from each tensor's range (docs/simulator.md): every layer fills 16 bits, so Stripes, Dynamic "
      "Stripes, Tartan and Loom gain little; per-layer precisions that keep accuracy come from `effectual search "
      "precision MODEL` (--precision-profile)";
  if (quantized == 0) return kNoProfile;
  return fmt::format(
      "{} quantized layer(s) of the model: their integer codes (code - zero point) at the width the 8-bit codes "
      "and zero points need (docs/quantization.md); other layers: {}",
      quantized, kNoProfile);
}

json simulation_json(sim::SimResults r, std::map<std::string, std::string> notes) {
  r.notes = std::move(notes);
  for (const sim::LayerRecord& rec : r.records) {
    if (rec.check == 1) {
      fail("--check-values: image {} layer '{}' design {}: relative error {:.3g}", rec.image, rec.name,
           r.designs[rec.design], rec.check_error);
    }
  }
  return sim::to_json(r);
}

uint64_t hash_indices(const std::vector<int64_t>& v) {
  uint64_t h = 1469598103934665603ull;
  for (int64_t x : v) h = (h ^ static_cast<uint64_t>(x)) * 1099511628211ull;
  return h;
}

}  // namespace

Session::Session(cli::Common options) : options_(std::move(options)) {
  options_.json = true;  // no terminal summaries from shared code (e.g. the DeftNN plan)
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
  if (a.batch < 1) fail<UsageError>("batch must be at least 1");
  if (a.first < 0 || a.limit < 0) fail<UsageError>("first and limit must not be negative");
  std::string source;
  auto data = open_data(d, source);
  if (a.first >= data->size()) {
    fail<UsageError>("--first {} is past the end of {} ({} items)", a.first, data->name(), data->size());
  }
  NonFiniteObserver layer_counts;
  ObserverScope scope(*loaded_.exec, &layer_counts);
  EvalOptions eo;
  eo.limit = cli::items_to_use(*data, a.first, a.limit, "--limit", true);
  eo.batch = a.batch;
  eo.first = a.first;
  const EvalResult r = eff::evaluate(*loaded_.exec, *data, eo);
  json j = {{"model", options_.model},
            {"data", data->name()},
            {"images", r.count},
            {"top1", r.top1()},
            {"top5", r.top5()},
            {"images_per_s", r.seconds > 0 ? r.count / r.seconds : 0.0},
            {"threads", loaded_.exec->threads()},
            {"transforms", loaded_.transforms.size()}};
  j["non_finite"] = {{"inputs", {{"nan", r.input_non_finite.nan}, {"inf", r.input_non_finite.inf}}},
                     {"scores", {{"nan", r.output_non_finite.nan}, {"inf", r.output_non_finite.inf}}},
                     {"layers", non_finite_layers(layer_counts)}};
  return j;
}

json Session::trace(const DataArg& d, const TraceArgs& a) {
  std::lock_guard lock(mutex_);
  if (a.format != "effectual" && a.format != "dnnsim" && a.format != "both") {
    fail<UsageError>("--format must be effectual, dnnsim or both (got '{}')", a.format);
  }
  if (a.out.empty()) fail<UsageError>("trace needs out (the directory to write)");
  if (a.images < 1) fail<UsageError>("--images must be at least 1");
  if (a.batch < 1) fail<UsageError>("batch must be at least 1");
  if (!options_.deft.empty()) {
    fail<UsageError>("--deft: trace records Conv/Gemm layers as the fp32 engine runs them; drop --deft");
  }
  Executor& exec = *loaded_.exec;
  std::string source;
  auto data = open_data(d, source);
  if (a.first < 0 || a.first >= data->size()) {
    fail<UsageError>("--first {} is outside the data set ({} items)", a.first, data->size());
  }
  const int64_t end = a.first + cli::items_to_use(*data, a.first, a.images, "--images", true);
  std::vector<Shape> first_shapes;
  for (const Tensor& t : data->inputs(a.first, 1)) first_shapes.push_back(t.shape());
  const std::vector<LayerGeometry> geo = model_geometry(exec, first_shapes);
  TraceRecorder rec(&exec.graph());
  ObserverScope scope(exec, &rec);
  const int64_t batch = has_dynamic_layers(exec.layers()) ? 1 : a.batch;
  json labels = json::array();
  for (int64_t b = a.first; b < end; b += batch) {
    const int64_t n = std::min(batch, end - b);
    const Tensor y = data->labels(b, n);
    if (y.defined()) {
      for (int64_t i = 0; i < n; ++i) labels.push_back(y.get_i64(i));
    }
    exec.run(data->inputs(b, n));
  }
  TraceWriteOptions wo;
  wo.dir = a.out;
  wo.effectual_layout = a.format != "dnnsim";
  wo.dnnsim_layout = a.format != "effectual";
  wo.manifest_extra = {
      {"model", {{"path", options_.model}, {"name", loaded_.model.meta.name}}},
      {"inputs", {{"source", source}, {"first", a.first}, {"count", end - a.first}, {"labels", labels}}},
      {"precision_profile", options_.precision_profile},
      {"thresholds", options_.thresholds}};
  const json m = write_trace(wo, geo, loaded_.layers, loaded_.transforms, rec);
  return {{"dir", a.out}, {"layers", m["layers"].size()}, {"images", end - a.first}};
}

json Session::profile(const DataArg& d, const ProfileArgs& a) {
  std::lock_guard lock(mutex_);
  if (!options_.deft.empty()) {
    fail<UsageError>("--deft: profile observes Conv/Gemm layers as the fp32 engine runs them; drop --deft");
  }
  if (a.images < 1 || a.batch < 1 || a.first < 0) fail<UsageError>("images and batch must be positive, first >= 0");
  profile::ProfileOptions po = a.options;
  if (po.machines.empty()) po.machines = profile::default_machines();
  po.transforms = loaded_.transforms;
  po.threads = options_.threads;
  Executor& exec = *loaded_.exec;
  std::string source;
  auto data = open_data(d, source);
  if (a.first >= data->size()) {
    fail<UsageError>("--first {} is outside the data set {} ({} items)", a.first, data->name(), data->size());
  }
  const int64_t end = a.first + cli::items_to_use(*data, a.first, a.images, "--images", true);
  profile::Profiler profiler(exec.graph(), po);
  NonFiniteObserver layer_counts;
  NonFinite input_counts;
  const int64_t batch = has_dynamic_layers(exec.layers()) ? 1 : a.batch;
  profile::run_profile(exec, *data, profiler, a.first, end - a.first, batch, Progress::enabled(), &layer_counts,
                       &input_counts);
  exec.set_observer(nullptr);
  const json run = {{"model", options_.model},
                    {"model_name", loaded_.model.meta.name},
                    {"data", source},
                    {"first", a.first},
                    {"count", end - a.first},
                    {"precision_profile", options_.precision_profile},
                    {"thresholds", options_.thresholds},
                    {"non_finite",
                     {{"inputs", {{"nan", input_counts.nan}, {"inf", input_counts.inf}}},
                      {"layers", non_finite_layers(layer_counts)}}}};
  return profile::profile_to_json(profiler, run);
}

json Session::simulate(const DataArg& d, const SimulateArgs& a) {
  std::lock_guard lock(mutex_);
  if (a.images < 1 || a.first < 0) fail<UsageError>("images must be positive, first >= 0");
  const int threads = resolve_threads(cli::usable_threads(options_.threads));
  const sim::DesignSet set = sim::build_designs_from_file(a.designs, a.config);
  const sim::cost::Technology technology = sim::cost::load_technology(a.technology);
  sim::SimRun run(set, sim::SimContext{threads, a.check_values}, &technology);
  Executor& exec = *loaded_.exec;
  std::string source;
  auto data = open_data(d, source);
  if (a.first >= data->size()) fail<UsageError>("--first {} is outside the data set ({} items)", a.first, data->size());
  const int64_t end = a.first + cli::items_to_use(*data, a.first, a.images, "--images", true);
  Progress bar("simulate", end - a.first);
  sim::LiveOptions lo;
  lo.first = a.first;
  lo.end = end;
  lo.space_to_depth = a.space_to_depth;
  lo.check_values = a.check_values;
  lo.on_image = [&] { bar.advance(); };
  sim::simulate_live(exec, *data, run, loaded_.transforms, lo);
  int quantized = 0;
  for (const LayerInfo& li : exec.layers()) quantized += layer_quantization(exec.graph(), li).present ? 1 : 0;
  bar.finish();
  // The notes `effectual simulate` writes, word for word (results.json is the same document).
  std::map<std::string, std::string> notes;
  notes["source"] = fmt::format("live: {} on {} images [{}, {})", options_.model, source, a.first, end);
  notes["precision"] = precision_note(quantized, options_.precision_profile);
  if (!options_.thresholds.empty()) notes["thresholds"] = options_.thresholds;
  if (!a.config.empty()) notes["config"] = a.config;
  return simulation_json(run.results(), notes);
}

json simulate_traces(const TraceSimulateArgs& a) {
  if (a.images < 0 || a.first < 0) fail<UsageError>("images and first must not be negative");
  const int threads = resolve_threads(cli::usable_threads(a.threads));
  const sim::DesignSet set = sim::build_designs_from_file(a.designs, a.config);
  const sim::cost::Technology technology = sim::cost::load_technology(a.technology);
  sim::SimRun run(set, sim::SimContext{threads, false}, &technology);
  const auto layers = sim::read_trace_manifest(a.dir);
  sim::TraceOptions o;
  o.first = a.first;
  o.images = a.images;
  o.threads = threads;
  o.space_to_depth = a.space_to_depth;
  if (!a.precision_profile.empty() || !a.thresholds.empty()) {
    std::vector<LayerInfo> infos;
    for (const auto& g : layers) {
      LayerInfo li;
      li.index = g.index;
      li.name = g.name;
      li.op = g.op;
      infos.push_back(li);
    }
    o.transforms = load_layer_transforms(a.precision_profile, a.thresholds, infos);
  }
  Progress bar("simulate", static_cast<int64_t>(layers.size()));
  o.on_layer_done = [&] { bar.advance(); };
  sim::simulate_trace_dir(a.dir, run, o);
  bar.finish();
  std::map<std::string, std::string> notes;
  notes["source"] = "traces: " + a.dir;
  notes["precision"] = precision_note(0, a.precision_profile);
  if (!a.thresholds.empty()) notes["thresholds"] = a.thresholds;
  if (!a.config.empty()) notes["config"] = a.config;
  return simulation_json(run.results(), notes);
}

json Session::search_precision(const DataArg& d, const SearchArgs& a) {
  std::lock_guard lock(mutex_);
  const search::Target target = target_of(a);
  if (a.batch < 1) fail<UsageError>("--batch must be at least 1");
  if (a.sim_images < 0) fail<UsageError>("sim_images must not be negative");
  cli::Loaded& l = loaded_;
  search::EvalSet search_set, report_set;
  search::SearchSetup setup;
  setup.model = options_.model;
  auto class_count = [&](const Dataset& data) -> int64_t {
    if (!l.model.meta.classes.empty()) return static_cast<int64_t>(l.model.meta.classes.size());
    return l.exec->run({data.images(0, 1)}).at(0).numel();
  };
  if (!a.search_data.empty() || !a.report_data.empty()) {
    if (a.search_data.empty() || a.report_data.empty()) fail<UsageError>("give both --search-data and --report-data");
    if (!d.arrays.empty() || !d.files.data.empty() || !d.files.input.empty()) {
      fail<UsageError>("--search-data/--report-data replace --data/--input");
    }
    const auto sd = open_dataset(a.search_data, cli::model_preprocess(l.model));
    const auto rd = open_dataset(a.report_data, cli::model_preprocess(l.model));
    if (sd->size() < 1 || rd->size() < 1) fail<UsageError>("--search-data and --report-data must not be empty");
    const int64_t classes = class_count(*sd);
    auto all = [](int64_t n) {
      std::vector<int64_t> v(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) v[i] = i;
      return v;
    };
    search_set = search::load_eval_set(*sd, all(sd->size()), classes);
    report_set = search::load_eval_set(*rd, all(rd->size()), classes);
  } else {
    std::string source;
    const auto data = open_data(d, source);
    if (data->size() < 1) fail<UsageError>("{}: the data set is empty", data->name());
    const search::SplitIndices split = search::split_indices(data->size(), a.search_images, a.report_images, a.seed);
    const int64_t classes = class_count(*data);
    search_set = search::load_eval_set(*data, split.search, classes);
    report_set = search::load_eval_set(*data, split.report, classes);
    setup.seed = a.seed;
    setup.shuffled = true;
  }
  setup.search_source = search_set.source;
  setup.report_source = report_set.source;

  search::SearchOptions o;
  o.target = target;
  o.objective = search::parse_objective(a.objective);
  o.threads = options_.threads;
  o.batch = a.batch;
  o.progress = Progress::enabled();
  // The command's fingerprint (it only names a checkpoint there; search.json does not hold it).
  o.fingerprint =
      fmt::format("{} {} | {} {:x} | {} {:x} | {} | batch {}", options_.model, fs::file_size(options_.model),
                  search_set.source, hash_indices(search_set.indices), report_set.source,
                  hash_indices(report_set.indices), search::describe_target(target), a.batch) +
      " | " + search::objective_name(o.objective);
  const std::vector<LayerGeometry> geometry = model_geometry(*l.exec, l.model.input_shape());
  const search::SearchResult r = search::search_precision(l.model.graph, geometry, search_set, report_set, o);
  sim::SimResults sim;
  const bool simulate = a.sim_images > 0;
  if (simulate) sim = search::simulate_with_profile(l.model.graph, r, report_set, a.sim_images, options_.threads);
  json doc = search::search_json(r, setup, o, simulate ? &sim : nullptr);
  return doc;
}

json Session::info() {
  std::lock_guard lock(mutex_);
  const Graph& g = loaded_.model.graph;
  const std::vector<Shape> shapes = loaded_.model.input_shapes();
  const std::vector<LayerGeometry> geo = model_geometry(*loaded_.exec, shapes);
  int64_t macs = 0, params = 0;
  for (const auto& x : geo) {
    macs += x.macs;
    params += x.params;
  }
  json ins = json::array(), outs = json::array();
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const Value& v = g.value(g.inputs[i]);
    ins.push_back({{"name", v.name},
                   {"declared_shape", v.shape},
                   {"dim_names", v.dim_names},
                   {"dtype", dtype_name(v.dtype)},
                   {"shape", shapes[i]}});
  }
  for (ValueId v : g.outputs) outs.push_back({{"name", g.value(v).name}});
  json j = {{"model", options_.model}, {"name", loaded_.model.meta.name}, {"inputs", ins}, {"outputs", outs}};
  j["layers"] = geo;
  j["totals"] = {{"layers", geo.size()}, {"macs", macs}, {"params", params}};
  j["classes"] = loaded_.model.meta.classes;
  return j;
}

}  // namespace eff::python
