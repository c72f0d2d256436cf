// Area of every configured design and of the DaDianNao it is compared with (the same tiles, rows,
// lanes and on-chip capacities), by component: `effectual area` and the area column of
// `effectual simulate`. Seed 001 Table 1's relative areas are kept beside ours for comparison.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sim/cost/inventory.h"
#include "sim/cost/technology.h"
#include "sim/simulator.h"

namespace eff::sim::cost {

struct DesignArea {
  std::string label, id;
  Grid grid;
  AreaBreakdown area;
  AreaBreakdown baseline;  // DaDianNao of the same grid and memories
  double relative() const { return baseline.total_mm2 > 0 ? area.total_mm2 / baseline.total_mm2 : 0.0; }
};

std::vector<DesignArea> design_areas(const DesignSet& set, const Technology& t);

// Seed 001 Table 1's relative area for a registry id (its default configuration), if it has one.
std::optional<double> seed_relative_area(const std::string& id);

nlohmann::json area_json(const AreaBreakdown& a);
nlohmann::json areas_json(const std::vector<DesignArea>& areas, const Technology& t);
// One row per design (area, its DaDianNao, relative, seed 001), then each design's components.
std::string format_areas(const std::vector<DesignArea>& areas, const Technology& t);

}  // namespace eff::sim::cost
