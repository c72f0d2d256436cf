// The "Value profile" sections of the HTML report, built from the profile JSON (profile_json.h).
// Other tools (the simulator) add their own sections to the same HtmlReport object.
#pragma once

#include <nlohmann/json.hpp>

#include "report/html/html_report.h"

namespace eff::profile {

// Adds sections with ids starting "profile-": overview, zeros (Figure 4 style), precision,
// effectual bits, compute and roofline, correlations, and a per-layer table.
void add_profile_sections(const nlohmann::json& profile, html::HtmlReport& report);

}  // namespace eff::profile
