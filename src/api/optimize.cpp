#include "api/optimize.h"

#include <fmt/format.h>

#include <filesystem>
#include <map>

#include "core/fs.h"
#include "core/progress.h"
#include "deft/deft_file.h"
#include "deft/deft_html.h"
#include "deft/optimize.h"
#include "engine/geometry.h"
#include "report/html/html_report.h"
#include "search/eval_set.h"

namespace eff::api {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t at = s.find(',', start);
    const std::string tok = s.substr(start, at == std::string::npos ? std::string::npos : at - start);
    if (!tok.empty()) out.push_back(tok);
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return out;
}

deft::OptimizeOptions options_of(const cli::Common& c, const OptimizeOptions& f) {
  deft::OptimizeOptions o;
  if (!(f.target_loss >= 0 && f.target_loss < 100))
    fail<UsageError>("--target-loss {}: give points of top-1 in [0, 100), e.g. 0.5", f.target_loss);
  o.target.metric = search::Metric::kTop1;
  o.target.max_loss_points = f.target_loss;
  o.formats.clear();
  for (const std::string& name : split_list(f.formats)) {
    deft::Format x;
    if (!deft::parse_format(name, x))
      fail<UsageError>("--formats: unknown format '{}' (fp32, deft16, deft16q, fp8, bf16dot, int8)", name);
    o.formats.push_back(x);
  }
  if (o.formats.empty()) fail<UsageError>("--formats: give at least one format");
  o.alphas.clear();
  if (f.alphas != "none") {
    for (const std::string& a : split_list(f.alphas)) {
      char* end = nullptr;
      const double v = std::strtod(a.c_str(), &end);
      if (*end || !(v > 0 && v <= 1)) fail<UsageError>("--alphas: '{}' is not a number in (0, 1]", a);
      o.alphas.push_back(v);
    }
  }
  if (!deft::parse_compensation(f.compensation, o.compensation))
    fail<UsageError>("--compensation: '{}' is not none, scale or fold", f.compensation);
  if (f.batch < 1 || f.speed_batch < 1 || f.rounds < 1 || f.runs < 1)
    fail<UsageError>("--batch, --speed-batch, --rounds and --runs must be at least 1");
  o.calibration_images = f.calibration_images;
  o.threads = resolve_threads(cli::usable_threads(c.threads));
  o.batch = f.batch;
  o.speed_batch = f.speed_batch;
  o.speed_rounds = f.rounds;
  o.speed_runs = f.runs;
  o.resume = f.resume;
  o.progress = !c.json && Progress::enabled();
  if (!c.json) o.log = [](const std::string& m) { fmt::print(stderr, "{}\n", m); };
  return o;
}

uint64_t hash_indices(const std::vector<int64_t>& v) {
  uint64_t h = 1469598103934665603ull;
  for (int64_t x : v) h = (h ^ static_cast<uint64_t>(x)) * 1099511628211ull;
  return h;
}

}  // namespace

void OptimizeOptions::check(const cli::Common& c) const {
  if (out.empty()) fail<UsageError>("--out DIR is required (the optimized model is written there)");
  options_of(c, *this);
  if (!c.deft.empty()) fail<UsageError>("--deft: optimize chooses the formats itself");
}

Output optimize(cli::Loaded& l, const cli::Common& c, const Data& d, const OptimizeOptions& f) {
  f.check(c);
  deft::OptimizeOptions o = options_of(c, f);
  if (!l.model.meta.deft.is_null()) fail<UsageError>("{}: already optimized; give the original model", c.model);
  Dataset* data = &d.set;
  if (data->size() < 2) fail<UsageError>("{}: needs at least 2 images", data->name());
  const search::SplitIndices split = search::split_indices(data->size(), f.search_images, f.report_images, f.seed);
  const int64_t classes = static_cast<int64_t>(l.model.meta.classes.size());
  const search::EvalSet search_set = search::load_eval_set(*data, split.search, classes);
  const search::EvalSet report_set = search::load_eval_set(*data, split.report, classes);
  if (!search_set.has_labels()) fail<UsageError>("{}: the top-1 target needs labels", data->name());

  const Model& model = l.model;
  o.load_with_plan = [&model](const deft::DeftModelPlan& plan) {
    LoadOptions lo = model.load_options;
    lo.layer_rewrite = [&plan](Graph& g) { deft::apply_deft(g, plan); };
    return load_onnx(model.path, lo);
  };
  make_dirs(f.out);
  o.checkpoint = (fs::path(f.out) / "checkpoint.json").string();
  std::string formats_alphas;
  for (deft::Format x : o.formats) formats_alphas += deft::format_name(x) + " ";
  for (double a : o.alphas) formats_alphas += fmt::format("{:g} ", a);
  o.fingerprint = fmt::format("optimize {} {} | {} {:x} {:x} | {} | {}| {} | calibration {} | batch {}", c.model,
                              fs::file_size(c.model), search_set.source, hash_indices(search_set.indices),
                              hash_indices(report_set.indices), search::describe_target(o.target), formats_alphas,
                              deft::compensation_name(o.compensation), o.calibration_images, o.batch);

  const deft::OptimizeResult r = deft::optimize(l.model.graph, search_set, report_set, o);

  json sidecar;
  if (!l.model.meta.path.empty()) sidecar = json::parse(read_file(l.model.meta.path, size_t{1} << 26));
  const std::string out_model = (fs::path(f.out) / fs::path(c.model).filename()).string();
  json doc = deft::optimize_json(r, o, search_set, report_set, c.model);
  // MACs per image, for reading which layers are memory- or compute-bound (tools/bench_optimize.js).
  std::map<std::string, int64_t> macs;
  // At the items' own shapes: a model with dynamic dimensions has no shape of its own.
  std::vector<Shape> item_shapes;
  for (const Tensor& t : search_set.batch(0, 1)) item_shapes.push_back(t.shape());
  for (const LayerGeometry& g : model_geometry(*l.exec, item_shapes)) macs[g.name] = g.macs;
  for (json& layer : doc.at("layers")) layer["macs"] = macs[layer.at("name").get<std::string>()];
  json extra = {{"optimize",
                 {{"target", doc.at("target")},
                  {"speed_batch", o.speed_batch},
                  {"threads", o.threads},
                  {"chosen", doc.at("chosen")},
                  {"accuracy", doc.at("accuracy")}}}};
  deft::write_optimized_model(c.model, sidecar, r.plan, extra, deft::layer_measurements(r), out_model);
  const json front = deft::frontier_json(r, o, c.model);
  write_file_atomic((fs::path(f.out) / "optimize.json").string(), doc.dump(2) + "\n");
  write_file_atomic((fs::path(f.out) / "frontier.json").string(), front.dump(2) + "\n");
  write_file_atomic((fs::path(f.out) / "frontier.csv").string(), deft::frontier_csv(r));
  if (!f.html.empty()) {
    html::HtmlReport report("effectual optimize", fs::path(c.model).filename().string());
    report.set_footer("effectual 0.1.0");
    deft::add_deft_sections(&doc, "optimize.json", &front, "frontier.json", report);
    report.write(f.html);
  }
  return {doc, deft::optimize_text(r, o) + fmt::format("\nwrote {} (+ .json, .deft.bin), {}/optimize.json, "
                                                       "frontier.json, frontier.csv\n",
                                                       out_model, f.out)};
}

}  // namespace eff::api
