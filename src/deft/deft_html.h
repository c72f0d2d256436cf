// The HTML report's DeftNN sections (docs/report.md, docs/deft.md): what `effectual optimize`
// chose per layer, and its accuracy / speed frontier (seed 004 Figures 14 and 15), from
// optimize.json and frontier.json, for `optimize --html` and `report --deft/--frontier`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "report/html/html_report.h"

namespace eff::deft {

// Either may be null. DataError naming the document for a wrong or malformed one.
void add_deft_sections(const nlohmann::json* optimize, const std::string& optimize_source,
                       const nlohmann::json* frontier, const std::string& frontier_source, html::HtmlReport& report);

}  // namespace eff::deft
