// effectual report: one HTML document from saved results, e.g. a value profile and a simulation
// of the same model side by side. JSON is the source of truth; this only renders it.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "api/report.h"
#include "cli/commands.h"
#include "cli/common.h"

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

void run_report(const ReportFlags& f) {
  api::ReportOptions r;
  for (const std::string& p : f.profiles) r.profiles.emplace_back(p, api::read_json_file(p));
  for (const std::string& p : f.simulations) r.simulations.emplace_back(p, api::read_json_file(p));
  if (!f.search.empty()) r.search = api::NamedDoc{f.search, api::read_json_file(f.search)};
  if (!f.frontier.empty()) r.frontier = api::NamedDoc{f.frontier, api::read_json_file(f.frontier)};
  if (!f.deft.empty()) r.deft = api::NamedDoc{f.deft, api::read_json_file(f.deft)};
  r.out = f.out;
  r.title = f.title;
  const int charts = api::report(r);
  fmt::print("wrote {} ({} charts)\n", f.out, charts);
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
