// effectual search precision|thresholds: per-layer fixed-point formats and near-zero thresholds
// found with accuracy in the loop (src/search, docs/search.md).
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/fs.h"
#include "core/progress.h"
#include "engine/geometry.h"
#include "quant/onnx_export.h"
#include "quant/search_clip.h"
#include "quant/search_ocs.h"
#include "report/html/html_report.h"
#include "search/frontier.h"
#include "search/precision_search.h"
#include "search/search_html.h"
#include "search/search_report.h"
#include "search/threshold_search.h"

namespace eff::cli {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr double kNoMaxLoss = -1e300;  // --max-loss not given

struct SearchFlags {
  Common common;
  Inputs inputs;
  std::string search_data, report_data;
  int64_t search_images = 500, report_images = 500;
  uint64_t seed = 1;
  std::string keep, metric = "top1", objective = "activations";
  double max_loss = kNoMaxLoss, min_snr_db = 30;
  bool min_snr_given = false;
  int64_t batch = 100;
  int64_t sim_images = 8;
  std::string out;
  bool resume = false;
  int levels = 12;
  bool sweep = false;
  std::string sweep_targets;  // "" : the default list
  std::string html;           // the report sections of docs/search.md as one HTML file
  std::string clip = "none";  // search precision: integer bits from this clipping (src/quant/search_clip.h)
  double ocs_ratio = 0;       // search precision: search the OCS-split model (src/quant/search_ocs.h)
};

search::Target target_of(const SearchFlags& f) {
  search::Target t;
  t.metric = search::parse_metric(f.metric);
  const bool max_loss_given = f.max_loss != kNoMaxLoss;
  if (max_loss_given && !(f.max_loss >= 0)) {
    fail<UsageError>("--max-loss {}: give a number of points >= 0, e.g. --max-loss 0.5", f.max_loss);
  }
  if (!f.keep.empty() && max_loss_given) fail<UsageError>("give --keep or --max-loss, not both");
  if (max_loss_given && t.metric != search::Metric::kTop1) fail<UsageError>("--max-loss goes with --metric top1");
  if (f.min_snr_given && t.metric != search::Metric::kOutputSnr) {
    fail<UsageError>("--min-snr-db goes with --metric output-snr");
  }
  if (!f.keep.empty()) {
    if (t.metric == search::Metric::kOutputSnr) fail<UsageError>("--keep does not apply to --metric output-snr");
    t.keep = search::parse_percentage(f.keep, "--keep");
  }
  t.max_loss_points = max_loss_given ? f.max_loss : -1;
  t.min_snr_db = f.min_snr_db;
  search::validate_target(t);
  return t;
}

int64_t class_count(Loaded& l, const Dataset& data) {
  if (!l.model.meta.classes.empty()) return static_cast<int64_t>(l.model.meta.classes.size());
  const std::vector<Tensor> out = l.exec->run(data.inputs(0, 1));
  return out.at(0).numel();
}

// Every layer's geometry at the shapes of the search set's items (models with dynamic or several
// inputs: the shapes the tensors given have).
std::vector<LayerGeometry> item_geometry(Loaded& l, const search::EvalSet& set) {
  std::vector<Shape> shapes;
  for (const Tensor& t : set.batch(0, 1)) shapes.push_back(t.shape());
  return model_geometry(*l.exec, shapes);
}

struct Subsets {
  search::EvalSet search, report;
  search::SearchSetup setup;
};

Subsets load_subsets(const SearchFlags& f, Loaded& l) {
  Subsets s;
  s.setup.model = f.common.model;
  const bool explicit_sets = !f.search_data.empty() || !f.report_data.empty();
  if (explicit_sets) {
    if (f.search_data.empty() || f.report_data.empty()) fail<UsageError>("give both --search-data and --report-data");
    if (!f.inputs.data.empty() || !f.inputs.input.empty()) {
      fail<UsageError>("--search-data/--report-data replace --data/--input");
    }
    const auto sd = open_dataset(f.search_data, model_preprocess(l.model));
    const auto rd = open_dataset(f.report_data, model_preprocess(l.model));
    if (sd->size() < 1 || rd->size() < 1) fail<UsageError>("--search-data and --report-data must not be empty");
    const int64_t classes = class_count(l, *sd);
    auto all = [](int64_t n) {
      std::vector<int64_t> v(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) v[i] = i;
      return v;
    };
    s.search = search::load_eval_set(*sd, all(sd->size()), classes);
    s.report = search::load_eval_set(*rd, all(rd->size()), classes);
  } else {
    const auto data = open_inputs(l.model, f.inputs);
    if (data->size() < 1) fail<UsageError>("{}: the data set is empty", data->name());
    const search::SplitIndices split = search::split_indices(data->size(), f.search_images, f.report_images, f.seed);
    const int64_t classes = class_count(l, *data);
    s.search = search::load_eval_set(*data, split.search, classes);
    s.report = search::load_eval_set(*data, split.report, classes);
    s.setup.seed = f.seed;
    s.setup.shuffled = true;
  }
  s.setup.search_source = s.search.source;
  s.setup.report_source = s.report.source;
  return s;
}

std::function<void(const std::string&)> terminal_log(const SearchFlags& f) {
  if (f.common.json || !Progress::enabled()) return {};
  return [](const std::string& m) { fmt::print(stderr, "{}\n", m); };
}

// What fixes a search's evaluations: the model, the images, the target, the batch; `stage` names
// the command (a `search all` checkpoint is not a `search precision` one).
std::string fingerprint(const SearchFlags& f, const Subsets& sub, const std::string& stage, const search::Target& t) {
  auto hash = [](const std::vector<int64_t>& v) {
    uint64_t h = 1469598103934665603ull;
    for (int64_t x : v) h = (h ^ static_cast<uint64_t>(x)) * 1099511628211ull;
    return h;
  };
  return fmt::format("{}{} {} | {} {:x} | {} {:x} | {} | batch {}", stage, f.common.model,
                     fs::file_size(f.common.model), sub.search.source, hash(sub.search.indices), sub.report.source,
                     hash(sub.report.indices), search::describe_target(t), f.batch);
}

// The precision search's options; `stage` names the search in the checkpoint's fingerprint (a
// `search all` checkpoint is not a `search precision` one).
search::SearchOptions precision_options(const SearchFlags& f, const Subsets& sub, const std::string& stage) {
  search::SearchOptions o;
  o.target = target_of(f);
  o.objective = search::parse_objective(f.objective);
  o.threads = f.common.threads;
  o.batch = f.batch;
  o.resume = f.resume;
  o.progress = !f.common.json;
  if (!f.out.empty()) {
    make_dirs(f.out);
    o.checkpoint = (fs::path(f.out) / "checkpoint.json").string();
  }
  o.fingerprint = fingerprint(f, sub, stage, o.target) + " | " + search::objective_name(o.objective);
  if (f.clip != "none") o.fingerprint += " | clip " + f.clip;
  if (f.ocs_ratio > 0) o.fingerprint += fmt::format(" | ocs {}", f.ocs_ratio);
  o.log = terminal_log(f);
  return o;
}

// The thresholds search's options; `base` the precision profile found first (`search all`), whose
// formats join the fingerprint.
search::ThresholdOptions threshold_options(const SearchFlags& f, const Subsets& sub, const std::string& stage,
                                           const search::SearchResult* base) {
  search::ThresholdOptions o;
  o.target = target_of(f);
  o.threads = f.common.threads;
  o.batch = f.batch;
  o.levels = f.levels;
  o.progress = !f.common.json;
  o.log = terminal_log(f);
  o.resume = f.resume;
  std::string profile = "fp32";
  if (base) {
    o.base = search::transforms_of(base->layers);
    profile.clear();
    for (const search::LayerChoice& l : base->layers) {
      for (const FixedPointFormat& x : {l.activations.format, l.weights.format}) {
        profile += fmt::format("{}{}.{} ", x.is_signed ? 's' : 'u', x.int_bits, x.frac_bits);
      }
    }
  }
  if (!f.out.empty()) {
    make_dirs(f.out);
    o.checkpoint = (fs::path(f.out) / "threshold_checkpoint.json").string();
  }
  o.fingerprint = fingerprint(f, sub, stage, o.target) + fmt::format(" | levels {} | profile {}", f.levels, profile);
  return o;
}

void check_precision_flags(const SearchFlags& f) {
  target_of(f);
  search::parse_objective(f.objective);
  if (f.resume && f.out.empty()) fail<UsageError>("--resume needs --out DIR (the checkpoint lives there)");
  if (f.batch < 1) fail<UsageError>("--batch must be at least 1");
}

// The same sections as `effectual report --search/--frontier`, without saving the JSON first.
void write_html(const SearchFlags& f, const json* search, const json* frontier) {
  if (f.html.empty()) return;
  html::HtmlReport report("effectual search", fs::path(f.common.model).filename().string());
  report.set_footer("effectual 0.1.0");
  search::add_search_sections(search, "search.json", frontier, "frontier.json", report);
  report.write(f.html);
}

void write_frontier(const SearchFlags& f, const json& doc, const std::string& csv) {
  write_html(f, nullptr, &doc);
  if (f.out.empty()) return;
  make_dirs(f.out);
  write_file_atomic((fs::path(f.out) / "frontier.json").string(), doc.dump(2) + "\n");
  write_file_atomic((fs::path(f.out) / "frontier.csv").string(), csv);
}

void check_sweep_flags(const SearchFlags& f) {
  if (!f.sweep && !f.sweep_targets.empty()) fail<UsageError>("--sweep-targets goes with --sweep");
  if (f.sweep && f.resume) fail<UsageError>("--sweep does not resume (its searches share their evaluations instead)");
}

// One search per target, sharing their evaluations: the accuracy vs Stripes-ideal-speedup frontier.
void run_precision_sweep(const SearchFlags& f, Loaded& l, const Subsets& sub, const search::SearchOptions& o) {
  const std::vector<search::Target> targets = search::sweep_targets(o.target, f.sweep_targets);
  const std::vector<LayerGeometry> geometry = item_geometry(l, sub.search);
  const auto points = search::sweep_precision(l.model.graph, geometry, sub.search, sub.report, o, targets);
  const json doc = search::precision_frontier_json(points, sub.setup);
  write_frontier(f, doc, search::precision_frontier_csv(points));
  if (f.common.json) return print_json(doc);
  fmt::print("{}", search::precision_frontier_text(points));
  if (!f.out.empty()) fmt::print("\nwrote {}/frontier.json, frontier.csv\n", f.out);
}

std::vector<std::vector<Tensor>> search_batches(const SearchFlags& f, const search::EvalSet& set) {
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

SplitRun load_split_model(const SearchFlags& f, const search::EvalSet& set, Loaded& l) {
  if (!(f.ocs_ratio > 0 && f.ocs_ratio <= 1))
    fail<UsageError>("--ocs-ratio {}: give a fraction in (0, 1]", f.ocs_ratio);
  SplitRun r;
  for (const LayerGeometry& g : item_geometry(l, set)) r.unsplit_macs += g.macs;
  r.model = quant::split_for_search(f.common.model, f.ocs_ratio, search_batches(f, set), f.common.threads);
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
                    fmt::format("effectual search precision: {} split by OCS, ratio {}", f.common.model, f.ocs_ratio));
  Common c = f.common;
  c.model = path;
  c.meta = l.model.meta.path;
  l.exec.reset();
  try {
    l = load(c);
  } catch (...) {
    if (r.written_to.empty()) fs::remove(path);
    throw;
  }
  if (r.written_to.empty()) fs::remove(path);
  return r;
}

void run_search_precision(SearchFlags& f) {
  check_precision_flags(f);
  check_sweep_flags(f);
  Loaded l = load(f.common);
  const Subsets sub = load_subsets(f, l);
  const search::EvalSet& search_set = sub.search;
  const search::EvalSet& report_set = sub.report;
  const search::SearchSetup& setup = sub.setup;
  search::SearchOptions o = precision_options(f, sub, "");
  std::optional<SplitRun> split;
  if (f.ocs_ratio != 0) split = load_split_model(f, search_set, l);
  if (f.clip != "none") {
    const quant::ClipMethod method = quant::parse_clip_method(f.clip);
    o.clipped_ranges = quant::clipped_ranges(l.model.graph, method, 8, search_batches(f, search_set),
                                             usable_threads(f.common.threads));
  }
  if (f.sweep) return run_precision_sweep(f, l, sub, o);

  const std::vector<LayerGeometry> geometry = item_geometry(l, search_set);
  const search::SearchResult r = search::search_precision(l.model.graph, geometry, search_set, report_set, o);
  sim::SimResults sim;
  const bool simulate = f.sim_images > 0;
  if (simulate) sim = search::simulate_with_profile(l.model.graph, r, report_set, f.sim_images, f.common.threads);
  json doc = search::search_json(r, setup, o, simulate ? &sim : nullptr);
  json profile = search::precision_profile_json(r);
  if (split) {
    doc["ocs"] = quant::split_model_json(split->model, split->written_to);
    doc["ocs"].update(unsplit_comparison(*split, r));
    profile["description"] = fmt::format(
        "found by effectual search precision on split_model.onnx beside it ({} split by OCS, ratio {}); it applies "
        "to that model (docs/search.md)",
        f.common.model, f.ocs_ratio);
  }
  write_html(f, &doc, nullptr);
  if (!f.out.empty()) {
    write_file_atomic((fs::path(f.out) / "precision_profile.json").string(), profile.dump(2) + "\n");
    write_file_atomic((fs::path(f.out) / "search.json").string(), doc.dump(2) + "\n");
    if (simulate) write_file_atomic((fs::path(f.out) / "speedups.txt").string(), sim::format_table(sim));
  }
  if (f.common.json) return print_json(doc);
  if (split) fmt::print("{}\n", quant::split_model_text(split->model, split->written_to));
  fmt::print("{}", search::summary_text(r, o, simulate ? &sim : nullptr));
  if (split) {
    const json c = unsplit_comparison(*split, r);
    fmt::print(
        "against the unsplit model at 16 bits ({} MACs per item; split {:+.2f}%): Stripes ideal speedup {:.2f}x\n",
        c["unsplit_macs"].get<int64_t>(),
        100.0 * (c["split_macs"].get<double>() / std::max<double>(1.0, c["unsplit_macs"].get<double>()) - 1),
        c["stripes_ideal_speedup_vs_unsplit"].get<double>());
  }
  if (!f.out.empty())
    fmt::print("\nwrote {}/precision_profile.json, search.json{}\n", f.out, simulate ? ", speedups.txt" : "");
}

void run_search_thresholds(SearchFlags& f) {
  target_of(f);
  if (f.batch < 1) fail<UsageError>("--batch must be at least 1");
  if (f.resume && f.out.empty()) fail<UsageError>("--resume needs --out DIR (the checkpoint lives there)");
  check_sweep_flags(f);
  if (!f.html.empty() && !f.sweep) fail<UsageError>("--html on search thresholds goes with --sweep (the frontier)");
  const std::vector<search::Target> sweep =
      f.sweep ? search::sweep_targets(target_of(f), f.sweep_targets) : std::vector<search::Target>{};
  Loaded l = load(f.common);
  const Subsets sub = load_subsets(f, l);
  search::ThresholdOptions o = threshold_options(f, sub, "thresholds: ", nullptr);
  const std::vector<LayerGeometry> geometry = item_geometry(l, sub.search);
  if (f.sweep) {
    o.checkpoint.clear();  // one target's; the sweep shares its memory instead
    // Accuracy vs MAC-weighted skipped fraction, one search per target sharing their evaluations.
    const auto points = search::sweep_thresholds(l.model.graph, geometry, sub.search, sub.report, o, sweep);
    const json doc = search::threshold_frontier_json(points, sub.setup);
    write_frontier(f, doc, search::threshold_frontier_csv(points));
    if (f.common.json) return print_json(doc);
    fmt::print("{}", search::threshold_frontier_text(points));
    if (!f.out.empty()) fmt::print("\nwrote {}/frontier.json, frontier.csv\n", f.out);
    return;
  }
  const search::ThresholdResult r = search::search_thresholds(l.model.graph, geometry, sub.search, sub.report, o);
  sim::SimResults without, with;
  const bool simulate = f.sim_images > 0;
  if (simulate) {
    without = search::simulate_designs(l.model.graph, {}, sub.report, f.sim_images, f.common.threads, "cnvlutin");
    with = search::simulate_designs(l.model.graph, search::threshold_transforms(r), sub.report, f.sim_images,
                                    f.common.threads, "cnvlutin");
  }
  const json doc =
      search::threshold_search_json(r, sub.setup, o, simulate ? &without : nullptr, simulate ? &with : nullptr);
  if (!f.out.empty()) {
    make_dirs(f.out);
    write_file_atomic((fs::path(f.out) / "thresholds.json").string(), search::thresholds_file_json(r).dump(2) + "\n");
    write_file_atomic((fs::path(f.out) / "threshold_search.json").string(), doc.dump(2) + "\n");
  }
  if (f.common.json) return print_json(doc);
  fmt::print("{}", search::threshold_summary_text(r, o, simulate ? &without : nullptr, simulate ? &with : nullptr));
  if (!f.out.empty()) fmt::print("\nwrote {}/thresholds.json, threshold_search.json\n", f.out);
}

// Precision first, then the thresholds on top of the found profile (their evaluations run with the
// profile's formats), then every design simulated with both.
void run_search_all(SearchFlags& f) {
  check_precision_flags(f);
  Loaded l = load(f.common);
  const Subsets sub = load_subsets(f, l);
  const search::SearchOptions po = precision_options(f, sub, "all: ");
  const std::vector<LayerGeometry> geometry = item_geometry(l, sub.search);
  const search::SearchResult pr = search::search_precision(l.model.graph, geometry, sub.search, sub.report, po);
  const search::ThresholdOptions to = threshold_options(f, sub, "all: " + po.fingerprint + " | thresholds: ", &pr);
  const search::ThresholdResult tr = search::search_thresholds(l.model.graph, geometry, sub.search, sub.report, to);
  sim::SimResults sim;
  const bool simulate = f.sim_images > 0;
  if (simulate) {
    sim = search::simulate_designs(l.model.graph, search::with_thresholds(to.base, tr), sub.report, f.sim_images,
                                   f.common.threads, "all");
  }
  const json doc = search::search_all_json(pr, tr, sub.setup, po, to, simulate ? &sim : nullptr);
  write_html(f, &doc, nullptr);
  if (!f.out.empty()) {
    const fs::path out(f.out);
    write_file_atomic((out / "precision_profile.json").string(), search::precision_profile_json(pr).dump(2) + "\n");
    write_file_atomic((out / "thresholds.json").string(), search::thresholds_file_json(tr).dump(2) + "\n");
    write_file_atomic((out / "search.json").string(), doc.dump(2) + "\n");
    if (simulate) write_file_atomic((out / "speedups.txt").string(), sim::format_table(sim));
  }
  if (f.common.json) return print_json(doc);
  fmt::print("{}", search::search_all_summary_text(pr, tr, po, to, simulate ? &sim : nullptr));
  if (!f.out.empty()) {
    fmt::print("\nwrote {}/precision_profile.json, thresholds.json, search.json{}\n", f.out,
               simulate ? ", speedups.txt" : "");
  }
}

void add_shared_flags(CLI::App* p, SearchFlags& f) {
  add_model_flags(p, f.common, false);
  add_input_flags(p, f.inputs);
  p->add_option("--search-data", f.search_data, "data set searched on (with --report-data, instead of --data)");
  p->add_option("--report-data", f.report_data, "data set the result is reported on");
  p->add_option("--search-images", f.search_images, "images of the search subset (seeded shuffle of --data)");
  p->add_option("--report-images", f.report_images, "images of the report subset, disjoint from the search subset");
  p->add_option("--seed", f.seed, "seed of the shuffle that draws the subsets");
  p->add_option("--keep", f.keep, "top-1 (or agreement) kept relative to fp32, e.g. 100% or 99%");
  p->add_option("--max-loss", f.max_loss, "top-1 at most this many points below fp32");
  p->add_option("--metric", f.metric, "top1 (labels), output-snr or top1-agreement (no labels needed)");
  p->add_option("--batch", f.batch, "images per inference batch");
  p->add_option("--html", f.html, "also write the report's search sections (docs/search.md) to this HTML file");
  p->add_option("--sim-images", f.sim_images, "report images simulated for the speedup table (0: none)")
      ->check(non_negative_count());
}

void add_sweep_flags(CLI::App* p, SearchFlags& f, const std::string& what) {
  p->add_flag("--sweep", f.sweep, "one search per target: the " + what + " frontier (frontier.json, .csv)");
  p->add_option("--sweep-targets", f.sweep_targets,
                "--sweep's targets, e.g. 100,99,95 (% kept; dB with output-snr); default 100..90%");
}

}  // namespace

