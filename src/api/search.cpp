#include "api/search.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "core/fs.h"
#include "core/progress.h"
#include "engine/geometry.h"
#include "quant/onnx_export.h"
#include "quant/search_clip.h"
#include "quant/search_ocs.h"
#include "search/frontier.h"
#include "search/precision_search.h"
#include "search/search_report.h"
#include "search/threshold_search.h"

namespace eff::api {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

search::Target target_of(const SearchOptions& f) {
  return target_from(f.metric, f.keep, f.max_loss, f.min_snr_db);
}

// The classes of the first output; for the top-1 metrics it must be class scores [1, C] (or
// [1, C, 1, 1]): a detector's probability map taken as classes made a meaningless search.
int64_t class_count(cli::Loaded& l, const Dataset& data, const std::string& metric) {
  if (!l.model.meta.classes.empty()) return static_cast<int64_t>(l.model.meta.classes.size());
  const std::vector<Tensor> out = l.exec->run(data.inputs(0, 1));
  const Shape& s = out.at(0).shape();
  const bool class_scores =
      s.size() >= 2 && s[0] == 1 && s[1] >= 2 && std::all_of(s.begin() + 2, s.end(), [](int64_t d) { return d == 1; });
  if (!class_scores && search::parse_metric(metric) != search::Metric::kOutputSnr) {
    fail<ShapeError>(
        "{}: output '{}' has shape {} per item, not class scores [1, classes]; --metric {} needs them "
        "(--metric output-snr compares any output)",
        l.model.graph.source, l.model.graph.value(l.model.graph.outputs.at(0)).name, shape_str(s), metric);
  }
  return out.at(0).numel();
}

// Every layer's geometry at the shapes of the search set's items (models with dynamic or several
// inputs: the shapes the tensors given have).
std::vector<LayerGeometry> item_geometry(cli::Loaded& l, const search::EvalSet& set) {
  std::vector<Shape> shapes;
  for (const Tensor& t : set.batch(0, 1)) shapes.push_back(t.shape());
  return model_geometry(*l.exec, shapes);
}

struct Subsets {
  search::EvalSet search, report;
  search::SearchSetup setup;
};

Subsets load_subsets(const SearchOptions& f, const cli::Common& o, const SearchData& d, cli::Loaded& l) {
  Subsets s;
  s.setup.model = o.model;
  const bool explicit_sets = !f.search_data.empty() || !f.report_data.empty();
  if (explicit_sets) {
    if (f.search_data.empty() || f.report_data.empty()) fail<UsageError>("give both --search-data and --report-data");
    if (d.given) fail<UsageError>("--search-data/--report-data replace --data/--input");
    const auto sd = cli::open_data_source(l.model, f.search_data, "--search-data");
    const auto rd = cli::open_data_source(l.model, f.report_data, "--report-data");
    if (sd->size() < 1 || rd->size() < 1) fail<UsageError>("--search-data and --report-data must not be empty");
    const int64_t classes = class_count(l, *sd, f.metric);
    auto all = [](int64_t n) {
      std::vector<int64_t> v(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) v[i] = i;
      return v;
    };
    s.search = search::load_eval_set(*sd, all(sd->size()), classes);
    s.report = search::load_eval_set(*rd, all(rd->size()), classes);
  } else {
    const auto data = d.open();
    if (data->size() < 1) fail<UsageError>("{}: the data set is empty", data->name());
    const search::SplitIndices split = search::split_indices(data->size(), f.search_images, f.report_images, f.seed);
    const int64_t classes = class_count(l, *data, f.metric);
    s.search = search::load_eval_set(*data, split.search, classes);
    s.report = search::load_eval_set(*data, split.report, classes);
    s.setup.seed = f.seed;
    s.setup.shuffled = true;
  }
  s.setup.search_source = s.search.source;
  s.setup.report_source = s.report.source;
  return s;
}

std::function<void(const std::string&)> terminal_log(const cli::Common& o) {
  if (o.json || !Progress::enabled()) return {};
  return [](const std::string& m) { fmt::print(stderr, "{}\n", m); };
}

// What fixes a search's evaluations: the model, the images, the target, the batch; `stage` names
// the command (a `search all` checkpoint is not a `search precision` one).
std::string fingerprint(const SearchOptions& f, const cli::Common& o, const Subsets& sub, const std::string& stage,
                        const search::Target& t) {
  auto hash = [](const std::vector<int64_t>& v) {
    uint64_t h = 1469598103934665603ull;
    for (int64_t x : v) h = (h ^ static_cast<uint64_t>(x)) * 1099511628211ull;
    return h;
  };
  return fmt::format("{}{} {} | {} {:x} | {} {:x} | {} | batch {}", stage, o.model, fs::file_size(o.model),
                     sub.search.source, hash(sub.search.indices), sub.report.source, hash(sub.report.indices),
                     search::describe_target(t), f.batch);
}

search::SearchOptions precision_options(const SearchOptions& f, const cli::Common& o, const Subsets& sub,
                                        const std::string& stage) {
  search::SearchOptions p;
  p.target = target_of(f);
  p.objective = search::parse_objective(f.objective);
  p.threads = cli::usable_threads(o.threads);
  p.batch = f.batch;
  p.resume = f.resume;
  p.progress = !o.json;
  if (!f.out.empty()) {
    make_dirs(f.out);
    p.checkpoint = (fs::path(f.out) / "checkpoint.json").string();
  }
  p.fingerprint = fingerprint(f, o, sub, stage, p.target) + " | " + search::objective_name(p.objective);
  if (f.clip != "none") p.fingerprint += " | clip " + f.clip;
  if (f.ocs_ratio > 0) p.fingerprint += fmt::format(" | ocs {}", f.ocs_ratio);
  p.log = terminal_log(o);
  return p;
}

// The thresholds search's options; `base` the precision profile found first (`search all`), whose
// formats join the fingerprint.
search::ThresholdOptions threshold_options(const SearchOptions& f, const cli::Common& o, const Subsets& sub,
                                           const std::string& stage, const search::SearchResult* base) {
  search::ThresholdOptions t;
  t.target = target_of(f);
  t.threads = cli::usable_threads(o.threads);
  t.batch = f.batch;
  t.levels = f.levels;
  t.progress = !o.json;
  t.log = terminal_log(o);
  t.resume = f.resume;
  std::string profile = "fp32";
  if (base) {
    t.base = search::transforms_of(base->layers);
    profile.clear();
    for (const search::LayerChoice& l : base->layers) {
      for (const FixedPointFormat& x : {l.activations.format, l.weights.format}) {
        profile += fmt::format("{}{}.{} ", x.is_signed ? 's' : 'u', x.int_bits, x.frac_bits);
      }
    }
  }
  if (!f.out.empty()) {
    make_dirs(f.out);
    t.checkpoint = (fs::path(f.out) / "threshold_checkpoint.json").string();
  }
  t.fingerprint = fingerprint(f, o, sub, stage, t.target) + fmt::format(" | levels {} | profile {}", f.levels, profile);
  return t;
}

void check_sweep_options(const SearchOptions& f) {
  if (!f.sweep && !f.sweep_targets.empty()) fail<UsageError>("--sweep-targets goes with --sweep");
  if (f.sweep && f.resume) fail<UsageError>("--sweep does not resume (its searches share their evaluations instead)");
}

SearchOutput frontier_output(const SearchOptions& f, json doc, const std::string& csv, std::string text) {
  if (!f.out.empty()) {
    make_dirs(f.out);
    write_file_atomic((fs::path(f.out) / "frontier.json").string(), doc.dump(2) + "\n");
    write_file_atomic((fs::path(f.out) / "frontier.csv").string(), csv);
    text += fmt::format("\nwrote {}/frontier.json, frontier.csv\n", f.out);
  }
  return {std::move(doc), std::move(text), true};
}

std::vector<std::vector<Tensor>> search_batches(const SearchOptions& f, const search::EvalSet& set) {
  std::vector<std::vector<Tensor>> batches;
  for (int64_t b = 0; b < set.size(); b += f.batch)
    batches.push_back({set.batch(b, std::min(f.batch, set.size() - b))});
  return batches;
}

// --ocs-ratio: the model the search runs on becomes the split model (activation splits from the
// search set's maxima), written to OUT/split_model.onnx (+ the sidecar) so that the profile has
// the model it applies to; without --out it lives in a temporary file until it is loaded.
struct SplitRun {
  quant::SplitModel model;
  std::string written_to;    // empty without --out
  int64_t unsplit_macs = 0;  // per item, of the model given: the split adds MACs
};

// Stripes' ideal speedup of the profile against the unsplit model at 16 bits (the split layers'
// MACs at their precisions), and the MACs the split adds.
json unsplit_comparison(const SplitRun& s, const search::SearchResult& r) {
  int64_t split_macs = 0;
  double bit_macs = 0;
  for (const search::LayerChoice& l : r.layers) {
    split_macs += l.shape.macs;
    bit_macs += static_cast<double>(l.shape.macs) * l.activations.format.total_bits();
  }
  return {
      {"unsplit_macs", s.unsplit_macs},
      {"split_macs", split_macs},
      {"stripes_ideal_speedup_vs_unsplit", bit_macs > 0 ? 16.0 * static_cast<double>(s.unsplit_macs) / bit_macs : 0}};
}

SplitRun load_split_model(const SearchOptions& f, const cli::Common& o, const search::EvalSet& set, cli::Loaded& l) {
  if (!(f.ocs_ratio > 0 && f.ocs_ratio <= 1)) {
    fail<UsageError>("--ocs-ratio {}: give a fraction in (0, 1]", f.ocs_ratio);
  }
  SplitRun r;
  for (const LayerGeometry& g : item_geometry(l, set)) r.unsplit_macs += g.macs;
  r.model = quant::split_for_search(o.model, f.ocs_ratio, search_batches(f, set), cli::usable_threads(o.threads));
  std::string path;
  if (!f.out.empty()) {
    make_dirs(f.out);
    path = r.written_to = (fs::path(f.out) / "split_model.onnx").string();
    if (!l.model.meta.path.empty()) {
      write_file_atomic((fs::path(f.out) / "split_model.json").string(),
                        read_file(l.model.meta.path, size_t{16} << 20));
    }
  } else {
    path = (fs::temp_directory_path() / fmt::format("effectual-ocs-{}.onnx", ::getpid())).string();
  }
  quant::write_onnx(r.model.graph, path,
                    fmt::format("effectual search precision: {} split by OCS, ratio {}", o.model, f.ocs_ratio));
  cli::Common c = o;
  c.model = path;
  c.meta = l.model.meta.path;
  l.exec.reset();
  try {
    l = cli::load(c);
  } catch (...) {
    if (r.written_to.empty()) fs::remove(path);
    throw;
  }
  if (r.written_to.empty()) fs::remove(path);
  return r;
}

}  // namespace

