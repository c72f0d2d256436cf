// effectual quantize: data-free post-training quantization with clipping and outlier channel
// splitting, written as standard ONNX QDQ (src/quant, docs/quantize.md); with --table, seed 003's
// accuracy table over bits x clipping x OCS.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "api/quantize.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace eff::cli {

namespace {

struct QuantizeFlags {
  Common common;
  api::QuantizeOptions a;
};

void run_quantize(const QuantizeFlags& f) {
  const api::Output out = api::quantize(f.common, f.a);
  if (f.common.json) return print_json(out.doc);
  fmt::print("{}", out.text);
}

}  // namespace

void register_quantize_command(CLI::App& app) {
  static QuantizeFlags f;
  auto* c = app.add_subcommand("quantize",
                               "data-free quantization (clipping, outlier channel splitting) written as ONNX QDQ, "
                               "or seed 003's accuracy table (docs/quantize.md)");
  add_model_flags(c, f.common, false);
  c->add_option("--bits", f.a.bits, "weight bits, 2-8 (default 8)");
  c->add_option("--act-bits", f.a.act_bits, "activation bits, 2-8 (default: weights only)");
  c->add_flag("--per-channel", f.a.per_channel, "one weight scale per output channel (default: per tensor)");
  c->add_flag("--asymmetric", f.a.asymmetric, "asymmetric grids with a zero point (default: symmetric)");
  c->add_option("--clip", f.a.clip, "clipping: none, mse, aciq or kl (default none)");
  c->add_option("--act-clip", f.a.act_clip, "clipping of activations (default: as --clip)");
  c->add_option("--ocs-ratio", f.a.ocs_ratio, "fraction of each layer's input channels to split (OCS), e.g. 0.02");
  c->add_option("--calib-data", f.a.calib_data, "data set whose first --calib-images items calibrate activations");
  c->add_option("--calib-input", f.a.calib_input, "calibration tensors NAME=FILE.npy (or FILE.npy)");
  c->add_option("--calib-images", f.a.calib_images, "calibration images (default 256)")->check(positive_count());
  c->add_option("--out", f.a.out, "the quantized model (.onnx), written atomically");
  c->add_flag("--table", f.a.table, "accuracy table: bits x clipping x OCS, weights and weights+activations");
  c->add_option("--data", f.a.data, "--table: labelled data set (calibration and report subsets, disjoint)");
  c->add_option("--report-images", f.a.report_images, "--table: images accuracy is measured on (default 1000)")
      ->check(positive_count());
  c->add_option("--seed", f.a.seed, "--table: seed of the subsets' shuffle (default 1)");
  c->add_option("--table-bits", f.a.bits_list, "--table: bit widths (default 4,5,6,8)");
  c->add_option("--csv", f.a.csv, "--table: also write the table as CSV");
  c->add_option("--html", f.a.html, "--table: also write the HTML report section");
  c->callback([] { run_quantize(f); });
}

}  // namespace eff::cli
