// effectual area: the area of every configured design by component and relative to the
// DaDianNao of the same grid and memories, from the design configuration and a technology table
// (docs/energy-area.md). No model needed.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "api/report.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace eff::cli {

namespace {

struct AreaFlags {
  std::string designs;
  std::string config;
  std::string technology;
  bool json = false;
};

void run_area(const AreaFlags& f) {
  const api::Output out = api::area({f.designs, f.config, f.technology});
  if (f.json) return print_json(out.doc);
  fmt::print("{}", out.text);
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
