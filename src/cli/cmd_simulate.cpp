// effectual simulate: value-based accelerator simulation (docs/simulator.md). Three value
// sources: a model run live on a data set (values captured layer by layer and simulated as they
// are produced), a trace directory, or synthetic values for a network description.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "api/simulate.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/fs.h"
#include "core/progress.h"
#include "engine/geometry.h"
#include "engine/quantized_layers.h"
#include "engine/transform_files.h"
#include "report/html/html_report.h"
#include "sim/gates_file.h"
#include "sim/live.h"
#include "sim/sim_report.h"
#include "sim/simulator.h"
#include "sim/sources.h"

namespace eff::cli {

namespace {

struct SimulateFlags {
  Common common;
  Inputs inputs;
  std::string designs = "all";
  std::string config;
  std::string technology;
  std::string dram;
  std::string traces;
  std::string network;
  std::string out;
  std::string html;
  std::string describe;
  std::string gates;
  bool list = false;
  bool synthetic = false;
  bool no_space_to_depth = false;
  bool check_values = false;
  bool images_given = false;
  int64_t images = 1;
  int64_t first = 0;
  sim::SyntheticSpec spec;
};

void list_designs(bool json) {
  nlohmann::json j = nlohmann::json::array();
  for (const sim::DesignEntry& e : sim::design_registry())
    j.push_back({{"name", e.id}, {"description", e.description}});
  if (json) return print_json(j);
  for (const sim::DesignEntry& e : sim::design_registry()) fmt::print("{:<12} {}\n", e.id, e.description);
}

void describe(const std::string& id, bool json) {
  const std::vector<sim::ParamDecl> params = sim::describe_design(id);
  if (json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& p : params) {
      j.push_back({{"key", p.key},
                   {"type", p.type},
                   {"default", p.default_value},
                   {"description", p.description},
                   {"source", p.source}});
    }
    return print_json({{"design", id}, {"parameters", j}});
  }
  fmt::print("{}: {}\n\n", id, sim::find_design(id)->description);
  for (const auto& p : params) {
    fmt::print("  {:<18} {:<14} default {:<6} {}\n  {:<18} {:<14} {:<14} source: {}\n", p.key, p.type, p.default_value,
               p.description, "", "", "", p.source);
  }
}

void run_simulate(SimulateFlags& f) {
  if (f.list) return list_designs(f.common.json);
  if (!f.describe.empty()) return describe(f.describe, f.common.json);
  if (!f.traces.empty() && f.synthetic) fail<UsageError>("--traces and --synthetic are alternatives");
  const bool live = f.traces.empty() && !f.synthetic;
  api::SimulateOptions so;
  so.designs = f.designs;
  so.config = f.config;
  so.technology = f.technology;
  so.gates = f.gates;
  so.dram = f.dram;
  so.precision_profile = f.common.precision_profile;
  so.thresholds = f.common.thresholds;
  so.threads = f.common.threads;
  so.images = f.images;
  so.images_given = f.images_given;
  so.first = f.first;
  so.space_to_depth = !f.no_space_to_depth;
  so.check_values = f.check_values;
  so.live = live;
  so.quiet = f.common.json;
  so.model = f.common.model;
  api::Simulation simulation(so);
  if (!f.traces.empty()) {
    simulation.traces(f.traces);
  } else if (f.synthetic) {
    simulation.synthetic(api::synthetic_network(f.network, f.common), f.spec);
  } else {
    if (f.common.model.empty()) fail<UsageError>("give MODEL with --data/--input, or --traces DIR, or --synthetic");
    Loaded l = load(f.common);
    auto data = open_inputs(l.model, f.inputs);
    simulation.live(l, {*data, inputs_source(f.inputs)});
  }
  const api::SimulationResult result = simulation.finish();
  const sim::SimResults& r = result.results;
  const std::map<std::string, std::string>& notes = r.notes;
  const std::string& no_profile = result.no_profile;
  const int checked = result.checked;
  const std::string& mismatch = result.mismatch;
  // The JSON document holds every record (images x layers x designs): built only when written.
  const bool want_json = !f.out.empty() || !f.html.empty() || f.common.json;
  const nlohmann::json j = want_json ? sim::to_json(r) : nlohmann::json();
  if (!f.out.empty()) {
    make_dirs(f.out);
    write_file_atomic((std::filesystem::path(f.out) / "results.json").string(), j.dump(2) + "\n");
    write_file_atomic((std::filesystem::path(f.out) / "layers.csv").string(), sim::layers_csv(r));
    write_file_atomic((std::filesystem::path(f.out) / "totals.csv").string(), sim::totals_csv(r));
  }
  auto write_html = [&](const std::string& path) {
    html::HtmlReport report("effectual simulate", notes.count("source") ? notes.at("source") : "");
    report.set_footer("effectual 0.1.0");
    sim::add_simulation_sections(j, report);
    report.write(path);
  };
  if (!f.out.empty()) write_html((std::filesystem::path(f.out) / "report.html").string());
  if (!f.html.empty()) write_html(f.html);
  if (f.common.json) {
    print_json(j);
  } else {
    fmt::print("{} image(s), {} layer record(s); speedups over DaDianNao of the same grid\n\n{}", r.images,
               r.records.size(), sim::format_table(r));
    if (f.common.precision_profile.empty()) fmt::print("\nprecision: {}\n", no_profile);
    if (!f.out.empty()) fmt::print("\nwrote {}/results.json, layers.csv, totals.csv, report.html\n", f.out);
    if (!f.html.empty()) fmt::print("wrote {}\n", f.html);
    if (f.check_values) {
      fmt::print("\ncheck-values: {} (layer, design) pair(s) recomputed from the scheduled values{}\n", checked,
                 mismatch.empty() ? ", all match the engine" : "");
    }
  }
  if (!mismatch.empty()) fail("--check-values: {}", mismatch);
}

}  // namespace

