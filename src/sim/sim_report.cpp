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

// Energy, area and memory (docs/energy-area.md): present in documents written since the cost
// model; older results.json files simply lack these sections.
void add_cost_sections(const json& r, const std::vector<std::string>& names, html::HtmlReport& report) {
  const json& designs = r["designs"];
  if (designs.empty() || !designs[0].contains("area") || !designs[0].at("totals").at("all").contains("energy_pj")) {
    return;
  }
  const int images = std::max(1, r.value("images", 1));
  const auto x = html::NumberFormat::plain(2, "x");

  html::Section& energy = report.section(
      "sim-energy", "Simulation: energy, area and power (seed 001 Table 1)",
      "Performance, energy efficiency (DaDianNao's on-chip energy over the design's) and area, each relative to the "
      "DaDianNao of the same grid and memories; average chip power; energy per inference including off-chip "
      "transfers. Technology: " +
          r.value("technology", std::string("?")) + ".");
  html::Table t1{.caption = "Seed 001 Table 1, three columns (all layers, all images)",
                 .header = {"design", "performance", "energy efficiency", "area", "area mm2", "power W",
                            "energy / inference", "system energy efficiency"}};
  for (const json& d : designs) {
    const json& a = d.at("totals").at("all");
    t1.rows.push_back({d.at("name").get<std::string>(), html::Cell(a.value("speedup", 0.0), x),
                       html::Cell(a.value("energy_efficiency", 0.0), x), html::Cell(d.value("relative_area", 0.0), x),
                       html::Cell(d.at("area").value("total_mm2", 0.0), html::NumberFormat::plain(1)),
                       html::Cell(a.value("power_w", 0.0), html::NumberFormat::plain(1)),
                       html::Cell(a.value("energy_per_inference_j", 0.0), html::NumberFormat::si(2, "J")),
                       html::Cell(a.value("system_energy_efficiency", 0.0), x)});
  }
  energy.table(t1);
  html::BarChart bars{.title = "Energy per inference by component",
                      .caption = "Stacked: each design's energy per image, on-chip components and off-chip transfers.",
                      .x_label = "design",
                      .y_label = "energy per inference",
                      .categories = names,
                      .layout = html::BarChart::Layout::stacked,
                      .format = html::NumberFormat::si(2, "J")};
  for (const auto& [key, label] : std::vector<std::pair<const char*, const char*>>{{"datapath", "datapath"},
                                                                                   {"adder_trees", "adder trees"},
                                                                                   {"shifters", "shifters"},
                                                                                   {"accumulators", "accumulators"},
                                                                                   {"detectors", "detectors"},
                                                                                   {"clock", "clock"},
                                                                                   {"act_memory", "activation memory"},
                                                                                   {"wgt_memory", "weight memory"},
                                                                                   {"offchip", "off-chip"},
                                                                                   {"leakage", "leakage"}}) {
    html::Series s{label, {}, ""};
    for (const json& d : designs) {
      s.values.push_back(d.at("totals").at("all").at("energy_pj").value(key, 0.0) * 1e-12 / images);
    }
    bars.series.push_back(s);
  }
  energy.bar_chart(bars);

  html::Section& area = report.section("sim-area", "Simulation: area breakdown",
                                       "Each design's inventory priced by the technology table (effectual area "
                                       "prints every component).");
  html::BarChart ab{.title = "Area by kind of silicon",
                    .caption = "Stacked: datapath and control logic, eDRAM, SRAM buffers, off-chip interface.",
                    .x_label = "design",
                    .y_label = "area",
                    .categories = names,
                    .layout = html::BarChart::Layout::stacked,
                    .format = html::NumberFormat::plain(1, " mm2")};
  for (const auto& [key, label] :
       std::vector<std::pair<const char*, const char*>>{{"logic_mm2", "logic"},
                                                        {"edram_mm2", "eDRAM"},
                                                        {"sram_mm2", "SRAM"},
                                                        {"offchip_mm2", "off-chip interface"}}) {
    html::Series s{label, {}, ""};
    for (const json& d : designs) s.values.push_back(d.at("area").value(key, 0.0));
    ab.series.push_back(s);
  }
  area.bar_chart(ab);
  html::Table parts{.caption = "Components (mm2)", .header = {"design", "component", "mm2", "detail"}};
  for (const json& d : designs) {
    for (const json& c : d.at("area").at("components")) {
      parts.rows.push_back({d.at("name").get<std::string>(), c.value("component", ""),
                            html::Cell(c.value("mm2", 0.0), html::NumberFormat::plain(3)), c.value("detail", "")});
    }
  }
  area.table(parts);

  html::Section& memory = report.section(
      "sim-memory", "Simulation: compute vs memory cycles",
      "Compute cycles (what the designs report, as in seed 001 Table 1) and cycles with the memory model's stalls "
      "(on-chip capacities, off-chip bandwidth), and the Proteus-style packing of off-chip data at the layers' "
      "precisions.");
  html::BarChart mc{.title = "Cycles: compute only vs with memory",
                    .caption = "All layers, all images; the gap is time spent waiting for off-chip data.",
                    .x_label = "design",
                    .y_label = "cycles",
                    .categories = names,
                    .format = html::NumberFormat::si(2)};
  html::Series compute{"compute", {}, ""}, with_memory{"with memory", {}, ""};
  html::Table pk{.caption = "Off-chip footprint of inputs and weights (all layers, all images)",
                 .header = {"design", "speedup (compute)", "speedup (with memory)", "stall cycles", "16-bit bytes",
                            "packed bytes", "saving", "energy saved"}};
  for (const json& d : designs) {
    const json& a = d.at("totals").at("all");
    compute.values.push_back(a.value("cycles", 0.0));
    with_memory.values.push_back(a.value("cycles_with_memory", 0.0));
    const json pack = a.value("packing", json::object());
    const double b16 = pack.value("footprint_16bit_bytes", 0.0), packed = pack.value("footprint_packed_bytes", 0.0);
    pk.rows.push_back(
        {d.at("name").get<std::string>(), html::Cell(a.value("speedup", 0.0), x),
         html::Cell(a.value("speedup_with_memory", 0.0), x), html::Cell(a.value("memory_stall_cycles", uint64_t{0})),
         html::Cell(b16, html::NumberFormat::si(2, "B")), html::Cell(packed, html::NumberFormat::si(2, "B")),
         html::Cell(b16 > 0 ? 1.0 - packed / b16 : 0.0, html::NumberFormat::percent(0)),
         html::Cell(pack.value("saving_pj", 0.0) * 1e-12, html::NumberFormat::si(2, "J"))});
  }
  mc.series = {compute, with_memory};
  memory.bar_chart(mc);
  memory.table(pk);
}

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
  add_cost_sections(r, names, report);
}

}  // namespace eff::sim
