#include "api/report.h"

#include "core/fs.h"
#include "deft/deft_html.h"
#include "profile/profile_report.h"
#include "report/html/html_report.h"
#include "search/search_html.h"
#include "sim/cost/area_report.h"
#include "sim/sim_report.h"

namespace eff::api {

using nlohmann::json;

json read_json_file(const std::string& path) {
  const std::string text = read_file(path, size_t{1} << 30);
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) fail<DataError>("{}: not valid JSON", path);
  return j;
}

int report(const ReportOptions& f) {
  if (f.profiles.empty() && f.simulations.empty() && !f.search && !f.frontier && !f.deft) {
    fail<UsageError>(
        "give at least one --profile profile.json, --simulation results.json, --search search.json, --frontier "
        "frontier.json or --deft optimize.json");
  }
  if (f.profiles.size() > 1 || f.simulations.size() > 1) {
    fail<UsageError>("one --profile and one --simulation per report (section ids must stay unique)");
  }
  if (f.out.empty()) fail<UsageError>("report needs --out (the HTML file to write)");
  html::HtmlReport report(f.title);
  report.set_footer("effectual 0.1.0");
  for (const auto& [name, j] : f.profiles) {
    if (!j.is_object() || j.value("format", "") != "effectual-profile") {
      fail<DataError>("{}: not an effectual-profile document", name);
    }
    profile::add_profile_sections(j, report);
  }
  for (const auto& [name, j] : f.simulations) sim::add_simulation_sections(j, report, name);
  const std::string frontier_name = f.frontier ? f.frontier->first : "";
  const json frontier = f.frontier ? f.frontier->second : json();
  // A frontier.json of `effectual optimize` goes with the DeftNN sections.
  const bool deft_frontier = frontier.is_object() && frontier.value("format", "") == "effectual-deft-frontier";
  if (f.search || (f.frontier && !deft_frontier)) {
    search::add_search_sections(f.search ? &f.search->second : nullptr, f.search ? f.search->first : "",
                                f.frontier ? &frontier : nullptr, frontier_name, report);
  }
  if (f.deft || deft_frontier) {
    deft::add_deft_sections(f.deft ? &f.deft->second : nullptr, f.deft ? f.deft->first : "",
                            deft_frontier ? &frontier : nullptr, frontier_name, report);
  }
  report.write(f.out);
  return report.chart_count();
}

Output area(const AreaOptions& a) {
  const sim::cost::Technology tech = sim::cost::load_technology(a.technology);
  const sim::DesignSet set = sim::build_designs_from_file(a.designs, a.config);
  const auto areas = sim::cost::design_areas(set, tech);
  return {sim::cost::areas_json(areas, tech), sim::cost::format_areas(areas, tech)};
}

}  // namespace eff::api