void register_simulate_command(CLI::App& app) {
  static SimulateFlags f;
  auto* c = app.add_subcommand("simulate", "cycle-level simulation of value-based accelerators (docs/simulator.md)");
  c->add_option("MODEL", f.common.model, "ONNX model (live capture, or its geometry with --synthetic)");
  c->add_option("--meta", f.common.meta, "model sidecar JSON");
  c->add_option("--threads", f.common.threads, "worker threads (default: all cores)")->check(non_negative_count());
  c->add_flag("--json", f.common.json, "print one JSON document on stdout");
  c->add_option("--preprocess", f.common.preprocess, "JSON file with a \"preprocessing\" object");
  c->add_option("--input-shape", f.common.input_shapes,
                "shape of a graph input where no data says it: NAME:1,3,224,224 or 1,3,224,224");
  c->add_option("--precision-profile", f.common.precision_profile, "per-layer precisions (docs/value-hooks.md)");
  c->add_option("--thresholds", f.common.thresholds, "per-layer near-zero thresholds (docs/value-hooks.md)");
  c->add_option("--gates", f.gates,
                "per-layer dynamic gates (`effectual gate --out`): channel gates for cgnet, precision gates for "
                "stripes and loom (docs/simulator-designs.md)");
  add_input_flags(c, f.inputs);
  static CLI::Option* images_opt =
      c->add_option("--images", f.images, "images to simulate (traces: all by default)")->check(positive_count());
  c->add_option("--first", f.first, "index of the first image")->check(non_negative_count());
  static CLI::Option* designs_opt =
      c->add_option("--designs", f.designs, "all, or a comma-separated list (--list-designs)");
  c->add_option("--config", f.config, "YAML design configuration (configs/designs.yaml)");
  c->add_option("--technology", f.technology,
                "technology table pricing energy and area (default: built-in configs/technology/65nm.yaml)");
  c->add_option("--dram", f.dram,
                "DDR4 timing table for the memory timeline (configs/memory/ddr4-3200.yaml; default: bandwidth only)");
  c->add_option("--traces", f.traces, "simulate a trace directory written by `effectual trace`");
  c->add_flag("--synthetic", f.synthetic, "draw values instead of running the model (shape-only mode)");
  c->add_option("--network", f.network, "with --synthetic: a network YAML or a preset (vgg16, vgg16-conv)");
  c->add_option("--zero-fraction", f.spec.zero_fraction, "synthetic: fraction of zero activations");
  c->add_option("--magnitude", f.spec.magnitude, "synthetic: uniform, log-uniform or half-normal");
  c->add_option("--act-bits", f.spec.act_bits,
                "synthetic: activation precision (magnitude bits; activations are unsigned)");
  c->add_option("--wgt-bits", f.spec.wgt_bits, "synthetic: weight precision (bits incl. sign)");
  c->add_option("--seed", f.spec.seed, "synthetic: random seed");
  c->add_flag("--no-space-to-depth", f.no_space_to_depth, "do not re-lay the first layer out (spec §2.0 item 2)");
  c->add_flag("--check-values", f.check_values,
              "live form: recompute each layer's outputs from the values as scheduled and compare with the engine");
  c->add_option("--out", f.out, "write results.json, layers.csv, totals.csv and report.html to DIR");
  c->add_option("--html", f.html, "write the HTML report (simulation sections) to this file");
  c->add_flag("--list-designs", f.list, "list the designs and exit");
  c->add_option("--describe", f.describe, "print a design's parameters and exit");
  c->callback([] {
    // With a config and no --designs, the config's entries are the selection.
    if (!f.config.empty() && designs_opt->count() == 0) f.designs.clear();
    f.images_given = images_opt->count() > 0;
    run_simulate(f);
  });
}

}  // namespace eff::cli