search::Target target_from(const std::string& metric, const std::string& keep, std::optional<double> max_loss,
                           std::optional<double> min_snr_db, const std::string& default_keep) {
  search::Target t;
  t.metric = search::parse_metric(metric);
  if (max_loss && !(*max_loss >= 0)) {
    fail<UsageError>("--max-loss {}: give a number of points >= 0, e.g. --max-loss 0.5", *max_loss);
  }
  if (!keep.empty() && max_loss) fail<UsageError>("give --keep or --max-loss, not both");
  if (max_loss && t.metric != search::Metric::kTop1) fail<UsageError>("--max-loss goes with --metric top1");
  if (min_snr_db && t.metric != search::Metric::kOutputSnr) {
    fail<UsageError>("--min-snr-db goes with --metric output-snr");
  }
  const std::string& kept = keep.empty() && !max_loss ? default_keep : keep;
  if (!kept.empty()) {
    if (t.metric == search::Metric::kOutputSnr) fail<UsageError>("--keep does not apply to --metric output-snr");
    t.keep = search::parse_percentage(kept, "--keep");
  }
  t.max_loss_points = max_loss ? *max_loss : -1;
  t.min_snr_db = min_snr_db ? *min_snr_db : 30;
  search::validate_target(t);
  return t;
}

void check_precision_options(const SearchOptions& f) {
  target_of(f);
  search::parse_objective(f.objective);
  if (f.resume && f.out.empty()) fail<UsageError>("--resume needs --out DIR (the checkpoint lives there)");
  if (f.batch < 1) fail<UsageError>("--batch must be at least 1");
  if (f.sim_images < 0) fail<UsageError>("--sim-images must not be negative");
  check_sweep_options(f);
}

