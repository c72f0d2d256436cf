#include "deft/deft_html.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace eff::deft {

using nlohmann::json;

namespace {

void add_optimize(const json& doc, const std::string& source, html::HtmlReport& report) {
  if (doc.value("format", "") != "effectual-deft-optimize")
    fail<DataError>("{}: not an optimize.json of effectual optimize", source);
  html::Section& s = report.section(
      "deft-optimize", "DeftNN: per-layer formats and synapse vector elimination",
      "What effectual optimize chose per conv/FC layer (docs/deft.md): a packed format and an SVE alpha, or the fp32 "
      "engine's own kernel, each candidate timed in the engine; the search subset decides, the disjoint report "
      "subset reports.");
  const json& c = doc.at("chosen");
  const json& rep = doc.at("accuracy").at("report");
  const json& sea = doc.at("accuracy").at("search");
  s.key_values(
      {{"model", doc.value("model", "")},
       {"target", doc.value("target", "")},
       {"timed at", fmt::format("batch {}, {} thread(s)", doc.value("speed_batch", 0), doc.value("threads", 0))},
       {"search subset", fmt::format("{} images: top-1 {:.2f}% (fp32 {:.2f}%), {} lost", sea.value("images", 0),
                                     sea.value("top1", 0.0), sea.value("fp32_top1", 0.0), sea.value("lost", 0))},
       {"report subset", fmt::format("{} images: top-1 {:.2f}% (fp32 {:.2f}%), target {}", rep.value("images", 0),
                                     rep.value("top1", 0.0), rep.value("fp32_top1", 0.0),
                                     doc.value("report_met", false) ? "met" : "missed")},
       {"end to end", fmt::format("{:.3f} ms vs engine {:.3f} ms (same run): {:.2f}x", c.value("measured_ms", 0.0),
                                  c.value("engine_ms", 0.0), c.value("measured_speedup", 0.0))}});
  html::BarChart chart{.title = "Layer time: engine vs chosen",
                       .caption = "Each layer's node time in the engine (medians of interleaved rounds).",
                       .x_label = "layer",
                       .y_label = "ms",
                       .format = html::NumberFormat::plain(3, "ms")};
  html::Series engine{"fp32 engine", {}, ""}, chosen{"chosen", {}, ""};
  html::Table t{.caption = "Per layer",
                .header = {"layer", "kind", "K", "chosen", "kept", "engine ms", "chosen ms", "speedup"}};
  for (const json& l : doc.at("layers")) {
    chart.categories.push_back(l.value("name", ""));
    engine.values.push_back(l.value("engine_ms", 0.0));
    chosen.values.push_back(l.value("ms", 0.0));
    const double e = l.value("engine_ms", 0.0), m = l.value("ms", 0.0);
    t.rows.push_back({l.value("name", ""), l.value("kind", ""), html::Cell(l.value("depth", int64_t{0})),
                      l.value("chosen", ""), html::Cell(l.value("kept", int64_t{0})),
                      html::Cell(e, html::NumberFormat::plain(4)), html::Cell(m, html::NumberFormat::plain(4)),
                      html::Cell(m > 0 ? e / m : 0.0, html::NumberFormat::plain(2, "x"))});
  }
  chart.series = {engine, chosen};
  s.bar_chart(chart);
  s.table(t);
}

void add_frontier(const json& doc, const std::string& source, html::HtmlReport& report) {
  if (doc.value("format", "") != "effectual-deft-frontier")
    fail<DataError>("{}: not a frontier.json of effectual optimize", source);
  html::Section& s = report.section(
      "deft-frontier", "DeftNN: accuracy vs speed",
      "The Pareto points of the configurations effectual optimize evaluated (seed 004 Figure 14): each timed end to "
      "end against the fp32 engine in the same run, and evaluated on the report subset.");
  std::vector<json> points(doc.at("points").begin(), doc.at("points").end());
  std::stable_sort(points.begin(), points.end(), [](const json& a, const json& b) {
    return a.value("measured_speedup", 0.0) < b.value("measured_speedup", 0.0);
  });
  html::LineSeries report_line{"report subset", {}, {}, ""}, search_line{"search subset", {}, {}, ""};
  for (const json& p : points) {
    report_line.x.push_back(p.value("measured_speedup", 0.0));
    report_line.values.push_back(p.at("report").value("top1", 0.0));
    search_line.x.push_back(p.value("measured_speedup", 0.0));
    search_line.values.push_back(p.at("search").value("top1", 0.0));
  }
  s.line_chart({.title = "Top-1 vs measured speedup over the fp32 engine",
                .caption = "Further right is faster; the chosen point is marked in the table.",
                .x_label = "speedup over the fp32 engine (end to end)",
                .y_label = "top-1 (%)",
                .series = {report_line, search_line},
                .x_format = html::NumberFormat::plain(2, "x"),
                .y_format = html::NumberFormat::plain(1, "%")});
  // Seed 004 Figure 15: the speedup reachable at a given loss (report subset).
  html::Table levels{.caption = "Fastest measured point within a top-1 loss on the report subset (seed 004 Figure 15)",
                     .header = {"loss at most (points)", "speedup", "report top-1"}};
  for (double loss : {0.0, 0.5, 1.0, 2.0, 5.0}) {
    const json* best = nullptr;
    for (const json& p : points)
      if (p.at("report").value("loss_points", 1e9) <= loss + 1e-9 &&
          (!best || p.value("measured_speedup", 0.0) > best->value("measured_speedup", 0.0)))
        best = &p;
    if (best)
      levels.rows.push_back({html::Cell(loss, html::NumberFormat::plain(1)),
                             html::Cell(best->value("measured_speedup", 0.0), html::NumberFormat::plain(2, "x")),
                             html::Cell(best->at("report").value("top1", 0.0), html::NumberFormat::plain(2, "%"))});
  }
  s.table(levels);
  html::Table t{
      .caption = "The frontier's points (per layer: engine, or format@alpha)",
      .header = {"chosen", "layers", "predicted speedup", "measured speedup", "search top-1", "report top-1"}};
  for (const json& p : points)
    t.rows.push_back({p.value("chosen", false) ? "yes" : "", p.value("layers", ""),
                      html::Cell(p.value("predicted_speedup", 0.0), html::NumberFormat::plain(2, "x")),
                      html::Cell(p.value("measured_speedup", 0.0), html::NumberFormat::plain(2, "x")),
                      html::Cell(p.at("search").value("top1", 0.0), html::NumberFormat::plain(2, "%")),
                      html::Cell(p.at("report").value("top1", 0.0), html::NumberFormat::plain(2, "%"))});
  s.table(t);
}

}  // namespace

void add_deft_sections(const json* optimize, const std::string& optimize_source, const json* frontier,
                       const std::string& frontier_source, html::HtmlReport& report) {
  try {
    if (optimize) add_optimize(*optimize, optimize_source, report);
  } catch (const json::exception& e) {
    fail<DataError>("{}: missing or malformed field ({})", optimize_source, e.what());
  }
  try {
    if (frontier) add_frontier(*frontier, frontier_source, report);
  } catch (const json::exception& e) {
    fail<DataError>("{}: missing or malformed field ({})", frontier_source, e.what());
  }
}

}  // namespace eff::deft
