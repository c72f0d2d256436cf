// effectual simulate: value-based accelerator simulation (docs/simulator.md). Three value
// sources: a model run live on a data set (values captured layer by layer and simulated as they
// are produced), a trace directory, or synthetic values for a network description.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

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

std::vector<LayerGeometry> synthetic_network(const SimulateFlags& f) {
  if (!f.network.empty()) {
    std::vector<LayerGeometry> net = sim::network_preset(f.network);
    if (!net.empty()) return net;
    if (has_ext(f.network, {".onnx"})) {  // a model's geometry, its weights ignored
      Common c = f.common;
      c.model = f.network;
      Loaded l = load(c);
      return model_geometry(*l.exec, l.model.input_shapes());
    }
    std::string text;
    try {
      text = read_file(f.network, 1 << 20);
    } catch (const DataError& e) {
      fail<UsageError>("--network: '{}' is neither a preset (vgg16, vgg16-conv) nor a readable file", f.network);
    }
    return sim::network_from_yaml(text, f.network);
  }
  if (f.common.model.empty()) fail<UsageError>("--synthetic needs MODEL (its geometry) or --network FILE|vgg16");
  Loaded l = load(f.common);
  return model_geometry(*l.exec, l.model.input_shapes());
}

void run_simulate(SimulateFlags& f) {
  if (f.list) return list_designs(f.common.json);
  if (!f.describe.empty()) return describe(f.describe, f.common.json);
  if (f.check_values && (!f.traces.empty() || f.synthetic)) {
    fail<UsageError>(
        "--check-values needs the live form (MODEL with --data or --input): it compares with the "
        "engine's outputs");
  }
  const int threads = resolve_threads(usable_threads(f.common.threads));
  sim::DesignSet set = sim::build_designs_from_file(f.designs, f.config);
  const sim::cost::Technology technology = sim::cost::load_technology(f.technology);
  sim::GatesFile gates;
  if (!f.gates.empty()) gates = sim::read_gates_file(f.gates);
  sim::SimRun run(set, sim::SimContext{threads, f.check_values, f.gates.empty() ? nullptr : &gates}, &technology);
  if (!f.dram.empty()) run.set_dram(sim::cost::load_dram(f.dram));
  const bool s2d = !f.no_space_to_depth;
  std::map<std::string, std::string> notes;
  int quantized = 0;  // layers of an 8-bit model simulated on their integer codes
  if (!f.traces.empty()) {
    if (f.synthetic) fail<UsageError>("--traces and --synthetic are alternatives");
    const auto layers = sim::read_trace_manifest(f.traces);
    sim::TraceOptions o;
    o.first = f.first;
    o.images = f.images_given ? f.images : 0;  // a trace: all its images unless told
    o.threads = threads;
    o.space_to_depth = s2d;
    if (!f.common.precision_profile.empty() || !f.common.thresholds.empty()) {
      std::vector<LayerInfo> infos;
      for (const auto& g : layers) {
        LayerInfo li;
        li.index = g.index;
        li.name = g.name;
        li.op = g.op;
        infos.push_back(li);
      }
      o.transforms = load_layer_transforms(f.common.precision_profile, f.common.thresholds, infos);
    }
    Progress bar("simulate", static_cast<int64_t>(layers.size()));
    o.on_layer_done = [&] { bar.advance(); };
    sim::simulate_trace_dir(f.traces, run, o);
    bar.finish();
    notes["source"] = "traces: " + f.traces;
  } else if (f.synthetic) {
    constexpr int64_t kMaxSyntheticImages = 100000;
    if (f.images > kMaxSyntheticImages) {
      fail<UsageError>("--images {}: synthetic runs take at most {} images", f.images, kMaxSyntheticImages);
    }
    const std::vector<LayerGeometry> net = synthetic_network(f);
    Progress bar("simulate", static_cast<int64_t>(net.size()) * f.images);
    sim::simulate_synthetic(net, f.spec, static_cast<int>(f.images), run, threads, s2d, [&] { bar.advance(); });
    bar.finish();
    notes["source"] =
        fmt::format("synthetic: zero_fraction {}, magnitude {}, act_bits {}, wgt_bits {}, seed {}",
                    f.spec.zero_fraction, f.spec.magnitude, f.spec.act_bits, f.spec.wgt_bits, f.spec.seed);
  } else {
    if (f.common.model.empty()) fail<UsageError>("give MODEL with --data/--input, or --traces DIR, or --synthetic");
    Loaded l = load(f.common);
    auto data = open_inputs(l.model, f.inputs);
    if (f.first < 0 || f.first >= data->size()) {
      fail<UsageError>("--first {} is outside the data set ({} items)", f.first, data->size());
    }
    const int64_t end = f.first + items_to_use(*data, f.first, f.images, "--images", f.common.json || !f.images_given);
    Progress bar("simulate", end - f.first);
    sim::LiveOptions lo;
    lo.first = f.first;
    lo.end = end;
    lo.space_to_depth = s2d;
    lo.check_values = f.check_values;
    lo.on_image = [&] { bar.advance(); };
    NonFinite non_finite;
    lo.input_non_finite = &non_finite;
    sim::simulate_live(*l.exec, *data, run, l.transforms, lo);
    if (non_finite.any()) {
      // Said, not hidden: the quantizer maps NaN to code 0 and saturates Inf (docs/simulator.md).
      notes["non_finite_inputs"] = to_string(non_finite) + " (codes: NaN 0, Inf saturated)";
      if (!f.common.json)
        fmt::print(stderr, "warning: the inputs hold {}; the designs see NaN as 0 and Inf saturated\n",
                   to_string(non_finite));
    }
    for (const LayerInfo& li : l.exec->layers()) quantized += layer_quantization(l.exec->graph(), li).present ? 1 : 0;
    bar.finish();
    notes["source"] =
        fmt::format("live: {} on {} images [{}, {})", f.common.model, inputs_source(f.inputs), f.first, end);
  }
  // Without a profile every format fills the 16-bit word, so the bit-serial designs cannot show
  // what reduced precision buys: say so where the numbers are read.
  constexpr const char* kNoProfile =
      "derived from each tensor's range (docs/simulator.md): every layer fills 16 bits, so Stripes, Dynamic "
      "Stripes, Tartan and Loom gain little; per-layer precisions that keep accuracy come from `effectual search "
      "precision MODEL` (--precision-profile)";
  const std::string no_profile =
      quantized == 0 ? kNoProfile
                     : fmt::format(
                           "{} quantized layer(s) of the model: their integer codes (code - zero point) at the "
                           "width the 8-bit codes and zero points need (docs/quantization.md); other layers: {}",
                           quantized, kNoProfile);
  notes["precision"] = f.common.precision_profile.empty() ? no_profile : "profile: " + f.common.precision_profile;
  if (!f.common.thresholds.empty()) notes["thresholds"] = f.common.thresholds;
  if (!f.config.empty()) notes["config"] = f.config;
  if (!f.gates.empty()) notes["gates"] = f.gates;
  sim::SimResults r = run.results();
  r.notes = notes;
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
    html::HtmlReport report("effectual simulate", notes.count("source") ? notes["source"] : "");
    report.set_footer("effectual 0.1.0");
    sim::add_simulation_sections(j, report);
    report.write(path);
  };
  if (!f.out.empty()) write_html((std::filesystem::path(f.out) / "report.html").string());
  if (!f.html.empty()) write_html(f.html);
  int checked = 0;
  std::string mismatch;
  for (const sim::LayerRecord& rec : r.records) {
    if (rec.check < 0) continue;
    ++checked;
    if (rec.check == 1 && mismatch.empty()) {
      mismatch = fmt::format("image {} layer '{}' design {}: relative error {:.3g}", rec.image, rec.name,
                             r.designs[rec.design], rec.check_error);
    }
  }
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
