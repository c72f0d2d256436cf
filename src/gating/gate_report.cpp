#include "gating/gate_report.h"

#include <fmt/format.h>

#include <cmath>

#include "core/error.h"
#include "search/search_report.h"

namespace eff::gating {

using nlohmann::json;

namespace {

json number_or_inf(double v) {
  if (std::isinf(v)) return v < 0 ? json("-inf") : json("inf");
  return v;
}

std::string fraction_text(double f) {
  for (int d : {1, 2, 4, 8, 16, 32, 64})
    if (std::fabs(f * d - std::round(f * d)) < 1e-9 && std::round(f * d) == 1) return fmt::format("1/{}", d);
  return fmt::format("{:g}", f);
}

std::string run_label(const GateResult& r) {
  if (r.options.kind == GateKind::kPrecision)
    return fmt::format("precision {}/{}", r.options.bits, r.options.high_bits);
  const std::string grouping =
      r.options.grouping == Grouping::kFirst ? "" : ", " + grouping_name(r.options.grouping) + " groups";
  return "base " + fraction_text(r.options.base_fraction) + grouping;
}

std::string class_name(const std::vector<std::string>& names, int64_t k) {
  return k >= 0 && static_cast<size_t>(k) < names.size() ? names[k] : std::to_string(k);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

json gate_results_json(const std::vector<GateResult>& runs, const GateSetup& setup) {
  json out = json::array();
  for (const GateResult& r : runs) {
    json layers = json::array();
    for (const GateLayerResult& l : r.layers) {
      json j = {{"layer", l.name},
                {"macs", l.macs},
                {"outputs", l.outputs},
                {"channels_per_group", l.channels_per_group},
                {"base_channels", l.base_channels},
                {"groups", l.groups},
                {"level", l.level},
                {"sensitivity_level", l.sensitivity_level},
                {"threshold", number_or_inf(l.threshold)},
                {"gated_off_search", l.off_search},
                {"gated_off_report", l.off_report},
                {"flop_reduction", l.flop_reduction}};
      if (r.options.kind == GateKind::kPrecision) {
        j["bits"] = r.options.bits;
        j["high_bits"] = r.options.high_bits;
        j["frac_bits"] = l.frac_bits;
        j["signed"] = l.is_signed;
        j["sparsity"] = l.off_report;
        j["b_avg"] = l.b_avg;
      }
      layers.push_back(j);
    }
    json classes = json::array();
    for (const ClassView& c : r.classes)
      classes.push_back({{"label", c.label},
                         {"easy_images", c.easy},
                         {"hard_images", c.hard},
                         {"easy_flop_reduction", c.easy_reduction},
                         {"hard_flop_reduction", c.hard_reduction},
                         {"flop_reduction", c.all_reduction}});
    json j = {{"kind", kind_name(r.options.kind)},
              {"target", search::describe_target(r.options.target)},
              {"levels", r.options.levels},
              {"network_macs", r.network_macs},
              {"flop_reduction", {{"search", r.reduction_search}, {"report", r.reduction_report}}},
              {"accuracy", {{"search", search::subset_json(r.search)}, {"report", search::subset_json(r.report)}}},
              {"evaluations",
               {{"sensitivity", r.evaluations.sensitivity},
                {"lift", r.evaluations.ascent},
                {"descent", r.evaluations.descent},
                {"final", r.evaluations.final_checks},
                {"from_checkpoint", r.evaluations.from_checkpoint},
                {"images", r.evaluations.images}}},
              {"wall_seconds", r.wall_seconds},
              {"layers", layers},
              {"skipped_layers", r.skipped},
              {"classes", classes},
              {"gates", gates_json(r.plan)}};
    if (r.options.kind == GateKind::kChannel) {
      j["base_fraction"] = r.options.base_fraction;
      j["grouping"] = grouping_name(r.options.grouping);
    } else {
      j["bits"] = r.options.bits;
      j["high_bits"] = r.options.high_bits;
      j["b_avg"] = r.b_avg_report;
    }
    out.push_back(j);
  }
  return {{"format", "effectual-gate-results"},
          {"version", 1},
          {"model", setup.model},
          {"search_set", {{"source", setup.search_source}, {"images", setup.search_images}}},
          {"report_set", {{"source", setup.report_source}, {"images", setup.report_images}}},
          {"seed", setup.seed},
          {"runs", out}};
}

std::string gate_layers_csv(const std::vector<GateResult>& runs) {
  std::string s =
      "run,layer,macs,outputs,channels_per_group,base_channels,threshold,gated_off_search,gated_off_report,"
      "flop_reduction,b_avg\n";
  for (const GateResult& r : runs)
    for (const GateLayerResult& l : r.layers)
      s +=
          fmt::format("{},{},{},{},{},{},{},{:.6f},{:.6f},{:.4f},{}\n", csv_field(run_label(r)), csv_field(l.name),
                      l.macs, l.outputs, l.channels_per_group, l.base_channels, l.threshold, l.off_search, l.off_report,
                      l.flop_reduction, r.options.kind == GateKind::kPrecision ? fmt::format("{:.4f}", l.b_avg) : "");
  return s;
}

std::string gate_classes_csv(const std::vector<GateResult>& runs, const std::vector<std::string>& names) {
  std::string s = "run,label,class,easy_images,hard_images,easy_flop_reduction,hard_flop_reduction,flop_reduction\n";
  for (const GateResult& r : runs)
    for (const ClassView& c : r.classes)
      s += fmt::format("{},{},{},{},{},{:.4f},{:.4f},{:.4f}\n", csv_field(run_label(r)), c.label,
                       csv_field(class_name(names, c.label)), c.easy, c.hard, c.easy_reduction, c.hard_reduction,
                       c.all_reduction);
  return s;
}

std::string gate_summary_text(const std::vector<GateResult>& runs, const std::vector<std::string>& names) {
  std::string s;
  for (const GateResult& r : runs) {
    const bool prec = r.options.kind == GateKind::kPrecision;
    s += fmt::format("== {} gating, {} (target {}) ==\n", kind_name(r.options.kind), run_label(r),
                     search::describe_target(r.options.target));
    s += prec ? fmt::format("{:<24} {:>10} {:>6} {:>5} {:>12} {:>9} {:>9} {:>6}\n", "layer", "MACs", "B/Bhb", "frac",
                            "threshold", "Sp search", "Sp report", "B_avg")
              : fmt::format("{:<24} {:>10} {:>9} {:>12} {:>10} {:>10} {:>8}\n", "layer", "MACs", "base/c", "threshold",
                            "off search", "off report", "FLOP red");
    for (const GateLayerResult& l : r.layers) {
      const std::string threshold = std::isnan(l.threshold) ? "per-channel" : fmt::format("{:.4g}", l.threshold);
      if (prec) {
        s += fmt::format("{:<24} {:>10} {:>6} {:>5} {:>12} {:>8.1f}% {:>8.1f}% {:>6.2f}\n", l.name, l.macs,
                         fmt::format("{}/{}", r.options.bits, r.options.high_bits), l.frac_bits, threshold,
                         100 * l.off_search, 100 * l.off_report, l.b_avg);
      } else {
        s += fmt::format("{:<24} {:>10} {:>9} {:>12} {:>9.1f}% {:>9.1f}% {:>7.2f}x\n", l.name, l.macs,
                         fmt::format("{}/{}", l.base_channels, l.channels_per_group), threshold, 100 * l.off_search,
                         100 * l.off_report, l.flop_reduction);
      }
    }
    for (const std::string& k : r.skipped) s += "  not gated: " + k + "\n";
    if (prec) {
      s += fmt::format("B_avg {:.2f} bits (MAC-weighted, report subset) for B={} B_hb={}\n", r.b_avg_report,
                       r.options.bits, r.options.high_bits);
    } else {
      s += fmt::format(
          "network FLOP reduction: {:.2f}x on the search subset, {:.2f}x on the report subset ({:.1f}% "
          "of {} MACs/image saved)\n",
          r.reduction_search, r.reduction_report, 100 * (1 - 1 / r.reduction_report), r.network_macs);
    }
    for (const auto& [name, sc] : {std::pair{"search", &r.search}, std::pair{"report", &r.report}}) {
      if (sc->labelled) {
        s += fmt::format("{:<7} {:>5} images: top-1 {:.2f}% (fp32 {:.2f}%, {} lost), agreement {:.2f}%{}\n", name,
                         sc->images, sc->top1, sc->fp32_top1, sc->lost, sc->agreement,
                         sc->met ? "" : "  (target missed)");
      } else {
        s += fmt::format("{:<7} {:>5} images: agreement with fp32 {:.2f}%{}\n", name, sc->images, sc->agreement,
                         sc->met ? "" : "  (target missed)");
      }
    }
    if (!prec && !r.classes.empty()) {
      s += fmt::format("{:<16} {:>6} {:>9} {:>6} {:>9} {:>9}\n", "class (report)", "easy", "FLOP red", "hard",
                       "FLOP red", "all");
      for (const ClassView& c : r.classes)
        s += fmt::format("{:<16} {:>6} {:>8.2f}x {:>6} {:>8.2f}x {:>8.2f}x\n", class_name(names, c.label), c.easy,
                         c.easy_reduction, c.hard, c.hard_reduction, c.all_reduction);
    }
    s += fmt::format("evaluations: {} sensitivity, {} lift, {} descent, {} final ({} from checkpoint); {:.1f} s\n\n",
                     r.evaluations.sensitivity, r.evaluations.ascent, r.evaluations.descent, r.evaluations.final_checks,
                     r.evaluations.from_checkpoint, r.wall_seconds);
  }
  return s;
}

void add_gate_section(const json& doc, const std::string& source, html::HtmlReport& report) {
  if (!doc.is_object() || doc.value("format", "") != "effectual-gate-results" || !doc.contains("runs") ||
      !doc["runs"].is_array())
    fail<DataError>("{}: not an effectual-gate-results document", source);
  try {
    html::Section& sec = report.section(
        "gating", "Dynamic gating (seed 003)",
        "Channel gating computes a base path over the first input channels of every conv layer and the other "
        "channels only for outputs whose base result exceeds the layer's threshold; precision gating computes "
        "the high-order bits first. Thresholds found with accuracy in the loop; FLOPs counted from the gates the "
        "engine opened on the report subset.");
    sec.key_values({{"model", doc.value("model", "")},
                    {"search subset", fmt::format("{} ({} images)", doc["search_set"].value("source", ""),
                                                  doc["search_set"].value("images", 0))},
                    {"report subset", fmt::format("{} ({} images)", doc["report_set"].value("source", ""),
                                                  doc["report_set"].value("images", 0))}});
    html::Table summary;
    summary.caption = "One search per base fraction (or precision pair)";
    summary.header = {"run",          "target",       "FLOP reduction (search)", "FLOP reduction (report)", "B_avg",
                      "top-1 search", "top-1 report", "fp32 top-1 report"};
    html::BarChart layers_chart;
    layers_chart.title = "FLOP reduction per layer (report subset)";
    layers_chart.caption = "Ungated MACs over executed MACs, per gated layer and run";
    layers_chart.y_label = "x";
    for (const json& run : doc["runs"]) {
      const bool prec = run.value("kind", "") == "precision";
      const std::string label = prec ? fmt::format("precision {}/{}", run.value("bits", 0), run.value("high_bits", 0))
                                     : "base " + fraction_text(run.value("base_fraction", 1.0));
      const json& acc = run.at("accuracy");
      auto top1 = [](const json& a) {
        return a.contains("top1") ? html::Cell(a["top1"].get<double>() / 100, html::NumberFormat::percent(2))
                                  : html::Cell("-");
      };
      summary.rows.push_back(
          {label, run.value("target", ""),
           html::Cell(run["flop_reduction"].value("search", 1.0), html::NumberFormat::plain(2, "x")),
           html::Cell(run["flop_reduction"].value("report", 1.0), html::NumberFormat::plain(2, "x")),
           prec ? html::Cell(run.value("b_avg", 0.0)) : html::Cell("-"), top1(acc.at("search")), top1(acc.at("report")),
           acc.at("report").contains("fp32_top1")
               ? html::Cell(acc["report"]["fp32_top1"].get<double>() / 100, html::NumberFormat::percent(2))
               : html::Cell("-")});
      if (prec) continue;
      html::Series series{label, {}, ""};
      std::vector<std::string> names;
      for (const json& l : run.at("layers")) {
        names.push_back(l.value("layer", ""));
        series.values.push_back(l.value("flop_reduction", 1.0));
      }
      if (layers_chart.categories.empty()) layers_chart.categories = names;
      if (names == layers_chart.categories) layers_chart.series.push_back(series);
    }
    sec.table(summary);
    if (!layers_chart.series.empty()) sec.bar_chart(layers_chart);
    for (const json& run : doc["runs"]) {
      if (run.value("kind", "") != "channel" || run.at("classes").empty()) continue;
      html::Table t;
      t.caption = "Easy and hard images per class, base " + fraction_text(run.value("base_fraction", 1.0)) +
                  " (easy: fp32 right with softmax probability >= 0.9)";
      t.header = {"class", "easy images", "easy FLOP reduction", "hard images", "hard FLOP reduction", "all"};
      for (const json& c : run["classes"])
        t.rows.push_back({std::to_string(c.value("label", 0)), c.value("easy_images", int64_t{0}),
                          html::Cell(c.value("easy_flop_reduction", 0.0), html::NumberFormat::plain(2, "x")),
                          c.value("hard_images", int64_t{0}),
                          html::Cell(c.value("hard_flop_reduction", 0.0), html::NumberFormat::plain(2, "x")),
                          html::Cell(c.value("flop_reduction", 0.0), html::NumberFormat::plain(2, "x"))});
      sec.table(t);
    }
  } catch (const json::exception& e) {
    fail<DataError>("{}: malformed gate results: {}", source, e.what());
  }
}

}  // namespace eff::gating