void check_threshold_options(const SearchOptions& f) {
  target_of(f);
  if (f.batch < 1) fail<UsageError>("--batch must be at least 1");
  if (f.sim_images < 0) fail<UsageError>("--sim-images must not be negative");
  if (f.resume && f.out.empty()) fail<UsageError>("--resume needs --out DIR (the checkpoint lives there)");
  check_sweep_options(f);
  if (f.html && !f.sweep) fail<UsageError>("--html on search thresholds goes with --sweep (the frontier)");
}

SearchOutput search_precision(cli::Loaded& l, const cli::Common& o, const SearchData& d, const SearchOptions& f) {
  check_precision_options(f);
  const int threads = cli::usable_threads(o.threads);
  const Subsets sub = load_subsets(f, o, d, l);
  const search::EvalSet& search_set = sub.search;
  const search::EvalSet& report_set = sub.report;
  search::SearchOptions p = precision_options(f, o, sub, "");
  std::optional<SplitRun> split;
  if (f.ocs_ratio != 0) split = load_split_model(f, o, search_set, l);
  if (f.clip != "none") {
    const quant::ClipMethod method = quant::parse_clip_method(f.clip);
    p.clipped_ranges = quant::clipped_ranges(l.model.graph, method, 8, search_batches(f, search_set), threads);
  }
  const std::vector<LayerGeometry> geometry = item_geometry(l, search_set);
  if (f.sweep) {
    // One search per target, sharing their evaluations: the accuracy vs Stripes-ideal-speedup frontier.
    const std::vector<search::Target> targets = search::sweep_targets(p.target, f.sweep_targets);
    const auto points = search::sweep_precision(l.model.graph, geometry, search_set, report_set, p, targets);
    return frontier_output(f, search::precision_frontier_json(points, sub.setup),
                           search::precision_frontier_csv(points), search::precision_frontier_text(points));
  }
  const search::SearchResult r = search::search_precision(l.model.graph, geometry, search_set, report_set, p);
  sim::SimResults sim;
  const bool simulate = f.sim_images > 0;
  if (simulate) sim = search::simulate_with_profile(l.model.graph, r, report_set, f.sim_images, threads);
  SearchOutput out{search::search_json(r, sub.setup, p, simulate ? &sim : nullptr),
                   search::summary_text(r, p, simulate ? &sim : nullptr), false};
  json profile = search::precision_profile_json(r);
  if (split) {
    out.doc["ocs"] = quant::split_model_json(split->model, split->written_to);
    out.doc["ocs"].update(unsplit_comparison(*split, r));
    profile["description"] = fmt::format(
        "found by effectual search precision on split_model.onnx beside it ({} split by OCS, ratio {}); it applies "
        "to that model (docs/search.md)",
        o.model, f.ocs_ratio);
    const json c = unsplit_comparison(*split, r);
    out.text = quant::split_model_text(split->model, split->written_to) + "\n" + out.text +
               fmt::format(
                   "against the unsplit model at 16 bits ({} MACs per item; split {:+.2f}%): Stripes ideal speedup "
                   "{:.2f}x\n",
                   c["unsplit_macs"].get<int64_t>(),
                   100.0 * (c["split_macs"].get<double>() / std::max<double>(1.0, c["unsplit_macs"].get<double>()) - 1),
                   c["stripes_ideal_speedup_vs_unsplit"].get<double>());
  }
  if (!f.out.empty()) {
    write_file_atomic((fs::path(f.out) / "precision_profile.json").string(), profile.dump(2) + "\n");
    write_file_atomic((fs::path(f.out) / "search.json").string(), out.doc.dump(2) + "\n");
    if (simulate) write_file_atomic((fs::path(f.out) / "speedups.txt").string(), sim::format_table(sim));
    out.text +=
        fmt::format("\nwrote {}/precision_profile.json, search.json{}\n", f.out, simulate ? ", speedups.txt" : "");
  }
  return out;
}

