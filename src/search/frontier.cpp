#include "search/frontier.h"

#include <fmt/format.h>

#include <sstream>

namespace eff::search {

using nlohmann::json;

std::vector<Target> sweep_targets(const Target& base, const std::string& list) {
  if (base.metric == Metric::kTop1 && base.max_loss_points >= 0) {
    fail<UsageError>("--sweep walks --keep targets (or --min-snr-db with --sweep-targets); drop --max-loss");
  }
  const bool snr = base.metric == Metric::kOutputSnr;
  if (snr && list.empty())
    fail<UsageError>("--sweep with --metric output-snr needs --sweep-targets (dB), e.g. 40,30,20");
  std::vector<std::string> items;
  if (list.empty()) {
    items = {"100", "99.5", "99", "98", "97", "95", "90"};
  } else {
    std::stringstream ss(list);
    for (std::string item; std::getline(ss, item, ',');) items.push_back(item);
  }
  std::vector<Target> out;
  for (const std::string& item : items) {
    Target t = base;
    if (snr) {
      try {
        size_t used = 0;
        t.min_snr_db = std::stod(item, &used);
        if (used != item.size()) throw std::invalid_argument(item);
      } catch (const std::exception&) {
        fail<UsageError>("--sweep-targets '{}': give dB values separated by commas, e.g. 40,30,20", item);
      }
    } else {
      t.keep = parse_percentage(item, "--sweep-targets");
    }
    validate_target(t);
    out.push_back(t);
  }
  if (out.empty()) fail<UsageError>("--sweep-targets is empty");
  return out;
}

std::vector<PrecisionPoint> sweep_precision(const Graph& graph, const std::vector<LayerGeometry>& geometry,
                                            const EvalSet& search, const EvalSet& report, SearchOptions o,
                                            const std::vector<Target>& targets) {
  EvaluationMemory memory;
  o.memory = &memory;
  o.checkpoint.clear();  // a checkpoint is one target's; the sweep shares its memory instead
  std::vector<PrecisionPoint> points;
  for (const Target& t : targets) {
    o.target = t;
    if (o.log) o.log(fmt::format("sweep: {}", describe_target(t)));
    points.push_back({t, search_precision(graph, geometry, search, report, o)});
  }
  return points;
}

std::vector<ThresholdPoint> sweep_thresholds(const Graph& graph, const std::vector<LayerGeometry>& geometry,
                                             const EvalSet& search, const EvalSet& report, ThresholdOptions o,
                                             const std::vector<Target>& targets) {
  EvaluationMemory memory;
  o.memory = &memory;
  std::vector<ThresholdPoint> points;
  for (const Target& t : targets) {
    o.target = t;
    if (o.log) o.log(fmt::format("sweep: {}", describe_target(t)));
    points.push_back({t, search_thresholds(graph, geometry, search, report, o)});
  }
  return points;
}

namespace {

// The target's value as swept: percent kept, or dB.
double target_value(const Target& t) {
  return t.metric == Metric::kOutputSnr ? t.min_snr_db : 100.0 * t.keep;
}

std::vector<int64_t> macs_of(const SearchResult& r) {
  std::vector<int64_t> m;
  for (const LayerChoice& l : r.layers) m.push_back(l.shape.macs);
  return m;
}

double stripes_of(const SearchResult& r) {
  return stripes_ideal_speedup(macs_of(r), activation_bits(r));
}

json accuracy_json(const SubsetScore& s) {
  json j = {{"metric", s.metric}, {"fp32_metric", s.fp32_metric}, {"target_met", s.met}};
  if (s.labelled) {
    j["top1"] = s.top1;
    j["fp32_top1"] = s.fp32_top1;
  }
  return j;
}

// CSV cells: top-1 where labelled, else empty (the metric column has the target's metric).
std::string top1_cell(const SubsetScore& s) {
  return s.labelled ? fmt::format("{:.4f}", s.top1) : "";
}

std::string thresholds_notation(const ThresholdResult& r) {
  std::string s;
  for (const ThresholdChoice& c : r.layers) {
    if (!s.empty()) s += '/';
    s += fmt::format("{:.4g}", c.threshold);
  }
  return s;
}

json header(const SearchSetup& setup, const char* format, const Target& any) {
  json j = {{"format", format},
            {"version", 1},
            {"model", setup.model},
            {"metric", metric_name(any.metric)},
            {"target_unit", any.metric == Metric::kOutputSnr ? "dB" : "percent kept"},
            {"subsets", {{"search", setup.search_source}, {"report", setup.report_source}}}};
  if (setup.shuffled) j["subsets"]["seed"] = setup.seed;
  return j;
}

}  // namespace

json precision_frontier_json(const std::vector<PrecisionPoint>& points, const SearchSetup& setup) {
  json rows = json::array();
  for (const PrecisionPoint& p : points) {
    const SearchResult& r = p.result;
    rows.push_back({{"target", target_value(p.target)},
                    {"description", describe_target(p.target)},
                    {"activation_precisions", precision_notation(activation_bits(r))},
                    {"weight_precisions", precision_notation(weight_bits(r))},
                    {"stripes_ideal_speedup", stripes_of(r)},
                    {"search", accuracy_json(r.search)},
                    {"report", accuracy_json(r.report)},
                    {"evaluations", r.evaluations.total()},
                    {"from_memory", r.evaluations.from_memory}});
  }
  json j = header(setup, "effectual-precision-frontier", points.empty() ? Target{} : points[0].target);
  j["x"] = "stripes_ideal_speedup";
  j["points"] = rows;
  return j;
}

std::string precision_frontier_csv(const std::vector<PrecisionPoint>& points) {
  std::string s =
      "target,activation_precisions,weight_precisions,stripes_ideal_speedup,search_top1,report_top1,search_metric,"
      "report_metric,evaluations,from_memory\n";
  for (const PrecisionPoint& p : points) {
    const SearchResult& r = p.result;
    s += fmt::format("{},{},{},{:.4f},{},{},{:.4f},{:.4f},{},{}\n", target_value(p.target),
                     precision_notation(activation_bits(r)), precision_notation(weight_bits(r)), stripes_of(r),
                     top1_cell(r.search), top1_cell(r.report), r.search.metric, r.report.metric, r.evaluations.total(),
                     r.evaluations.from_memory);
  }
  return s;
}

json threshold_frontier_json(const std::vector<ThresholdPoint>& points, const SearchSetup& setup) {
  json rows = json::array();
  for (const ThresholdPoint& p : points) {
    const ThresholdResult& r = p.result;
    json thresholds = json::array();
    for (const ThresholdChoice& c : r.layers) thresholds.push_back(c.threshold);
    rows.push_back({{"target", target_value(p.target)},
                    {"description", describe_target(p.target)},
                    {"thresholds", thresholds},
                    {"skipped_fraction_mac_weighted", r.skipped_mac_weighted},
                    {"zero_fraction_mac_weighted", r.zero_mac_weighted},
                    {"search", accuracy_json(r.search)},
                    {"report", accuracy_json(r.report)},
                    {"evaluations", r.evaluations.total()},
                    {"from_memory", r.evaluations.from_memory}});
  }
  json j = header(setup, "effectual-threshold-frontier", points.empty() ? Target{} : points[0].target);
  j["x"] = "skipped_fraction_mac_weighted";
  j["points"] = rows;
  return j;
}

std::string threshold_frontier_csv(const std::vector<ThresholdPoint>& points) {
  std::string s =
      "target,thresholds,skipped_fraction_mac_weighted,search_top1,report_top1,search_metric,report_metric,"
      "evaluations,from_memory\n";
  for (const ThresholdPoint& p : points) {
    const ThresholdResult& r = p.result;
    s += fmt::format("{},{},{:.6f},{},{},{:.4f},{:.4f},{},{}\n", target_value(p.target), thresholds_notation(r),
                     r.skipped_mac_weighted, top1_cell(r.search), top1_cell(r.report), r.search.metric, r.report.metric,
                     r.evaluations.total(), r.evaluations.from_memory);
  }
  return s;
}

std::string precision_frontier_text(const std::vector<PrecisionPoint>& points) {
  std::string s = fmt::format("{:<40} {:<24} {:>8} {:>9} {:>9} {:>6} {:>7}\n", "target", "activation precisions",
                              "Stripes", "search", "report", "evals", "reused");
  for (const PrecisionPoint& p : points) {
    const SearchResult& r = p.result;
    s += fmt::format("{:<40} {:<24} {:>7.2f}x {:>9.2f} {:>9.2f} {:>6} {:>7}\n", describe_target(p.target),
                     precision_notation(activation_bits(r)), stripes_of(r), r.search.metric, r.report.metric,
                     r.evaluations.total(), r.evaluations.from_memory);
  }
  return s;
}

std::string threshold_frontier_text(const std::vector<ThresholdPoint>& points) {
  std::string s =
      fmt::format("{:<40} {:>8} {:>9} {:>9} {:>6} {:>7}\n", "target", "skipped", "search", "report", "evals", "reused");
  for (const ThresholdPoint& p : points) {
    const ThresholdResult& r = p.result;
    s += fmt::format("{:<40} {:>7.1f}% {:>9.2f} {:>9.2f} {:>6} {:>7}\n", describe_target(p.target),
                     100 * r.skipped_mac_weighted, r.search.metric, r.report.metric, r.evaluations.total(),
                     r.evaluations.from_memory);
  }
  return s;
}

}  // namespace eff::search
