// effectual optimize: per conv/FC layer a DeftNN format and synapse vector elimination alpha (or
// the engine's own kernel) under an accuracy target, timed in the engine; writes the optimized
// model (src/deft/optimize.h, docs/deft.md).
#include <fmt/format.h>

#include <iostream>

#include "api/optimize.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace eff::cli {

namespace {

struct OptimizeFlags {
  Common common;
  Inputs inputs;
  api::OptimizeOptions a;
};

void run_optimize(const OptimizeFlags& f) {
  f.a.check(f.common);
  Loaded l = load(f.common);
  const auto data = open_inputs(l.model, f.inputs);
  const api::Output out = api::optimize(l, f.common, {*data, inputs_source(f.inputs)}, f.a);
  if (f.common.json) return print_json(out.doc);
  fmt::print("{}", out.text);
}

}  // namespace

void register_optimize_command(CLI::App& app) {
  static OptimizeFlags f;
  auto* c = app.add_subcommand(
      "optimize", "per-layer DeftNN format and synapse vector elimination under an accuracy target (docs/deft.md)");
  add_model_flags(c, f.common, false);
  add_input_flags(c, f.inputs);
  c->add_option("--target-loss", f.a.target_loss, "top-1 at most this many points below fp32 (default 0.5)");
  c->add_option("--out", f.a.out, "directory for the optimized model, optimize.json, frontier.json/.csv")->required();
  add_subset_flags(c, f.a.search_images, f.a.report_images, f.a.seed);
  c->add_option("--formats", f.a.formats,
                "formats tried per layer (default deft16q,fp8,bf16dot,int8; int8 without elimination)");
  c->add_option("--alphas", f.a.alphas, "SVE correlation thresholds tried besides none (default 0.99,0.95,0.9,0.8)");
  c->add_option("--compensation", f.a.compensation, "for eliminated synapses: none, scale or fold (default)");
  c->add_option("--calibration-images", f.a.calibration_images, "search images SVE correlates on (default 256)")
      ->check(positive_count());
  c->add_option("--batch", f.a.batch, "images per evaluation run (default 100)");
  c->add_option("--speed-batch", f.a.speed_batch, "batch the layer times are measured at (default 1)");
  c->add_option("--rounds", f.a.rounds, "interleaved timing rounds (medians; default 5)");
  c->add_option("--runs", f.a.runs, "runs per timing round (default 10)");
  c->add_flag("--resume", f.a.resume, "replay the evaluations of an interrupted run from --out's checkpoint");
  c->add_option("--html", f.a.html, "also write the optimize and frontier sections to this HTML file");
  c->callback([] { run_optimize(f); });
}

}  // namespace eff::cli