SearchOutput search_thresholds(cli::Loaded& l, const cli::Common& o, const SearchData& d, const SearchOptions& f) {
  check_threshold_options(f);
  const int threads = cli::usable_threads(o.threads);
  const std::vector<search::Target> sweep =
      f.sweep ? search::sweep_targets(target_of(f), f.sweep_targets) : std::vector<search::Target>{};
  const Subsets sub = load_subsets(f, o, d, l);
  search::ThresholdOptions t = threshold_options(f, o, sub, "thresholds: ", nullptr);
  const std::vector<LayerGeometry> geometry = item_geometry(l, sub.search);
  if (f.sweep) {
    t.checkpoint.clear();  // one target's; the sweep shares its memory instead
    // Accuracy vs MAC-weighted skipped fraction, one search per target sharing their evaluations.
    const auto points = search::sweep_thresholds(l.model.graph, geometry, sub.search, sub.report, t, sweep);
    return frontier_output(f, search::threshold_frontier_json(points, sub.setup),
                           search::threshold_frontier_csv(points), search::threshold_frontier_text(points));
  }
  const search::ThresholdResult r = search::search_thresholds(l.model.graph, geometry, sub.search, sub.report, t);
  sim::SimResults without, with;
  const bool simulate = f.sim_images > 0;
  if (simulate) {
    without = search::simulate_designs(l.model.graph, {}, sub.report, f.sim_images, threads, "cnvlutin");
    with = search::simulate_designs(l.model.graph, search::threshold_transforms(r), sub.report, f.sim_images, threads,
                                    "cnvlutin");
  }
  SearchOutput out{
      search::threshold_search_json(r, sub.setup, t, simulate ? &without : nullptr, simulate ? &with : nullptr),
      search::threshold_summary_text(r, t, simulate ? &without : nullptr, simulate ? &with : nullptr), false};
  if (!f.out.empty()) {
    make_dirs(f.out);
    write_file_atomic((fs::path(f.out) / "thresholds.json").string(), search::thresholds_file_json(r).dump(2) + "\n");
    write_file_atomic((fs::path(f.out) / "threshold_search.json").string(), out.doc.dump(2) + "\n");
    out.text += fmt::format("\nwrote {}/thresholds.json, threshold_search.json\n", f.out);
  }
  return out;
}

