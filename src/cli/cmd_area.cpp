// effectual area: the area of every configured design by component and relative to the
// DaDianNao of the same grid and memories, from the design configuration and a technology table
// (docs/energy-area.md). No model needed.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "sim/cost/area_report.h"

namespace eff::cli {

namespace {

struct AreaFlags {
  std::string designs;
  std::string config;
  std::string technology;
  bool json = false;
};

void run_area(const AreaFlags& f) {
  const sim::cost::Technology tech = sim::cost::load_technology(f.technology);
  const sim::DesignSet set = sim::build_designs_from_file(f.designs, f.config);
  const auto areas = sim::cost::design_areas(set, tech);
  if (f.json) return print_json(sim::cost::areas_json(areas, tech));
  fmt::print("{}", sim::cost::format_areas(areas, tech));
}

}  // namespace

void register_area_command(CLI::App& app) {
  static AreaFlags f;
  auto* c = app.add_subcommand("area",
                               "area of every configured design by component, relative to DaDianNao "
                               "(docs/energy-area.md)");
  c->add_option("--designs", f.designs, "all, or a comma-separated list (default: the config's entries, or all)");
  c->add_option("--config", f.config, "YAML design configuration (configs/designs.yaml)");
  c->add_option("--technology", f.technology, "technology table (default: built-in configs/technology/65nm.yaml)");
  c->add_flag("--json", f.json, "print one JSON document on stdout");
  c->callback([] { run_area(f); });
}

}  // namespace eff::cli
