// What `effectual optimize` leaves behind (deft/optimize.h): optimize.json, frontier.json / .csv,
// the per-layer measurements stored in the optimized model's sidecar, the terminal summary.
#include <fmt/format.h>

#include "deft/optimize.h"

namespace eff::deft {

using nlohmann::json;

namespace {

double pct(int64_t n, int64_t d) {
  return d ? 100.0 * double(n) / double(d) : 0.0;
}

json subset_json(const search::Reference& ref, const search::Tally& t, const search::EvalSet& set) {
  return {{"source", set.source},
          {"images", t.images},
          {"fp32_top1", ref.accuracy()},
          {"top1", pct(t.correct, t.images)},
          {"agreement", pct(t.agree, t.images)},
          {"lost", t.lost},
          {"met", t.met}};
}

std::string choice_text(const OptimizeResult& r, const std::vector<int>& choice) {
  std::string s;
  for (size_t i = 0; i < choice.size(); ++i) {
    if (i) s += ' ';
    s += r.layers[i].options[choice[i]].candidate.name();
  }
  return s;
}

json point_json(const OptimizeResult& r, const OptimizePoint& p, size_t index) {
  json j = {{"index", index},
            {"layers", choice_text(r, p.choice)},
            {"predicted_ms", p.predicted_ms},
            {"predicted_speedup", p.predicted_ms > 0 ? r.engine_ms / p.predicted_ms : 0.0},
            {"search", {{"top1", pct(p.search.correct, p.search.images)}, {"lost", p.search.lost}, {"met", p.meets}}},
            {"chosen", static_cast<int>(index) == r.chosen}};
  if (p.measured) {
    j["measured_ms"] = p.measured_ms;
    j["engine_ms"] = p.engine_ms;
    j["measured_speedup"] = p.measured_ms > 0 ? p.engine_ms / p.measured_ms : 0.0;
    j["report"] = {{"top1", pct(p.report.correct, p.report.images)},
                   {"lost", p.report.lost},
                   {"fp32_top1", r.report_ref.accuracy()},
                   {"loss_points", r.report_ref.accuracy() - pct(p.report.correct, p.report.images)}};
  }
  return j;
}

}  // namespace

json layer_measurements(const OptimizeResult& r) {
  json out = json::object();
  for (const OptimizedLayer& l : r.layers) {
    const LayerOption& c = l.options[l.chosen];
    out[l.name] = {{"engine_ms", l.options[0].ms}, {"ms", c.ms}, {"lost_alone", c.lost}};
    if (l.threads > 0) out[l.name]["threads"] = l.threads;
  }
  return out;
}

json optimize_json(const OptimizeResult& r, const OptimizeOptions& o, const search::EvalSet& search,
                   const search::EvalSet& report, const std::string& model) {
  json layers = json::array();
  for (const OptimizedLayer& l : r.layers) {
    json options = json::array();
    for (const LayerOption& c : l.options) {
      json x = {{"candidate", c.candidate.name()}, {"kept", c.kept}, {"ms", c.ms}};
      if (c.lost >= 0) x["lost_alone"] = c.lost;
      options.push_back(std::move(x));
    }
    const LayerOption& c = l.options[l.chosen];
    layers.push_back({{"name", l.name},
                      {"kind", l.conv ? "conv" : "fc"},
                      {"depth", l.depth},
                      {"rows", l.rows},
                      {"chosen", c.candidate.name()},
                      {"kept", c.kept},
                      {"engine_ms", l.options[0].ms},
                      {"engine_all_engine_ms", l.engine_blocked_ms},
                      {"ms", c.ms},
                      {"threads", l.threads},
                      {"options", options}});
  }
  const OptimizePoint& p = r.points.at(r.chosen);
  json formats = json::array();
  for (Format f : o.formats) formats.push_back(format_name(f));
  return {{"format", "effectual-deft-optimize"},
          {"model", model},
          {"target", search::describe_target(o.target)},
          {"formats", formats},
          {"alphas", o.alphas},
          {"compensation", compensation_name(o.compensation)},
          {"calibration_images", r.calibration_images},
          {"threads", o.threads},
          {"speed_batch", o.speed_batch},
          {"engine_ms", r.engine_ms},
          {"layer_threads", r.thread_choice.chosen.empty() ? json(nullptr)
                                                           : json{{"chosen", r.thread_choice.chosen},
                                                                  {"team_ms", r.thread_choice.team_ms},
                                                                  {"one_thread_ms", r.thread_choice.one_ms},
                                                                  {"mixed_ms", r.thread_choice.mixed_ms},
                                                                  {"split_ms", r.thread_choice.split_ms}}},
          {"chosen", point_json(r, p, static_cast<size_t>(r.chosen))},
          {"engine_kept", r.engine_kept},
          {"accuracy",
           {{"search", subset_json(r.search_ref, p.search, search)},
            {"report", subset_json(r.report_ref, p.report, report)}}},
          {"report_met", r.report_met},
          {"evaluations", r.evaluations},
          {"from_checkpoint", r.resumed},
          {"layers", layers},
          {"skipped", r.skipped}};
}

json frontier_json(const OptimizeResult& r, const OptimizeOptions& o, const std::string& model) {
  json points = json::array();
  for (size_t i = 0; i < r.points.size(); ++i)
    if (r.points[i].frontier) points.push_back(point_json(r, r.points[i], i));
  json layers = json::array();
  for (const OptimizedLayer& l : r.layers) layers.push_back(l.name);
  return {
      {"format", "effectual-deft-frontier"},  {"model", model},        {"target", search::describe_target(o.target)},
      {"speed_batch", o.speed_batch},         {"threads", o.threads},  {"search_images", r.search_ref.images},
      {"report_images", r.report_ref.images}, {"layer_names", layers}, {"points", points}};
}

std::string frontier_csv(const OptimizeResult& r) {
  std::string s =
      "index,chosen,predicted_ms,measured_ms,engine_ms,measured_speedup,search_top1,search_lost,report_top1,"
      "report_lost,report_loss_points,layers\n";
  for (size_t i = 0; i < r.points.size(); ++i) {
    const OptimizePoint& p = r.points[i];
    if (!p.frontier) continue;
    s += fmt::format("{},{},{:.4f},{:.4f},{:.4f},{:.3f},{:.2f},{},{:.2f},{},{:.2f},{}\n", i,
                     static_cast<int>(i) == r.chosen ? 1 : 0, p.predicted_ms, p.measured_ms, p.engine_ms,
                     p.measured_ms > 0 ? p.engine_ms / p.measured_ms : 0.0, pct(p.search.correct, p.search.images),
                     p.search.lost, pct(p.report.correct, p.report.images), p.report.lost,
                     r.report_ref.accuracy() - pct(p.report.correct, p.report.images), choice_text(r, p.choice));
  }
  return s;
}

std::string optimize_text(const OptimizeResult& r, const OptimizeOptions& o) {
  std::string s = fmt::format("target: {}; times at batch {}, {} thread(s)\n", search::describe_target(o.target),
                              o.speed_batch, o.threads);
  s += fmt::format("{:<28} {:<5} {:>7} {:>14} {:>10} {:>10} {:>6}\n", "layer", "kind", "K", "chosen", "engine ms",
                   "chosen ms", "kept");
  for (const OptimizedLayer& l : r.layers) {
    const LayerOption& c = l.options[l.chosen];
    s += fmt::format("{:<28} {:<5} {:>7} {:>14} {:>10.4f} {:>10.4f} {:>5.1f}%\n", l.name, l.conv ? "conv" : "fc",
                     l.depth, c.candidate.name(), l.options[0].ms, c.ms, pct(c.kept, l.depth));
  }
  for (const std::string& why : r.skipped) s += "skipped " + why + "\n";
  const OptimizePoint& p = r.points.at(r.chosen);
  s += fmt::format("search subset: top-1 {:.2f}% (fp32 {:.2f}%), {} image(s) lost\n",
                   pct(p.search.correct, p.search.images), r.search_ref.accuracy(), p.search.lost);
  s += fmt::format("report subset: top-1 {:.2f}% (fp32 {:.2f}%), {:+.2f} points: target {}\n",
                   pct(p.report.correct, p.report.images), r.report_ref.accuracy(),
                   pct(p.report.correct, p.report.images) - r.report_ref.accuracy(), r.report_met ? "met" : "missed");
  s += fmt::format("end to end (same run): engine {:.4f} ms, optimized {:.4f} ms: {:.2f}x (predicted {:.2f}x)\n",
                   p.engine_ms, p.measured_ms, p.measured_ms > 0 ? p.engine_ms / p.measured_ms : 0.0,
                   p.predicted_ms > 0 ? r.engine_ms / p.predicted_ms : 0.0);
  s += fmt::format("{} evaluation(s){}\n", r.evaluations,
                   r.resumed ? fmt::format(", {} from the checkpoint", r.resumed) : std::string());
  return s;
}

}  // namespace eff::deft