// Precision first, then the thresholds on top of the found profile (their evaluations run with the
// profile's formats), then every design simulated with both.
SearchOutput search_all(cli::Loaded& l, const cli::Common& o, const SearchData& d, const SearchOptions& f) {
  check_precision_options(f);
  const int threads = cli::usable_threads(o.threads);
  const Subsets sub = load_subsets(f, o, d, l);
  const search::SearchOptions po = precision_options(f, o, sub, "all: ");
  const std::vector<LayerGeometry> geometry = item_geometry(l, sub.search);
  const search::SearchResult pr = search::search_precision(l.model.graph, geometry, sub.search, sub.report, po);
  const search::ThresholdOptions to = threshold_options(f, o, sub, "all: " + po.fingerprint + " | thresholds: ", &pr);
  const search::ThresholdResult tr = search::search_thresholds(l.model.graph, geometry, sub.search, sub.report, to);
  sim::SimResults sim;
  const bool simulate = f.sim_images > 0;
  if (simulate) {
    sim = search::simulate_designs(l.model.graph, search::with_thresholds(to.base, tr), sub.report, f.sim_images,
                                   threads, "all");
  }
  SearchOutput out{search::search_all_json(pr, tr, sub.setup, po, to, simulate ? &sim : nullptr),
                   search::search_all_summary_text(pr, tr, po, to, simulate ? &sim : nullptr), false};
  if (!f.out.empty()) {
    const fs::path dir(f.out);
    write_file_atomic((dir / "precision_profile.json").string(), search::precision_profile_json(pr).dump(2) + "\n");
    write_file_atomic((dir / "thresholds.json").string(), search::thresholds_file_json(tr).dump(2) + "\n");
    write_file_atomic((dir / "search.json").string(), out.doc.dump(2) + "\n");
    if (simulate) write_file_atomic((dir / "speedups.txt").string(), sim::format_table(sim));
    out.text += fmt::format("\nwrote {}/precision_profile.json, thresholds.json, search.json{}\n", f.out,
                            simulate ? ", speedups.txt" : "");
  }
  return out;
}

}  // namespace eff::api
