#include "search/search_report.h"

#include <fmt/format.h>

#include "sim/live.h"

namespace eff::search {

using nlohmann::json;

namespace {

json format_json(const FixedPointFormat& f) {
  return {{"int_bits", f.int_bits}, {"frac_bits", f.frac_bits}, {"signed", f.is_signed}};
}

json operand_json(const OperandChoice& c) {
  json j = format_json(c.format);
  j["bits"] = c.format.total_bits();
  j["sensitivity_frac_bits"] = c.sensitivity_frac_bits;
  j["max_abs"] = c.range.max_abs;
  return j;
}

std::string accuracy_line(const char* name, const SubsetScore& s) {
  if (s.labelled) {
    return fmt::format(
        "{:<7} {:>6} images: top-1 {:.2f}% (fp32 {:.2f}%, {} of its right images lost), agreement with fp32 "
        "{:.2f}%, SNR {:.1f} dB{}\n",
        name, s.images, s.top1, s.fp32_top1, s.lost, s.agreement, s.snr_db, s.met ? "" : "  (target missed)");
  }
  return fmt::format("{:<7} {:>6} images: agreement with fp32 {:.2f}%, SNR {:.1f} dB{}\n", name, s.images, s.agreement,
                     s.snr_db, s.met ? "" : "  (target missed)");
}

json simulation_json(const sim::SimResults& sim) {
  json designs = json::array();
  for (size_t d = 0; d < sim.designs.size(); ++d) {
    designs.push_back({{"design", sim.designs[d]},
                       {"speedup_conv", sim.conv[d].speedup()},
                       {"speedup_fc", sim.fc[d].speedup()},
                       {"speedup_all", sim.all[d].speedup()},
                       {"ideal_speedup_all", sim.all[d].ideal_speedup()}});
  }
  return {
      {"images", sim.images}, {"subset", "report"}, {"baseline", "DaDianNao of the same grid"}, {"designs", designs}};
}

}  // namespace

json subset_json(const SubsetScore& s) {
  json j = {{"images", s.images},
            {"metric", s.metric},
            {"fp32_metric", s.fp32_metric},
            {"target_met", s.met},
            {"top1_agreement", s.agreement},
            {"output_snr_db", s.snr_db}};
  if (s.labelled) {
    j["top1"] = s.top1;
    j["fp32_top1"] = s.fp32_top1;
    j["lost_images"] = s.lost;  // fp32 right, the found formats wrong (what top-1 targets count)
  }
  return j;
}

std::vector<int> activation_bits(const SearchResult& r) {
  std::vector<int> b;
  for (const LayerChoice& l : r.layers) b.push_back(l.activations.format.total_bits());
  return b;
}
std::vector<int> weight_bits(const SearchResult& r) {
  std::vector<int> b;
  for (const LayerChoice& l : r.layers) b.push_back(l.weights.format.total_bits());
  return b;
}

namespace {
std::vector<int64_t> layer_macs(const SearchResult& r) {
  std::vector<int64_t> m;
  for (const LayerChoice& l : r.layers) m.push_back(l.shape.macs);
  return m;
}
}  // namespace

json precision_profile_json(const SearchResult& r) {
  json layers = json::object();
  for (const LayerChoice& l : r.layers) {
    layers[l.name] = {{"activations", format_json(l.activations.format)}, {"weights", format_json(l.weights.format)}};
  }
  return {{"format", "effectual-precision-profile"},
          {"version", 1},
          {"description", "found by effectual search precision (docs/search.md)"},
          {"layers", layers}};
}

sim::SimResults simulate_designs(const Graph& graph, const std::map<std::string, LayerTransform>& transforms,
                                 const EvalSet& set, int64_t images, int threads, const std::string& designs) {
  const sim::DesignSet set_of_designs = sim::build_designs(designs, "", "");
  sim::SimRun run(set_of_designs, sim::SimContext{resolve_threads(threads), false});
  ExecutorOptions eo;
  eo.threads = threads;
  eo.transforms = transforms;
  Executor exec(graph, eo);
  const std::unique_ptr<Dataset> data = as_dataset(set);
  sim::LiveOptions lo;
  lo.end = std::min(images, set.size());
  sim::simulate_live(exec, *data, run, transforms, lo);
  return run.results();
}

sim::SimResults simulate_with_profile(const Graph& graph, const SearchResult& r, const EvalSet& set, int64_t images,
                                      int threads) {
  return simulate_designs(graph, transforms_of(r.layers), set, images, threads, "all");
}

json search_json(const SearchResult& r, const SearchSetup& setup, const SearchOptions& o, const sim::SimResults* sim) {
  json layers = json::array();
  for (const LayerChoice& l : r.layers) {
    layers.push_back({{"index", l.index},
                      {"name", l.name},
                      {"kind", l.kind},
                      {"macs", l.shape.macs},
                      {"activations", operand_json(l.activations)},
                      {"weights", operand_json(l.weights)}});
  }
  const Target& t = o.target;
  json target = {{"metric", metric_name(t.metric)}, {"description", describe_target(t)}};
  if (t.metric == Metric::kOutputSnr) {
    target["min_snr_db"] = t.min_snr_db;
  } else if (t.metric == Metric::kTop1 && t.max_loss_points >= 0) {
    target["max_loss_points"] = t.max_loss_points;
  } else {
    target["keep"] = t.keep;
  }
  const EvaluationCounts& e = r.evaluations;
  json j = {
      {"format", "effectual-precision-search"},
      {"version", 1},
      {"model", setup.model},
      {"objective", objective_name(o.objective)},
      {"target", target},
      {"subsets",
       {{"search", {{"source", setup.search_source}, {"images", r.search.images}}},
        {"report", {{"source", setup.report_source}, {"images", r.report.images}}},
        {"selection", setup.shuffled ? "seeded shuffle" : "two data sets"}}},
      {"accuracy", {{"search", subset_json(r.search)}, {"report", subset_json(r.report)}}},
      {"layers", layers},
      {"activation_precisions", precision_notation(activation_bits(r))},
      {"weight_precisions", precision_notation(weight_bits(r))},
      {"stripes_ideal_speedup", stripes_ideal_speedup(layer_macs(r), activation_bits(r))},
      {"cost", {{"objective", objective_name(o.objective)}, {"value", r.cost}, {"at_16_bits", r.cost_at_16_bits}}},
      {"evaluations",
       {{"sensitivity", e.sensitivity},
        {"lift", e.ascent},
        {"descent", e.descent},
        {"final", e.final_checks},
        {"total", e.total()},
        {"from_checkpoint", e.from_checkpoint},
        {"prefix_passes", e.prefix_passes},
        {"images_run", e.images}}},
      {"wall_seconds", r.wall_seconds},
      {"threads", resolve_threads(o.threads)},
      {"batch", o.batch}};
  if (setup.shuffled) j["subsets"]["seed"] = setup.seed;
  if (sim) j["simulation"] = simulation_json(*sim);
  return j;
}

std::string summary_text(const SearchResult& r, const SearchOptions& o, const sim::SimResults* sim) {
  std::string s = fmt::format("target: {}; objective: {}\n\n", describe_target(o.target), objective_name(o.objective));
  s += fmt::format("{:<4} {:<20} {:>12}  {:<22} {:<22}\n", "#", "layer", "MACs", "activations (I.F, P)",
                   "weights (I.F, P)");
  auto cell = [](const FixedPointFormat& f) {
    return fmt::format("{}{}.{}  P={}", f.is_signed ? "s" : "u", f.int_bits, f.frac_bits, f.total_bits());
  };
  for (const LayerChoice& l : r.layers) {
    s += fmt::format("{:<4} {:<20} {:>12}  {:<22} {:<22}\n", l.index, l.name, l.shape.macs, cell(l.activations.format),
                     cell(l.weights.format));
  }
  s += fmt::format("\nactivation precisions {} (weights {}); Stripes ideal speedup {:.2f}x\n",
                   precision_notation(activation_bits(r)), precision_notation(weight_bits(r)),
                   stripes_ideal_speedup(layer_macs(r), activation_bits(r)));
  s += accuracy_line("search", r.search);
  s += accuracy_line("report", r.report);
  const EvaluationCounts& e = r.evaluations;
  s += fmt::format(
      "evaluations: {} (sensitivity {}, lift {}, descent {}, final {}; {} from the checkpoint) and {} passes up to a "
      "layer, {} images run, {:.1f} s\n",
      e.total(), e.sensitivity, e.ascent, e.descent, e.final_checks, e.from_checkpoint, e.prefix_passes, e.images,
      r.wall_seconds);
  if (sim) {
    s += fmt::format("\nspeedup over DaDianNao with this profile, {} report image(s):\n\n{}", sim->images,
                     sim::format_table(*sim));
  }
  return s;
}

namespace {
double design_speedup(const sim::SimResults* r, const std::string& design) {
  if (!r) return 0;
  for (size_t d = 0; d < r->designs.size(); ++d) {
    if (r->designs[d] == design) return r->all[d].speedup();
  }
  return 0;
}
}  // namespace

json threshold_search_json(const ThresholdResult& r, const SearchSetup& setup, const ThresholdOptions& o,
                           const sim::SimResults* without, const sim::SimResults* with) {
  json layers = json::array();
  for (const ThresholdChoice& c : r.layers) {
    layers.push_back({{"index", c.index},
                      {"name", c.name},
                      {"macs", c.macs},
                      {"threshold", c.threshold},
                      {"max_abs", c.max_abs},
                      {"level", c.level},
                      {"sensitivity_level", c.sensitivity_level},
                      {"zero_fraction", c.zero_fraction},
                      {"skipped_fraction", c.skipped_fraction}});
  }
  const EvaluationCounts& e = r.evaluations;
  json j = {{"format", "effectual-threshold-search"},
            {"version", 1},
            {"model", setup.model},
            {"target", {{"metric", metric_name(o.target.metric)}, {"description", describe_target(o.target)}}},
            {"subsets",
             {{"search", {{"source", setup.search_source}, {"images", r.search.images}}},
              {"report", {{"source", setup.report_source}, {"images", r.report.images}}}}},
            {"accuracy", {{"search", subset_json(r.search)}, {"report", subset_json(r.report)}}},
            {"layers", layers},
            {"zero_fraction_mac_weighted", r.zero_mac_weighted},
            {"skipped_fraction_mac_weighted", r.skipped_mac_weighted},
            {"evaluations",
             {{"sensitivity", e.sensitivity},
              {"lift", e.ascent},
              {"descent", e.descent},
              {"final", e.final_checks},
              {"total", e.total()},
              {"from_checkpoint", e.from_checkpoint},
              {"images_run", e.images}}},
            {"wall_seconds", r.wall_seconds}};
  if (setup.shuffled) j["subsets"]["seed"] = setup.seed;
  if (without && with) {
    j["cnvlutin"] = {{"images", with->images},
                     {"speedup_without_thresholds", design_speedup(without, "cnvlutin")},
                     {"speedup_with_thresholds", design_speedup(with, "cnvlutin")}};
  }
  return j;
}

std::string threshold_summary_text(const ThresholdResult& r, const ThresholdOptions& o, const sim::SimResults* without,
                                   const sim::SimResults* with) {
  std::string s = fmt::format("target: {}\n\n{:<4} {:<20} {:>12} {:>12} {:>8} {:>8}\n", describe_target(o.target), "#",
                              "layer", "MACs", "threshold", "zeros", "skipped");
  for (const ThresholdChoice& c : r.layers) {
    s += fmt::format("{:<4} {:<20} {:>12} {:>12.4g} {:>7.1f}% {:>7.1f}%\n", c.index, c.name, c.macs, c.threshold,
                     100 * c.zero_fraction, 100 * c.skipped_fraction);
  }
  s += fmt::format(
      "\nMAC-weighted skipped activations: {:.1f}% (zeros alone {:.1f}%; of the values the layers multiply, on the "
      "search subset)\n",
      100 * r.skipped_mac_weighted, 100 * r.zero_mac_weighted);
  s += accuracy_line("search", r.search);
  s += accuracy_line("report", r.report);
  const EvaluationCounts& e = r.evaluations;
  s += fmt::format(
      "evaluations: {} (sensitivity {}, lift {}, descent {}, final {}; {} from the checkpoint), {} images run, "
      "{:.1f} s\n",
      e.total(), e.sensitivity, e.ascent, e.descent, e.final_checks, e.from_checkpoint, e.images, r.wall_seconds);
  if (without && with) {
    s += fmt::format("Cnvlutin over DaDianNao, {} report image(s): {:.2f}x without thresholds, {:.2f}x with\n",
                     with->images, design_speedup(without, "cnvlutin"), design_speedup(with, "cnvlutin"));
  }
  return s;
}

json search_all_json(const SearchResult& p, const ThresholdResult& t, const SearchSetup& setup, const SearchOptions& po,
                     const ThresholdOptions& to, const sim::SimResults* sim) {
  const json pj = search_json(p, setup, po, nullptr);
  const json tj = threshold_search_json(t, setup, to, nullptr, nullptr);
  json j = {{"format", "effectual-search-all"},
            {"version", 1},
            {"model", setup.model},
            {"target", pj["target"]},
            {"subsets", pj["subsets"]},
            {"stages", {{"precision", pj}, {"thresholds", tj}}},
            // The thresholds stage runs with the profile, so its accuracies are those of both.
            {"accuracy",
             {{"after_precision", {{"search", subset_json(p.search)}, {"report", subset_json(p.report)}}},
              {"after_thresholds", {{"search", subset_json(t.search)}, {"report", subset_json(t.report)}}}}},
            {"activation_precisions", pj["activation_precisions"]},
            {"weight_precisions", pj["weight_precisions"]},
            {"stripes_ideal_speedup", pj["stripes_ideal_speedup"]},
            {"skipped_fraction_mac_weighted", t.skipped_mac_weighted},
            {"evaluations",
             {{"precision", p.evaluations.total()},
              {"thresholds", t.evaluations.total()},
              {"total", p.evaluations.total() + t.evaluations.total()},
              {"images_run", p.evaluations.images + t.evaluations.images}}},
            {"wall_seconds", p.wall_seconds + t.wall_seconds}};
  if (sim) {
    j["simulation"] = simulation_json(*sim);
    j["simulation"]["transforms"] = "precision profile and thresholds";
  }
  return j;
}

std::string search_all_summary_text(const SearchResult& p, const ThresholdResult& t, const SearchOptions& po,
                                    const ThresholdOptions& to, const sim::SimResults* sim) {
  std::string s = "== precision ==\n" + summary_text(p, po, nullptr);
  s += "\n== thresholds (on the precision profile) ==\n" + threshold_summary_text(t, to, nullptr, nullptr);
  if (sim) {
    s += fmt::format("\nspeedup over DaDianNao with the profile and the thresholds, {} report image(s):\n\n{}",
                     sim->images, sim::format_table(*sim));
  }
  return s;
}

}  // namespace eff::search
