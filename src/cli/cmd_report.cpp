// effectual report: one HTML document from saved results, e.g. a value profile and a simulation
// of the same model side by side. JSON is the source of truth; this only renders it.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/fs.h"
#include "deft/deft_html.h"
#include "profile/profile_report.h"
#include "report/html/html_report.h"
#include "search/search_html.h"
#include "sim/sim_report.h"

namespace eff::cli {

namespace {

struct ReportFlags {
  std::vector<std::string> profiles;
  std::vector<std::string> simulations;
  std::string search, frontier;
  std::string deft;  // optimize.json
  std::string out;
  std::string title = "effectual report";
};

nlohmann::json read_json(const std::string& path) {
  const std::string text = read_file(path, size_t{1} << 30);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) fail<DataError>("{}: not valid JSON", path);
  return j;
}

void run_report(const ReportFlags& f) {
  if (f.profiles.empty() && f.simulations.empty() && f.search.empty() && f.frontier.empty() && f.deft.empty()) {
    fail<UsageError>(
        "give at least one --profile profile.json, --simulation results.json, --search search.json, --frontier "
        "frontier.json or --deft optimize.json");
  }
  if (f.profiles.size() > 1 || f.simulations.size() > 1) {
    fail<UsageError>("one --profile and one --simulation per report (section ids must stay unique)");
  }
  html::HtmlReport report(f.title);
  report.set_footer("effectual 0.1.0");
  for (const std::string& p : f.profiles) {
    const nlohmann::json j = read_json(p);
    if (j.value("format", "") != "effectual-profile") fail<DataError>("{}: not an effectual-profile document", p);
    profile::add_profile_sections(j, report);
  }
  for (const std::string& s : f.simulations) sim::add_simulation_sections(read_json(s), report, s);
  const nlohmann::json frontier = f.frontier.empty() ? nlohmann::json() : read_json(f.frontier);
  // A frontier.json of `effectual optimize` goes with the DeftNN sections.
  const bool deft_frontier = frontier.is_object() && frontier.value("format", "") == "effectual-deft-frontier";
  if (!f.search.empty() || (!f.frontier.empty() && !deft_frontier)) {
    const nlohmann::json search = f.search.empty() ? nlohmann::json() : read_json(f.search);
    search::add_search_sections(f.search.empty() ? nullptr : &search, f.search,
                                f.frontier.empty() ? nullptr : &frontier, f.frontier, report);
  }
  if (!f.deft.empty() || deft_frontier) {
    const nlohmann::json optimize = f.deft.empty() ? nlohmann::json() : read_json(f.deft);
    deft::add_deft_sections(f.deft.empty() ? nullptr : &optimize, f.deft, deft_frontier ? &frontier : nullptr,
                            f.frontier, report);
  }
  report.write(f.out);
  fmt::print("wrote {} ({} charts)\n", f.out, report.chart_count());
}

}  // namespace

void register_report_command(CLI::App& app) {
  static ReportFlags f;
  auto* c = app.add_subcommand(
      "report", "one HTML report from saved profile.json, simulation results.json, search.json, frontier.json");
  c->add_option("--profile", f.profiles, "profile.json written by `effectual profile --out`");
  c->add_option("--simulation", f.simulations, "results.json written by `effectual simulate --out`");
  c->add_option("--search", f.search, "search.json written by `effectual search precision|all --out`");
  c->add_option("--frontier", f.frontier,
                "frontier.json written by `effectual search precision|thresholds --sweep` or `effectual optimize`");
  c->add_option("--deft", f.deft, "optimize.json written by `effectual optimize`");
  c->add_option("--out", f.out, "the HTML file to write")->required();
  c->add_option("--title", f.title, "report title");
  c->callback([] { run_report(f); });
}

}  // namespace eff::cli
