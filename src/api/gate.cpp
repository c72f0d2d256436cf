#include "api/gate.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <optional>

#include "api/search.h"
#include "core/fs.h"
#include "core/progress.h"
#include "engine/geometry.h"
#include "gating/gate_report.h"
#include "gating/gate_search.h"
#include "report/html/html_report.h"
#include "search/eval_set.h"

namespace eff::api {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

search::Target target_of(const GateOptions& f) {
  if (search::parse_metric(f.metric) == search::Metric::kOutputSnr) {
    fail<UsageError>("--metric: gate takes top1 or top1-agreement");
  }
  return target_from(f.metric, f.keep, f.max_loss, std::nullopt, "99%");
}

std::vector<double> base_fractions(const std::string& list) {
  std::vector<double> out;
  size_t start = 0;
  for (;;) {
    const size_t comma = list.find(',', start);
    out.push_back(
        gating::parse_fraction(list.substr(start, comma == std::string::npos ? comma : comma - start), "--base"));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

void parse_precision(const std::string& s, int& bits, int& high) {
  const size_t slash = s.find('/');
  try {
    size_t a = 0, b = 0;
    bits = std::stoi(s.substr(0, slash), &a);
    high = std::stoi(s.substr(slash + 1), &b);
    if (slash == std::string::npos || a != slash || b != s.size() - slash - 1) throw std::invalid_argument(s);
  } catch (const std::exception&) {
    fail<UsageError>("--precision: '{}' is not B/Bhb such as 8/4", s);
  }
  if (!(high >= 1 && high < bits && bits <= 16)) fail<UsageError>("--precision {}: needs 1 <= Bhb < B <= 16", s);
}

uint64_t hash_indices(const std::vector<int64_t>& v) {
  uint64_t h = 1469598103934665603ull;
  for (int64_t x : v) h = (h ^ static_cast<uint64_t>(x)) * 1099511628211ull;
  return h;
}

// With several runs, FILE.json becomes FILE.<label>.json per run.
std::string per_run_path(const std::string& path, const std::string& label, size_t runs) {
  if (runs == 1) return path;
  const fs::path p(path);
  return (p.parent_path() / (p.stem().string() + "." + label + p.extension().string())).string();
}

}  // namespace

void GateOptions::check(const cli::Common& o) const {
  target_of(*this);
  if (batch < 1) fail<UsageError>("--batch must be at least 1");
  if (resume && save.empty()) fail<UsageError>("--resume needs --save DIR (the checkpoints live there)");
  if (!o.deft.empty() || !o.gates.empty())
    fail<UsageError>("gate searches the fp32 model's gates; drop --deft/--gates");
  int bits = 8, high = 4;
  if (!evaluate.empty() && (!precision.empty() || resume))
    fail<UsageError>("--evaluate takes the kind and bits from the gates file; drop --precision/--resume");
  gating::Grouping grouped = gating::Grouping::kFirst;
  if (!gating::parse_grouping(grouping, grouped))
    fail<UsageError>("--grouping: '{}' is not first, contiguous or shuffle", grouping);
  if (grouped != gating::Grouping::kFirst && (!precision.empty() || !evaluate.empty()))
    fail<UsageError>("--grouping applies to a channel gating search (--evaluate takes it from the gates file)");
  if (!precision.empty()) {
    parse_precision(precision, bits, high);
  } else {
    base_fractions(base);
  }
}

Output gate(cli::Loaded& l, const cli::Common& o, const Data& d, const GateOptions& f) {
  f.check(o);
  const search::Target target = target_of(f);
  int bits = 8, high = 4;
  const bool precision = !f.precision.empty();
  if (precision) parse_precision(f.precision, bits, high);
  std::optional<gating::GatePlan> fixed;
  if (!f.evaluate.empty()) {
    fixed = gating::read_gates_file(f.evaluate);
    gating::check_gates(l.model.graph, *fixed, f.evaluate);
  }
  const std::vector<double> bases =
      precision || fixed ? std::vector<double>{fixed ? fixed->base_fraction : 1.0} : base_fractions(f.base);
  Dataset* data = &d.set;
  if (data->size() < 2) fail<UsageError>("{}: the data set needs at least 2 items", data->name());
  const search::SplitIndices split = search::split_indices(data->size(), f.search_images, f.report_images, f.seed);
  const int64_t classes = static_cast<int64_t>(l.model.meta.classes.size());
  const search::EvalSet search_set = search::load_eval_set(*data, split.search, classes);
  const search::EvalSet report_set = search::load_eval_set(*data, split.report, classes);
  // At the items' own shapes: a model with dynamic dimensions has no shape of its own.
  std::vector<Shape> item_shapes;
  for (const Tensor& t : search_set.batch(0, 1)) item_shapes.push_back(t.shape());
  const std::vector<LayerGeometry> geometry = model_geometry(*l.exec, item_shapes);
  if (!f.save.empty()) make_dirs(f.save);

  std::vector<gating::GateResult> runs;
  std::vector<std::string> labels;
  for (double base : bases) {
    gating::GateSearchOptions g;
    g.target = target;
    g.kind = precision ? gating::GateKind::kPrecision : gating::GateKind::kChannel;
    g.base_fraction = base;
    g.bits = bits, g.high_bits = high;
    g.levels = f.levels;
    g.per_channel = f.per_channel;
    gating::parse_grouping(f.grouping, g.grouping);
    if (fixed) g.fixed = &*fixed;
    g.threads = o.threads;
    g.batch = f.batch;
    g.progress = !o.json;
    if (!o.json && Progress::enabled()) g.log = [](const std::string& m) { fmt::print(stderr, "{}\n", m); };
    const std::string grouped = g.grouping == gating::Grouping::kFirst ? "" : "-" + f.grouping;
    const std::string label = precision ? fmt::format("p{}-{}", bits, high)
                                        : fmt::format("b{}{}", static_cast<int>(std::lround(1 / base)), grouped);
    labels.push_back(label);
    if (!f.save.empty() && !fixed) g.checkpoint = (fs::path(f.save) / ("checkpoint." + label + ".json")).string();
    g.resume = f.resume;
    g.fingerprint = fmt::format("gate {} {} | {} {:x} | {} | batch {} | {} base {} bits {}/{} | levels {}{}{}", o.model,
                                fs::file_size(o.model), search_set.source, hash_indices(split.search),
                                search::describe_target(target), f.batch, precision ? "precision" : "channel", base,
                                bits, high, f.levels, f.per_channel ? " | per-channel" : "",
                                grouped.empty() ? "" : " | grouping " + f.grouping);
    if (!o.json && Progress::enabled()) fmt::print(stderr, "gating: {}\n", precision ? f.precision : label);
    runs.push_back(gating::search_gates(l.model, geometry, search_set, report_set, g));
  }
  gating::GateSetup setup{o.model, search_set.source, report_set.source, search_set.size(), report_set.size(), f.seed};
  const json doc = gating::gate_results_json(runs, setup);
  std::vector<std::string> written;
  if (!f.out.empty()) {
    for (size_t i = 0; i < runs.size(); ++i) {
      const std::string path = per_run_path(f.out, labels[i], runs.size());
      write_file_atomic(path, gating::gates_json(runs[i].plan).dump(2) + "\n");
      written.push_back(path);
    }
  }
  if (!f.save.empty()) {
    const fs::path dir(f.save);
    write_file_atomic((dir / "gate.json").string(), doc.dump(2) + "\n");
    write_file_atomic((dir / "gate_layers.csv").string(), gating::gate_layers_csv(runs));
    write_file_atomic((dir / "gate_classes.csv").string(), gating::gate_classes_csv(runs, l.model.meta.classes));
    written.push_back(f.save + "/gate.json, gate_layers.csv, gate_classes.csv");
  }
  if (!f.html.empty()) {
    html::HtmlReport report("effectual gate", fs::path(o.model).filename().string());
    report.set_footer("effectual 0.1.0");
    gating::add_gate_section(doc, "gate results", report);
    report.write(f.html);
    written.push_back(f.html);
  }
  Output out{doc, gating::gate_summary_text(runs, l.model.meta.classes)};
  for (const std::string& w : written) out.text += fmt::format("wrote {}\n", w);
  return out;
}

}  // namespace eff::api
