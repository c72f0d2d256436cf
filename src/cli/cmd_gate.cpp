// effectual gate: channel gating and precision gating (seed 003) with per-layer thresholds found
// with accuracy in the loop (src/gating, docs/gating.md).
#include <fmt/format.h>

#include <iostream>

#include "api/gate.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace eff::cli {

namespace {

constexpr double kNoMaxLoss = -1e300;

struct GateFlags {
  Common common;
  Inputs inputs;
  api::GateOptions a;
  double max_loss = kNoMaxLoss;
};

void run_gate(GateFlags& f) {
  if (f.max_loss != kNoMaxLoss) f.a.max_loss = f.max_loss;
  f.a.check(f.common);
  Loaded l = load(f.common);
  const auto data = open_inputs(l.model, f.inputs);
  const api::Output out = api::gate(l, f.common, {*data, inputs_source(f.inputs)}, f.a);
  if (f.common.json) return print_json(out.doc);
  fmt::print("{}", out.text);
}

}  // namespace

void register_gate_command(CLI::App& app) {
  static GateFlags f;
  auto* c = app.add_subcommand(
      "gate", "channel or precision gating with per-layer thresholds found with accuracy in the loop (docs/gating.md)");
  add_model_flags(c, f.common, false);
  add_input_flags(c, f.inputs);
  add_subset_flags(c, f.a.search_images, f.a.report_images, f.a.seed);
  c->add_option("--keep", f.a.keep, "top-1 (or agreement) kept relative to fp32 (default 99%)");
  c->add_option("--max-loss", f.max_loss, "top-1 at most this many points below fp32");
  c->add_option("--metric", f.a.metric, "top1 (labels) or top1-agreement");
  c->add_option("--batch", f.a.batch, "images per inference batch");
  c->add_option("--base", f.a.base, "base-path fractions of the input channels, e.g. 1/4 or 1/2,1/4,1/8,1/16");
  c->add_option("--grouping", f.a.grouping,
                "channel gating's base channels: first (of each group, every output; default), or G = 1/base groups: "
                "contiguous or shuffle (input set c mod G = k) feeding output block k");
  c->add_option("--precision", f.a.precision, "precision gating instead: B/Bhb bits, e.g. 8/4");
  c->add_option("--levels", f.a.levels, "threshold candidates per layer: gated-off fractions k/levels");
  c->add_flag("--per-channel", f.a.per_channel,
              "a threshold per output channel (the layer's level on values normalised per channel)");
  c->add_option("--evaluate", f.a.evaluate,
                "measure this gates file (e.g. a trained model's) on both subsets instead of searching");
  c->add_option("--out", f.a.out, "write the gates file (several runs: FILE.<run>.json each)");
  c->add_option("--save", f.a.save, "write gate.json, gate_layers.csv, gate_classes.csv and checkpoints to DIR");
  c->add_flag("--resume", f.a.resume, "continue interrupted searches from --save's checkpoints");
  c->add_option("--html", f.a.html, "write the gating report section to this HTML file");
  c->callback([] { run_gate(f); });
}

}  // namespace eff::cli
