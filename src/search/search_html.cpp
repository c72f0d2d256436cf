#include "search/search_html.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"

namespace eff::search {

using nlohmann::json;

namespace {

// The accuracy shown for a subset: top-1 where the set is labelled, else the target's metric.
double accuracy_of(const json& subset) {
  if (subset.contains("top1")) return subset.at("top1").get<double>();
  return subset.value("metric", 0.0);
}

void add_precision_tables(const json& doc, const std::string& source, html::HtmlReport& report) {
  const bool all = doc.value("format", "") == "effectual-search-all";
  if (!all && doc.value("format", "") != "effectual-precision-search") {
    fail<DataError>("{}: not a search.json of effectual search precision or search all", source);
  }
  const json& p = all ? doc.at("stages").at("precision") : doc;
  html::Section& s = report.section(
      "search", all ? "Search: precisions, then thresholds" : "Search: per-layer precisions",
      "Per-layer fixed-point formats found with accuracy in the loop (docs/search.md): the search subset decides, "
      "the disjoint report subset is evaluated once at the end.");
  const std::string network = std::filesystem::path(p.value("model", "")).stem().string();
  s.key_values({{"model", p.value("model", "")},
                {"target", p.at("target").value("description", "")},
                {"objective", p.value("objective", "")},
                {"search subset", fmt::format("{} images of {}", p.at("subsets").at("search").value("images", 0),
                                              p.at("subsets").at("search").value("source", ""))},
                {"report subset", fmt::format("{} images of {}", p.at("subsets").at("report").value("images", 0),
                                              p.at("subsets").at("report").value("source", ""))}});
  const auto x = html::NumberFormat::plain(2, "x");
  const auto pct = html::NumberFormat::plain(2, "%");
  html::Table t2{.caption = "Activation precisions per layer (the layout of seed 001 Table 2)",
                 .header = {"network", "per-layer activation precisions", "weight precisions", "Stripes ideal speedup",
                            "search accuracy", "report accuracy"}};
  t2.rows.push_back({network, p.value("activation_precisions", ""), p.value("weight_precisions", ""),
                     html::Cell(p.value("stripes_ideal_speedup", 0.0), x),
                     html::Cell(accuracy_of(p.at("accuracy").at("search")), pct),
                     html::Cell(accuracy_of(p.at("accuracy").at("report")), pct)});
  s.table(t2);
  if (all) {
    html::Table stages{.caption = "Accuracy after each stage (the thresholds are searched on the profile)",
                       .header = {"after", "search accuracy", "report accuracy"}};
    for (const char* stage : {"after_precision", "after_thresholds"}) {
      const json& a = doc.at("accuracy").at(stage);
      stages.rows.push_back({stage == std::string("after_precision") ? "precisions" : "precisions + thresholds",
                             html::Cell(accuracy_of(a.at("search")), pct),
                             html::Cell(accuracy_of(a.at("report")), pct)});
    }
    s.table(stages);
  }
  if (doc.contains("simulation")) {
    const json& sim = doc.at("simulation");
    html::Table t1{.caption = fmt::format("Speedup over DaDianNao with the found {} on {} report image(s) (a seed 001 "
                                          "Table 1 column)",
                                          all ? "profile and thresholds" : "profile", sim.value("images", 0)),
                   .header = {"design", "all layers", "conv", "FC", "ideal (all)"}};
    for (const json& d : sim.at("designs")) {
      t1.rows.push_back({d.value("design", ""), html::Cell(d.value("speedup_all", 0.0), x),
                         html::Cell(d.value("speedup_conv", 0.0), x), html::Cell(d.value("speedup_fc", 0.0), x),
                         html::Cell(d.value("ideal_speedup_all", 0.0), x)});
    }
    s.table(t1);
  }
}

void add_frontier(const json& doc, const std::string& source, html::HtmlReport& report) {
  const std::string format = doc.value("format", "");
  const bool precision = format == "effectual-precision-frontier";
  if (!precision && format != "effectual-threshold-frontier") {
    fail<DataError>("{}: not a frontier.json of effectual search precision|thresholds --sweep", source);
  }
  html::Section& s = report.section(
      "search-frontier", precision ? "Search: accuracy vs Stripes ideal speedup" : "Search: accuracy vs skipped work",
      "One search per target (--sweep); every point meets its target on the search subset, the report subset "
      "shows how well that holds on images the search never saw.");
  // Points in x order so that the line reads left to right.
  std::vector<json> points(doc.at("points").begin(), doc.at("points").end());
  const std::string xkey = precision ? "stripes_ideal_speedup" : "skipped_fraction_mac_weighted";
  std::stable_sort(points.begin(), points.end(),
                   [&](const json& a, const json& b) { return a.value(xkey, 0.0) < b.value(xkey, 0.0); });
  html::LineSeries report_line{"report subset", {}, {}, ""}, search_line{"search subset", {}, {}, ""};
  for (const json& p : points) {
    report_line.x.push_back(p.value(xkey, 0.0));
    report_line.values.push_back(accuracy_of(p.at("report")));
    search_line.x.push_back(p.value(xkey, 0.0));
    search_line.values.push_back(accuracy_of(p.at("search")));
  }
  s.line_chart({.title = precision ? "Accuracy vs Stripes ideal speedup" : "Accuracy vs skipped activations",
                .caption = "Each point is one target's search; further right is faster.",
                .x_label = precision ? "Stripes ideal speedup over 16 bits" : "MAC-weighted skipped fraction",
                .y_label = "accuracy (%)",
                .series = {report_line, search_line},
                .x_format = precision ? html::NumberFormat::plain(2, "x") : html::NumberFormat::percent(1),
                .y_format = html::NumberFormat::plain(1, "%")});
  html::Table t{.caption = "The frontier's points",
                .header = {"target", precision ? "activation precisions" : "thresholds",
                           precision ? "Stripes ideal speedup" : "skipped (MAC-weighted)", "search accuracy",
                           "report accuracy", "evaluations", "reused"}};
  for (const json& p : doc.at("points")) {
    std::string what;
    if (precision) {
      what = p.value("activation_precisions", "");
    } else {
      for (const json& v : p.at("thresholds")) {
        if (!what.empty()) what += " / ";
        what += fmt::format("{:.4g}", v.get<double>());
      }
    }
    t.rows.push_back({p.value("description", ""), what,
                      precision ? html::Cell(p.value(xkey, 0.0), html::NumberFormat::plain(2, "x"))
                                : html::Cell(p.value(xkey, 0.0), html::NumberFormat::percent(1)),
                      html::Cell(accuracy_of(p.at("search")), html::NumberFormat::plain(2, "%")),
                      html::Cell(accuracy_of(p.at("report")), html::NumberFormat::plain(2, "%")),
                      html::Cell(p.value("evaluations", 0)), html::Cell(p.value("from_memory", 0))});
  }
  s.table(t);
}

}  // namespace

void add_search_sections(const json* search, const std::string& search_source, const json* frontier,
                         const std::string& frontier_source, html::HtmlReport& report) {
  auto guarded = [](const std::string& source, const auto& add) {
    try {
      add();
    } catch (const json::exception& e) {
      fail<DataError>("{}: missing or malformed field ({})", source, e.what());
    }
  };
  if (search) guarded(search_source, [&] { add_precision_tables(*search, search_source, report); });
  if (frontier) guarded(frontier_source, [&] { add_frontier(*frontier, frontier_source, report); });
}

}  // namespace eff::search
