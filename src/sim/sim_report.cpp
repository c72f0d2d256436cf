#include "sim/sim_report.h"

#include <fmt/format.h>

#include <map>
#include <string>
#include <vector>

#include "core/error.h"

namespace eff::sim {

using nlohmann::json;

namespace {

double ratio(double num, double den) {
  return den > 0 ? num / den : 0.0;
}

// Cycles summed over images: a layer's speedup is the ratio of its total cycles, so images that
// take longer weigh more, as they do in wall-clock time.
struct LayerSum {
  std::string name;
  std::string kind;
  double cycles = 0, baseline = 0, macs = 0, ideal_bit_products = 0, busy = 0, total = 0;
};

}  // namespace

void add_simulation_sections(const json& r, html::HtmlReport& report, const std::string& source) {
  const std::string where = source.empty() ? "simulation results" : source;
  if (!r.is_object() || r.value("format", "") != "effectual-simulation" || !r.contains("designs") ||
      !r["designs"].is_array() || !r.contains("layers") || !r["layers"].is_array()) {
    fail<DataError>("{}: not an effectual-simulation document (\"format\", \"designs\", \"layers\")", where);
  }
  std::vector<std::string> names;
  for (const json& d : r["designs"]) names.push_back(d.at("name").get<std::string>());

  // ---- Table 1 shape -------------------------------------------------------------------------
  html::Section& overview = report.section(
      "sim-overview", "Simulation: speedup over DaDianNao",
      "Each design against a DaDianNao of its own tiles, rows and lanes (equal peak 16-bit throughput), "
      "the shape of the performance column of seed 001 Table 1. Ideal is the potential: the speedup if only "
      "the value property the design exploits limited its work.");
  std::vector<std::pair<std::string, std::string>> kv = {{"images", std::to_string(r.value("images", 0))}};
  if (r.contains("notes") && r["notes"].is_object()) {
    for (const auto& [k, v] : r["notes"].items()) kv.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
  }
  overview.key_values(kv);

  html::Table table{.caption = "Speedup over DaDianNao of the same grid (cycles summed over all images)",
                    .header = {"design", "grid T-R-L (columns)", "conv", "FC", "all", "ideal (all)", "utilisation",
                               "cycles (all)", "DaDianNao cycles (all)"}};
  html::BarChart totals{.title = "Network speedup over DaDianNao",
                        .caption =
                            "Conv, FC and all layers per design; ideal = potential of the exploited property. "
                            "The line marks 1x (DaDianNao).",
                        .x_label = "design",
                        .y_label = "speedup",
                        .categories = names,
                        .format = html::NumberFormat::plain(2, "x"),
                        .reference_lines = {{"DaDianNao", 1.0}}};
  html::Series s_conv{"conv", {}, ""}, s_fc{"FC", {}, ""}, s_all{"all", {}, ""}, s_ideal{"ideal (all)", {}, ""};
  const auto x = html::NumberFormat::plain(2, "x");
  for (const json& d : r["designs"]) {
    const json& t = d.at("totals");
    const json& g = d.at("grid");
    auto sp = [&](const char* part) { return t.contains(part) ? t[part].value("speedup", 0.0) : 0.0; };
    s_conv.values.push_back(sp("conv"));
    s_fc.values.push_back(sp("fc"));
    s_all.values.push_back(sp("all"));
    s_ideal.values.push_back(t.at("all").value("ideal_speedup", 0.0));
    table.rows.push_back({d.at("name").get<std::string>(),
                          fmt::format("{}-{}-{} ({})", g.value("tiles", 0), g.value("rows", 0), g.value("lanes", 0),
                                      g.value("columns", 0)),
                          html::Cell(sp("conv"), x), html::Cell(sp("fc"), x), html::Cell(sp("all"), x),
                          html::Cell(t.at("all").value("ideal_speedup", 0.0), x),
                          html::Cell(t.at("all").value("utilisation", 0.0), html::NumberFormat::percent(1)),
                          html::Cell(t.at("all").value("cycles", uint64_t{0})),
                          html::Cell(t.at("all").value("baseline_cycles", uint64_t{0}))});
  }
  totals.series = {s_conv, s_fc, s_all, s_ideal};
  overview.table(table);
  overview.bar_chart(totals);

  // ---- Per layer -----------------------------------------------------------------------------
  // layer index -> design -> sums over images
  std::map<int, std::map<std::string, LayerSum>> per_layer;
  for (const json& rec : r["layers"]) {
    LayerSum& s = per_layer[rec.at("layer").get<int>()][rec.at("design").get<std::string>()];
    s.name = rec.value("name", "");
    s.kind = rec.value("kind", "");
    s.cycles += rec.value("cycles", 0.0);
    s.baseline += rec.value("baseline_cycles", 0.0);
    s.macs += rec.value("macs", 0.0);
    s.ideal_bit_products += rec.value("ideal_bit_products", 0.0);
    s.busy += rec.value("lane_cycles_busy", 0.0);
    s.total += rec.value("lane_cycles_total", 0.0);
  }
  std::vector<std::string> layers;
  for (const auto& [index, by_design] : per_layer) {
    layers.push_back(by_design.empty() ? std::to_string(index) : by_design.begin()->second.name);
  }
  html::Section& detail = report.section(
      "sim-layers", "Simulation: per layer",
      "Cycles summed over the simulated images, per layer and design, against the DaDianNao of the same grid.");
  html::BarChart speed{.title = "Per-layer speedup over DaDianNao",
                       .caption = "One bar per design; the line marks 1x.",
                       .x_label = "layer",
                       .y_label = "speedup",
                       .categories = layers,
                       .format = x,
                       .reference_lines = {{"DaDianNao", 1.0}}};
  html::BarChart ideal{.title = "Per-layer potential (ideal speedup)",
                       .caption =
                           "Speedup if only the value property each design exploits limited its work "
                           "(256 bit-products per MAC over the bit-products the property leaves).",
                       .x_label = "layer",
                       .y_label = "ideal speedup",
                       .categories = layers,
                       .format = x};
  html::BarChart util{.title = "Per-layer multiplier-lane utilisation",
                      .caption = "Lane cycles that carried a real activation-weight pair over all lane cycles.",
                      .x_label = "layer",
                      .y_label = "utilisation",
                      .categories = layers,
                      .format = html::NumberFormat::percent(0),
                      .y_max = 1.0};
  for (const std::string& name : names) {
    html::Series sp{name, {}, ""}, id{name, {}, ""}, ut{name, {}, ""};
    for (const auto& [index, by_design] : per_layer) {
      auto it = by_design.find(name);
      const LayerSum none;
      const LayerSum& s = it == by_design.end() ? none : it->second;
      sp.values.push_back(ratio(s.baseline, s.cycles));
      id.values.push_back(ratio(s.macs * 256.0, s.ideal_bit_products));
      ut.values.push_back(ratio(s.busy, s.total));
    }
    speed.series.push_back(sp);
    ideal.series.push_back(id);
    util.series.push_back(ut);
  }
  if (!layers.empty()) {
    detail.bar_chart(speed);
    detail.bar_chart(ideal);
    detail.bar_chart(util);
  } else {
    detail.note("no layers were simulated");
  }

  // ---- Events for the energy model ------------------------------------------------------------
  html::Section& events = report.section(
      "sim-events", "Simulation: event counts",
      "What an energy model multiplies by per-event energies: all layers, all images (docs/simulator.md defines "
      "each count).");
  const std::vector<std::pair<const char*, const char*>> fields = {{"bit_products", "bit products"},
                                                                   {"adder_tree_adds", "adder-tree adds"},
                                                                   {"shifter_ops", "shifter ops"},
                                                                   {"accumulator_updates", "accumulator updates"},
                                                                   {"act_buffer_read_bits", "act. buffer bits read"},
                                                                   {"wgt_buffer_read_bits", "wgt. buffer bits read"},
                                                                   {"offchip_act_bytes", "off-chip act. bytes"},
                                                                   {"offchip_wgt_bytes", "off-chip wgt. bytes"}};
  html::Table ev{.caption = "Event counts per design (all layers, all images)", .header = {"design"}};
  for (const auto& f : fields) ev.header.push_back(f.second);
  for (const json& d : r["designs"]) {
    std::vector<html::Cell> row = {d.at("name").get<std::string>()};
    for (const auto& f : fields) row.emplace_back(d.at("totals").at("all").value(f.first, uint64_t{0}));
    ev.rows.push_back(std::move(row));
  }
  events.table(ev);
}

}  // namespace eff::sim
