#include "sim/cost/area_report.h"

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>

namespace eff::sim::cost {

std::vector<DesignArea> design_areas(const DesignSet& set, const Technology& t) {
  std::vector<DesignArea> out;
  for (const DesignInstance& d : set.designs) {
    DesignArea a;
    a.label = d.label;
    a.id = d.id;
    a.grid = d.design->grid();
    a.area = area(d.design->inventory(), t);
    a.baseline = area(set.baselines[d.baseline]->inventory(), t);
    out.push_back(std::move(a));
  }
  return out;
}

std::optional<double> seed_relative_area(const std::string& id) {
  static const std::map<std::string, double> table1 = {{"dadiannao", 1.0}, {"cnvlutin", 1.05}, {"stripes", 1.32},
                                                       {"tartan", 1.49},   {"dstripes", 1.35}, {"loom", 1.14},
                                                       {"pragmatic", 1.68}};
  auto it = table1.find(id);
  if (it == table1.end()) return std::nullopt;
  return it->second;
}

nlohmann::json area_json(const AreaBreakdown& a) {
  nlohmann::json lines = nlohmann::json::array();
  for (const AreaLine& l : a.lines) {
    lines.push_back({{"component", l.name}, {"kind", l.kind}, {"mm2", l.mm2}, {"detail", l.detail}});
  }
  return {{"total_mm2", a.total_mm2}, {"logic_mm2", a.logic_mm2},     {"edram_mm2", a.edram_mm2},
          {"sram_mm2", a.sram_mm2},   {"offchip_mm2", a.offchip_mm2}, {"components", lines}};
}

nlohmann::json areas_json(const std::vector<DesignArea>& areas, const Technology& t) {
  nlohmann::json designs = nlohmann::json::array();
  for (const DesignArea& a : areas) {
    nlohmann::json j = {
        {"name", a.label},
        {"design", a.id},
        {"grid",
         {{"tiles", a.grid.tiles}, {"rows", a.grid.rows}, {"lanes", a.grid.lanes}, {"columns", a.grid.columns}}},
        {"area", area_json(a.area)},
        {"baseline", area_json(a.baseline)},
        {"relative_area", a.relative()}};
    if (auto s = seed_relative_area(a.id)) j["seed_001_relative_area"] = *s;
    designs.push_back(std::move(j));
  }
  return {{"format", "effectual-area"},
          {"version", 1},
          {"technology", {{"node", t.node}, {"file", t.file}}},
          {"designs", designs}};
}

std::string format_areas(const std::vector<DesignArea>& areas, const Technology& t) {
  std::string out = fmt::format("technology: {} ({})\n\n", t.node, t.file);
  out += fmt::format("{:<18} {:<10} {:>10} {:>10} {:>9} {:>9}\n", "design", "vs DaDN", "area mm2", "DaDN mm2",
                     "relative", "seed 001");
  for (const DesignArea& a : areas) {
    const auto s = seed_relative_area(a.id);
    out += fmt::format("{:<18} {:<10} {:>10.2f} {:>10.2f} {:>8.2f}x {:>9}\n", a.label,
                       fmt::format("{}-{}-{}", a.grid.tiles, a.grid.rows, a.grid.lanes), a.area.total_mm2,
                       a.baseline.total_mm2, a.relative(), s ? fmt::format("{:.2f}x", *s) : std::string("-"));
  }
  for (const DesignArea& a : areas) {
    out += fmt::format("\n{}: {:.2f} mm2 (logic {:.2f}, eDRAM {:.2f}, SRAM {:.2f}, off-chip {:.2f})\n", a.label,
                       a.area.total_mm2, a.area.logic_mm2, a.area.edram_mm2, a.area.sram_mm2, a.area.offchip_mm2);
    for (const AreaLine& l : a.area.lines) {
      out += fmt::format("  {:<40} {:>9.3f} mm2  {}\n", l.name, l.mm2, l.detail);
    }
  }
  return out;
}

}  // namespace eff::sim::cost
