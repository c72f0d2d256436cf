#include "profile/profile_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

namespace eff::profile {

using nlohmann::json;

namespace {

double num(const json& v) {
  return v.is_number() ? v.get<double>() : 0.0;
}

std::string threshold_text(const json& e) {
  return e["relative"].is_null() ? fmt::format("|a| < {:g}", num(e["threshold"]))
                                 : fmt::format("|a| < {:g} x layer max", num(e["relative"]));
}

// A bar chart with one group of bars per conv/FC layer.
html::BarChart layer_chart(const std::vector<std::string>& layer_names, std::string title, std::string caption,
                           std::string y_label, html::NumberFormat format, std::optional<double> y_max) {
  html::BarChart c;
  c.title = std::move(title);
  c.caption = std::move(caption);
  c.x_label = "layer";
  c.y_label = std::move(y_label);
  c.categories = layer_names;
  c.format = format;
  c.y_max = y_max;
  return c;
}

// One bar per layer: value_of(layer json).
template <class ValueOf>
html::Series layer_series(std::string name, const json& layers, ValueOf value_of) {
  html::Series s{std::move(name), {}, ""};
  for (const json& l : layers) s.values.push_back(value_of(l));
  return s;
}

}  // namespace

void add_profile_sections(const json& doc, html::HtmlReport& report) {
  const json& layers = doc.at("layers");
  std::vector<std::string> names;
  for (const json& l : layers)
    names.push_back(fmt::format("{} {}", l["index"].get<int>(), l["name"].get<std::string>()));
  const auto pct = html::NumberFormat::percent(1);

  // ---- overview
  {
    auto& s = report.section("profile-overview", "Value profile",
                             "What the conv/FC layers of this network computed on real inputs: how many input "
                             "activations are zero or nearly so, how many bits they need, how many of those bits are "
                             "one, and how compute and memory compare (docs/profile.md defines every number).");
    const json& run = doc["run"];
    std::vector<std::pair<std::string, std::string>> kv;
    for (const char* k : {"model", "data", "precision_profile", "thresholds"}) {
      if (run.contains(k) && run[k].is_string() && !run[k].get<std::string>().empty()) kv.push_back({k, run[k]});
    }
    kv.push_back({"images", std::to_string(doc["images"].get<int64_t>())});
    kv.push_back({"conv/FC layers", std::to_string(doc["layer_count"].get<int64_t>())});
    kv.push_back({"MACs per image", html::format_number(num(doc["compute"]["macs"]), html::NumberFormat::si(2))});
    kv.push_back({"zero activations (per value / per MAC)",
                  html::format_number(num(doc["activation_zero_fraction"]), pct) + " / " +
                      html::format_number(num(doc["activation_zero_fraction_per_mac"]), pct)});
    kv.push_back(
        {"effectual bits, 16-bit / 8-bit",
         html::format_number(num(doc["activation_effectual_bits"]["fixed16"]["popcount_fraction"]), pct) + " / " +
             html::format_number(num(doc["activation_effectual_bits"]["uniform8"]["popcount_fraction"]), pct)});
    kv.push_back({"static precision (MAC-weighted bits)",
                  html::format_number(num(doc["static_precision_bits_mac_weighted"]), html::NumberFormat::plain(2))});
    s.key_values(kv);
  }

  if (layers.empty()) {
    report.find_section("profile-overview")->note("The model has no conv/FC layer to profile.");
    return;
  }

  // ---- zeros
  {
    auto& s = report.section("profile-zeros", "Zero and near-zero activations",
                             "Per layer, the fraction of multiplication input activations (each activation counted "
                             "once per MAC it feeds, as in Figure 4 of seed 001) that are zero, and that fall below "
                             "a near-zero threshold on top of that.");
    html::BarChart c =
        layer_chart(names, "Ineffectual multiplication inputs per layer", "", "fraction of MACs", pct, 1.0);
    c.layout = html::BarChart::Layout::stacked;
    c.series.push_back(
        layer_series("zero", layers, [](const json& l) { return num(l["activations"]["zero_fraction_per_mac"]); }));
    if (!layers.empty() && !layers[0]["activations"]["near_zero"].empty()) {
      const json& first = layers[0]["activations"]["near_zero"][0];
      c.series.push_back(layer_series("near-zero (" + threshold_text(first) + ")", layers, [](const json& l) {
        const json& a = l["activations"];
        return std::max(0.0, num(a["near_zero"][0]["fraction_per_mac"]) - num(a["zero_fraction_per_mac"]));
      }));
      c.caption =
          "Zero (bottom) and additionally near-zero (top) input activations, weighted by MACs. The dashed "
          "line is the network total of zeros.";
    } else {
      c.caption = "Zero input activations, weighted by MACs. The dashed line is the network total.";
    }
    c.reference_lines.push_back({"network", num(doc["activation_zero_fraction_per_mac"])});
    s.bar_chart(c);

    html::BarChart v =
        layer_chart(names, "Zero activations: per stored value vs per multiplication",
                    "The two aggregates differ when zeros sit where fewer windows read them (borders, strided layers).",
                    "fraction", pct, 1.0);
    v.series = {
        layer_series("per value", layers, [](const json& l) { return num(l["activations"]["zero_fraction"]); }),
        layer_series("per MAC", layers, [](const json& l) { return num(l["activations"]["zero_fraction_per_mac"]); })};
    s.bar_chart(v);
  }

  // ---- precision
  {
    auto& s = report.section("profile-precision", "Precision",
                             "Bits a 16-bit fixed-point unit needs: statically per layer (every value of every image), "
                             "and dynamically per group of values processed together (Dynamic Stripes).");
    html::BarChart c = layer_chart(names, "Activation precision per layer",
                                   "Static: msb + 1 (+1 for a sign) over all values. Dynamic: the average over groups "
                                   "of the group's largest width.",
                                   "bits", html::NumberFormat::plain(1), 16);
    c.series.push_back(
        layer_series("static", layers, [](const json& l) { return num(l["activations"]["fixed16"]["bits_needed"]); }));
    const json& shapes = doc["options"]["groups"];
    for (size_t g = 0; g < shapes.size(); ++g) {
      c.series.push_back(
          layer_series(fmt::format("dynamic {}x{}", shapes[g]["channels"].get<int>(), shapes[g]["windows"].get<int>()),
                       layers, [g](const json& l) { return num(l["dynamic_precision"][g]["average_bits"]); }));
    }
    c.series.push_back(layer_series("weights (static)", layers,
                                    [](const json& l) { return num(l["weights"]["fixed16"]["bits_needed"]); }));
    s.bar_chart(c);
  }

  // ---- effectual bits
  {
    auto& s = report.section("profile-effectual-bits", "Effectual bits",
                             "The fraction of activation bits that are one (positional), and of Booth-like recoded "
                             "terms, in 16-bit fixed point and 8-bit quantized form (seed 001 section 6).");
    html::BarChart c = layer_chart(names, "Effectual activation bits per layer",
                                   "Per stored value, all activations (zeros included).", "fraction of bits", pct, {});
    for (const char* form : {"fixed16", "uniform8"}) {
      const std::string width = std::string(form) == "fixed16" ? "16-bit" : "8-bit";
      for (const char* term : {"popcount", "booth"}) {
        const std::string key = std::string(term) + "_fraction";
        c.series.push_back(
            layer_series(width + (std::string(term) == "popcount" ? " ones" : " Booth terms"), layers,
                         [&](const json& l) { return num(l["activations"][form]["effectual_bits"][key]); }));
      }
    }
    s.bar_chart(c);
  }

  // ---- compute and roofline
  {
    auto& s = report.section("profile-roofline", "Compute, memory and roofline",
                             "Per image, at the chosen bit width (seed 002): ops = 2 x MACs; intensity = ops per byte "
                             "moved when weights and activations all come from off-chip memory.");
    html::RooflineChart r;
    r.title = "Roofline (weights off-chip)";
    r.caption = "Each layer at its arithmetic intensity, at the performance each machine's roofline allows.";
    for (const json& m : doc["options"]["machines"]) {
      r.machines.push_back({m["name"], num(m["peak_ops_per_s"]), num(m["bytes_per_s"]), ""});
    }
    for (const json& l : layers) {
      for (const json& m : l["roofline"]) {
        const double i = num(m["weights_offchip"]["intensity"]), p = num(m["weights_offchip"]["attainable_ops_per_s"]);
        if (i > 0 && p > 0) r.points.push_back({l["name"], i, p, m["machine"]});
      }
    }
    if (!r.machines.empty()) s.roofline(r);
    html::Table t;
    t.caption = "Compute and memory per layer and image";
    t.header = {"#",
                "layer",
                "MACs",
                "weight bytes",
                "input bytes",
                "output bytes",
                "ops/byte (off-chip)",
                "ops/byte (weights on-chip)"};
    for (const json& m : doc["options"]["machines"]) t.header.push_back("bound on " + m["name"].get<std::string>());
    for (const json& l : layers) {
      const json& c = l["compute"];
      std::vector<html::Cell> row = {html::Cell(l["index"].get<int>()),
                                     html::Cell(l["name"].get<std::string>()),
                                     html::Cell(num(c["macs"]), html::NumberFormat::si(2)),
                                     html::Cell(num(c["weight_bytes"]), html::NumberFormat::si(2, "B")),
                                     html::Cell(num(c["input_bytes"]), html::NumberFormat::si(2, "B")),
                                     html::Cell(num(c["output_bytes"]), html::NumberFormat::si(2, "B")),
                                     html::Cell(num(c["intensity_offchip"]), html::NumberFormat::plain(1)),
                                     html::Cell(num(c["intensity_onchip"]), html::NumberFormat::plain(1))};
      for (const json& m : l["roofline"]) row.push_back(html::Cell(m["weights_offchip"]["bound"].get<std::string>()));
      t.rows.push_back(row);
    }
    s.table(t);
  }

  // ---- correlations
  if (doc["options"]["correlations"].get<bool>()) {
    auto& s = report.section("profile-correlations", "Correlations",
                             "Synapse-vector redundancy (DeftNN, seed 004) and partial-sum correlation (channel "
                             "gating, seed 003).");
    html::BarChart c = layer_chart(names, "Synapse vectors represented by another",
                                   "Fraction of the unrolled weight matrix's input rows that DeftNN's greedy search "
                                   "drops because a kept row correlates with them at >= alpha.",
                                   "fraction of rows", pct, 1.0);
    const json& alphas = doc["options"]["alphas"];
    for (size_t a = 0; a < alphas.size(); ++a) {
      c.series.push_back(layer_series(fmt::format("alpha {:g}", num(alphas[a])), layers, [a](const json& l) {
        return l["synapse_vectors"].is_null() ? 0.0 : num(l["synapse_vectors"]["alphas"][a]["fraction"]);
      }));
    }
    s.bar_chart(c);
    html::LineChart p;
    p.title = "Partial-sum vs full-sum correlation";
    p.caption =
        "Pearson correlation between the sum over the first p/c input channels and the full pre-activation sum "
        "(layers with too few channels for some fraction are left out).";
    p.x_label = "p/c";
    p.y_label = "correlation";
    for (const json& e : doc["options"]["partial_sum_denominators"])
      p.categories.push_back(fmt::format("1/{}", e.get<int>()));
    p.y_format = html::NumberFormat::plain(2);
    p.y_max = 1.0;
    for (const json& l : layers) {
      if (l["partial_sums"].is_null()) continue;
      html::LineSeries ls{l["name"], {}, {}, ""};
      bool all = true;
      for (const json& e : l["partial_sums"]) {
        ls.values.push_back(num(e["correlation"]));
        all = all && !e["correlation"].is_null();
      }
      if (all) p.series.push_back(ls);
    }
    double lo = 0;
    for (const auto& ls : p.series) {
      for (double v : ls.values) lo = std::min(lo, v);
    }
    p.y_min = lo < 0 ? -1.0 : 0.0;
    if (!p.series.empty()) s.line_chart(p);
  }

  // ---- table
  {
    auto& s = report.section("profile-layers", "Per-layer table");
    html::Table t;
    t.caption = "Activations of each conv/FC layer";
    t.header = {"#",         "layer",       "kind",       "zero",        "zero per MAC", "bits (static)",
                "saturated", "16-bit ones", "8-bit ones", "weights zero"};
    for (const json& l : layers) {
      const json& a = l["activations"];
      t.rows.push_back({html::Cell(l["index"].get<int>()), html::Cell(l["name"].get<std::string>()),
                        html::Cell(l["kind"].get<std::string>()), html::Cell(num(a["zero_fraction"]), pct),
                        html::Cell(num(a["zero_fraction_per_mac"]), pct),
                        html::Cell(a["fixed16"]["bits_needed"].get<int>()),
                        html::Cell(num(a["fixed16"]["saturated_fraction"]), pct),
                        html::Cell(num(a["fixed16"]["effectual_bits"]["popcount_fraction"]), pct),
                        html::Cell(num(a["uniform8"]["effectual_bits"]["popcount_fraction"]), pct),
                        html::Cell(num(l["weights"]["zero_fraction"]), pct)});
    }
    s.table(t);
  }
}

}  // namespace eff::profile
