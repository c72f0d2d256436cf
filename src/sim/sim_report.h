// The "Simulation" sections of the HTML report, built from the simulation JSON (to_json in
// simulator.h, the source of truth), so a saved results.json can be rendered later, alone or in
// the same report as a value profile (`effectual report`).
#pragma once

#include <nlohmann/json.hpp>

#include "report/html/html_report.h"

namespace eff::sim {

// Adds sections with ids starting "sim-": the seed's Table 1 shape (speedup over the DaDianNao of
// the same grid for conv, FC and all layers, next to the ideal speedup), per-layer speedup and
// potential charts per design, utilisation, and the energy-model event counts. A document that is
// not an effectual-simulation JSON is a DataError naming `source`.
void add_simulation_sections(const nlohmann::json& results, html::HtmlReport& report, const std::string& source = "");

}  // namespace eff::sim
