// effectual search precision|thresholds: per-layer fixed-point formats and near-zero thresholds
// found with accuracy in the loop (src/search, docs/search.md).
#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "api/search.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "report/html/html_report.h"
#include "search/search_html.h"

namespace eff::cli {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr double kNoMaxLoss = -1e300;  // --max-loss not given

struct SearchFlags {
  Common common;
  Inputs inputs;
  api::SearchOptions a;
  double max_loss = kNoMaxLoss, min_snr_db = 30;
  bool min_snr_given = false;
  std::string html;  // the report sections of docs/search.md as one HTML file
};

// The library's options from the parsed flags.
api::SearchOptions options_of(const SearchFlags& f) {
  api::SearchOptions a = f.a;
  if (f.max_loss != kNoMaxLoss) a.max_loss = f.max_loss;
  if (f.min_snr_given) a.min_snr_db = f.min_snr_db;
  a.html = !f.html.empty();
  return a;
}

api::SearchData search_data(const SearchFlags& f, const Loaded& l) {
  return {[&f, &l] { return open_inputs(l.model, f.inputs); }, !f.inputs.data.empty() || !f.inputs.input.empty()};
}

// The same sections as `effectual report --search/--frontier`, without saving the JSON first; then
// the document or the summary.
void finish(const SearchFlags& f, const api::SearchOutput& out) {
  if (!f.html.empty()) {
    html::HtmlReport report("effectual search", fs::path(f.common.model).filename().string());
    report.set_footer("effectual 0.1.0");
    search::add_search_sections(out.frontier ? nullptr : &out.doc, "search.json", out.frontier ? &out.doc : nullptr,
                                "frontier.json", report);
    report.write(f.html);
  }
  if (f.common.json) return print_json(out.doc);
  fmt::print("{}", out.text);
}

void run_search_precision(SearchFlags& f) {
  const api::SearchOptions a = options_of(f);
  api::check_precision_options(a);
  f.common.float_qdq = true;  // the search's hooks act on QDQ layers' floats
  Loaded l = load(f.common);
  finish(f, api::search_precision(l, f.common, search_data(f, l), a));
}

void run_search_thresholds(SearchFlags& f) {
  const api::SearchOptions a = options_of(f);
  api::check_threshold_options(a);
  f.common.float_qdq = true;  // the search's hooks act on QDQ layers' floats
  Loaded l = load(f.common);
  finish(f, api::search_thresholds(l, f.common, search_data(f, l), a));
}

void run_search_all(SearchFlags& f) {
  const api::SearchOptions a = options_of(f);
  api::check_precision_options(a);
  f.common.float_qdq = true;  // the search's hooks act on QDQ layers' floats
  Loaded l = load(f.common);
  finish(f, api::search_all(l, f.common, search_data(f, l), a));
}

void add_shared_flags(CLI::App* p, SearchFlags& f) {
  add_model_flags(p, f.common, false);
  add_input_flags(p, f.inputs);
  p->add_option("--search-data", f.a.search_data, "data set searched on (with --report-data, instead of --data)");
  p->add_option("--report-data", f.a.report_data, "data set the result is reported on");
  add_subset_flags(p, f.a.search_images, f.a.report_images, f.a.seed);
  p->add_option("--keep", f.a.keep, "top-1 (or agreement) kept relative to fp32, e.g. 100% or 99%");
  p->add_option("--max-loss", f.max_loss, "top-1 at most this many points below fp32");
  p->add_option("--metric", f.a.metric, "top1 (labels), output-snr or top1-agreement (no labels needed)");
  p->add_option("--batch", f.a.batch, "images per inference batch");
  p->add_option("--html", f.html, "also write the report's search sections (docs/search.md) to this HTML file");
  p->add_option("--sim-images", f.a.sim_images, "report images simulated for the speedup table (0: none)")
      ->check(non_negative_count());
}

void add_sweep_flags(CLI::App* p, SearchFlags& f, const std::string& what) {
  p->add_flag("--sweep", f.a.sweep, "one search per target: the " + what + " frontier (frontier.json, .csv)");
  p->add_option("--sweep-targets", f.a.sweep_targets,
                "--sweep's targets, e.g. 100,99,95 (% kept; dB with output-snr); default 100..90%");
}

}  // namespace

void register_search_command(CLI::App& app) {
  static SearchFlags f;
  auto* s = app.add_subcommand("search", "search per-layer value formats with accuracy in the loop (docs/search.md)");
  s->require_subcommand(1);
  auto* p = s->add_subcommand("precision", "per-layer fixed-point formats minimising MAC-weighted bits");
  add_shared_flags(p, f);
  static CLI::Option* snr = p->add_option("--min-snr-db", f.min_snr_db, "with --metric output-snr: the least SNR");
  p->add_option("--objective", f.a.objective, "activations (Stripes), products (Loom, Tartan) or memory");
  p->add_option("--clip", f.a.clip,
                "integer bits from a clipping threshold (mse, aciq, kl at 8 bits on the search set) instead of the "
                "largest magnitude: none (default), mse, aciq, kl (docs/quantize.md)");
  p->add_option("--ocs-ratio", f.a.ocs_ratio,
                "search the model with this fraction of every layer's input channels split (OCS; weights and "
                "activations), written to --out as split_model.onnx: the profile applies to it (docs/search.md)");
  p->add_option("--out", f.a.out, "write precision_profile.json, search.json, speedups.txt (and a checkpoint)");
  p->add_flag("--resume", f.a.resume, "continue an interrupted search from --out's checkpoint");
  add_sweep_flags(p, f, "accuracy vs Stripes ideal speedup");
  p->callback([] {
    f.min_snr_given = snr->count() > 0;
    f.common.threads = usable_threads(f.common.threads);
    run_search_precision(f);
  });
  static SearchFlags a;
  auto* al = s->add_subcommand("all", "precision search, then thresholds searched on the found profile");
  add_shared_flags(al, a);
  static CLI::Option* asnr = al->add_option("--min-snr-db", a.min_snr_db, "with --metric output-snr: the least SNR");
  al->add_option("--objective", a.a.objective, "activations (Stripes), products (Loom, Tartan) or memory");
  al->add_option("--levels", a.a.levels, "threshold candidates per layer: max|a| x 2^-k, k < levels");
  al->add_option("--out", a.a.out, "write precision_profile.json, thresholds.json, search.json, speedups.txt");
  al->add_flag("--resume", a.a.resume, "continue an interrupted search (either stage) from --out's checkpoints");
  al->callback([] {
    a.min_snr_given = asnr->count() > 0;
    a.common.threads = usable_threads(a.common.threads);
    run_search_all(a);
  });
  static SearchFlags t;
  auto* th = s->add_subcommand("thresholds", "per-layer near-zero thresholds maximising skipped activations");
  add_shared_flags(th, t);
  static CLI::Option* tsnr = th->add_option("--min-snr-db", t.min_snr_db, "with --metric output-snr: the least SNR");
  th->add_option("--levels", t.a.levels, "threshold candidates per layer: max|a| x 2^-k, k < levels");
  th->add_option("--out", t.a.out,
                 "write thresholds.json, threshold_search.json (--sweep: frontier.*) and a checkpoint");
  th->add_flag("--resume", t.a.resume, "continue an interrupted search from --out's checkpoint");
  add_sweep_flags(th, t, "accuracy vs MAC-weighted skipped fraction");
  th->callback([] {
    t.min_snr_given = tsnr->count() > 0;
    t.common.threads = usable_threads(t.common.threads);
    run_search_thresholds(t);
  });
}

}  // namespace eff::cli