void register_search_command(CLI::App& app) {
  static SearchFlags f;
  auto* s = app.add_subcommand("search", "search per-layer value formats with accuracy in the loop (docs/search.md)");
  s->require_subcommand(1);
  auto* p = s->add_subcommand("precision", "per-layer fixed-point formats minimising MAC-weighted bits");
  add_shared_flags(p, f);
  static CLI::Option* snr = p->add_option("--min-snr-db", f.min_snr_db, "with --metric output-snr: the least SNR");
  p->add_option("--objective", f.objective, "activations (Stripes), products (Loom, Tartan) or memory");
  p->add_option("--clip", f.clip,
                "integer bits from a clipping threshold (mse, aciq, kl at 8 bits on the search set) instead of the "
                "largest magnitude: none (default), mse, aciq, kl (docs/quantize.md)");
  p->add_option("--ocs-ratio", f.ocs_ratio,
                "search the model with this fraction of every layer's input channels split (OCS; weights and "
                "activations), written to --out as split_model.onnx: the profile applies to it (docs/search.md)");
  p->add_option("--out", f.out, "write precision_profile.json, search.json, speedups.txt (and a checkpoint)");
  p->add_flag("--resume", f.resume, "continue an interrupted search from --out's checkpoint");
  add_sweep_flags(p, f, "accuracy vs Stripes ideal speedup");
  p->callback([] {
    f.min_snr_given = snr->count() > 0;
    f.common.threads = usable_threads(f.common.threads);
    run_search_precision(f);
  });
  static SearchFlags a;
  auto* al = s->add_subcommand("all", "precision search, then thresholds searched on the found profile");
  add_shared_flags(al, a);
  static CLI::Option* asnr = al->add_option("--min-snr-db", a.min_snr_db, "with --metric output-snr: the least SNR");
  al->add_option("--objective", a.objective, "activations (Stripes), products (Loom, Tartan) or memory");
  al->add_option("--levels", a.levels, "threshold candidates per layer: max|a| x 2^-k, k < levels");
  al->add_option("--out", a.out, "write precision_profile.json, thresholds.json, search.json, speedups.txt");
  al->add_flag("--resume", a.resume, "continue an interrupted search (either stage) from --out's checkpoints");
  al->callback([] {
    a.min_snr_given = asnr->count() > 0;
    a.common.threads = usable_threads(a.common.threads);
    run_search_all(a);
  });
  static SearchFlags t;
  auto* th = s->add_subcommand("thresholds", "per-layer near-zero thresholds maximising skipped activations");
  add_shared_flags(th, t);
  static CLI::Option* tsnr = th->add_option("--min-snr-db", t.min_snr_db, "with --metric output-snr: the least SNR");
  th->add_option("--levels", t.levels, "threshold candidates per layer: max|a| x 2^-k, k < levels");
  th->add_option("--out", t.out, "write thresholds.json, threshold_search.json (--sweep: frontier.*) and a checkpoint");
  th->add_flag("--resume", t.resume, "continue an interrupted search from --out's checkpoint");
  add_sweep_flags(th, t, "accuracy vs MAC-weighted skipped fraction");
  th->callback([] {
    t.min_snr_given = tsnr->count() > 0;
    t.common.threads = usable_threads(t.common.threads);
    run_search_thresholds(t);
  });
}

}  // namespace eff::cli
