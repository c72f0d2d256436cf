// What `effectual gate` leaves behind (docs/gating.md): one JSON document for the runs of every base
// fraction (gate.json), per-layer and per-class CSV, a terminal summary, and the report section.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gating/gate_search.h"
#include "report/html/html_report.h"

namespace eff::gating {

struct GateSetup {
  std::string model;
  std::string search_source, report_source;
  int64_t search_images = 0, report_images = 0;
  uint64_t seed = 0;
};

nlohmann::json gate_results_json(const std::vector<GateResult>& runs, const GateSetup& setup);
// One row per (run, layer); one row per (run, class).
std::string gate_layers_csv(const std::vector<GateResult>& runs);
std::string gate_classes_csv(const std::vector<GateResult>& runs, const std::vector<std::string>& class_names);
std::string gate_summary_text(const std::vector<GateResult>& runs, const std::vector<std::string>& class_names);

// The report section of a gate.json document; DataError naming `source` for a malformed one.
void add_gate_section(const nlohmann::json& doc, const std::string& source, html::HtmlReport& report);

}  // namespace eff::gating
