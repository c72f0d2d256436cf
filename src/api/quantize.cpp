#include "api/quantize.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "quant/onnx_export.h"
#include "quant/quant_table.h"
#include "quant/session.h"
#include "report/html/html_report.h"
#include "search/eval_set.h"

namespace eff::api {

namespace {

std::vector<int> parse_bits_list(const std::string& s) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t comma = s.find(',', pos);
    const std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    int v = 0;
    try {
      size_t used = 0;
      v = std::stoi(item, &used);
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      fail<UsageError>("--table-bits '{}': give bit widths 2-8 separated by commas", s);
    }
    out.push_back(v);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

// Calibration batches (of at most 32 images) from --calib-data or --calib-input.
std::vector<std::vector<Tensor>> calibration_batches(const cli::Common& o, const QuantizeOptions& f, const Model& m) {
  std::vector<std::vector<Tensor>> batches;
  if (!f.calib_data.empty() && !f.calib_input.empty()) fail<UsageError>("give --calib-data or --calib-input, not both");
  if (!f.calib_data.empty()) {
    const auto data = cli::open_data_source(m, f.calib_data, "--calib-data");
    const int64_t n = cli::items_to_use(*data, 0, f.calib_images, "--calib-images", o.json);
    for (int64_t b = 0; b < n; b += 32) batches.push_back(data->inputs(b, std::min<int64_t>(32, n - b)));
  } else if (!f.calib_input.empty()) {
    std::vector<Tensor> inputs;
    if (f.calib_input.size() == 1 && m.graph.inputs.size() == 1 && f.calib_input[0].find('=') == std::string::npos) {
      inputs.push_back(cli::load_input_file(m, f.calib_input[0], 0));  // FILE.npy for a one-input model
    } else {
      for (auto& [arg, t] : cli::load_named_inputs(m, f.calib_input)) inputs.push_back(std::move(t));
    }
    batches.push_back(std::move(inputs));
  }
  return batches;
}

// The source model's sidecar beside the output (OUT.json), so that eval, profile and simulate
// preprocess images as for the float model; its measured accuracies are the float model's, so
// they are dropped, and the quantization is recorded.
void write_sidecar(const std::string& meta_path, const std::string& out, const std::string& doc) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(meta_path, size_t{16} << 20));
  } catch (const nlohmann::json::exception& e) {
    fail<ConfigError>("{}: not valid JSON ({})", meta_path, e.what());
  }
  if (!j.is_object()) fail<ConfigError>("{}: not a JSON object", meta_path);
  for (auto it = j.begin(); it != j.end();) {
    it = it.key().rfind("test_accuracy", 0) == 0 ? j.erase(it) : std::next(it);
  }
  j["name"] = std::filesystem::path(out).stem().string();
  j["quantized_from"] = meta_path;
  j["quantization"] = doc;
  std::filesystem::path side(out);
  side.replace_extension(".json");
  write_file_atomic(side.string(), j.dump(2) + "\n");
}

quant::QuantOptions options_of(const QuantizeOptions& f) {
  quant::QuantOptions o;
  o.weight_bits = f.bits;
  o.act_bits = f.act_bits;
  o.per_channel = f.per_channel;
  o.asymmetric = f.asymmetric;
  o.weight_clip = quant::parse_clip_method(f.clip);
  o.act_clip = f.act_clip.empty() ? o.weight_clip : quant::parse_clip_method(f.act_clip, "--act-clip");
  o.ocs_ratio = f.ocs_ratio;
  quant::validate(o);
  return o;
}

Output run_export(const cli::Common& o, const QuantizeOptions& f) {
  if (f.out.empty()) fail<UsageError>("give --out FILE.onnx (or --table)");
  if (!cli::has_ext(f.out, {".onnx"})) fail<UsageError>("--out {}: the quantized model is written as .onnx", f.out);
  const quant::QuantOptions q = options_of(f);
  const auto start = std::chrono::steady_clock::now();
  Model meta_model;
  std::string meta = o.meta;
  if (meta.empty()) {
    std::filesystem::path side(o.model);
    side.replace_extension(".json");
    std::error_code ec;
    if (std::filesystem::exists(side, ec)) meta = side.string();
  }
  if (!meta.empty()) meta_model.meta = load_model_meta(meta);
  Graph g = quant::load_float_graph(o.model);
  meta_model.graph = g;  // graph inputs for --calib-input
  meta_model.path = o.model;
  auto batches = q.act_bits > 0 ? calibration_batches(o, f, meta_model) : std::vector<std::vector<Tensor>>{};
  quant::QuantSession session(std::move(g), std::move(batches), cli::usable_threads(o.threads));
  const quant::QuantizedModel qm = session.quantize(q);
  const std::string doc =
      fmt::format("effectual quantize: weights {} bits{}, {}{}, clip {}, OCS ratio {}", q.weight_bits,
                  q.act_bits ? fmt::format(", activations {} bits", q.act_bits) : std::string(),
                  q.per_channel ? "per-channel" : "per-tensor", q.asymmetric ? " asymmetric" : " symmetric",
                  quant::clip_method_name(q.weight_clip), q.ocs_ratio);
  quant::write_onnx(qm.graph, f.out, doc);
  if (!meta.empty()) write_sidecar(meta, f.out, doc);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {quant::quantized_model_json(qm, q, o.model, f.out, secs),
          quant::format_quantized_model(qm, q, o.model, f.out, secs)};
}

Output run_table(const cli::Common& o, const QuantizeOptions& f) {
  if (f.data.empty())
    fail<UsageError>("--table needs --data SET (labelled images; calibration and report subsets are drawn from it)");
  if (!f.out.empty()) fail<UsageError>("--table writes no model; drop --out (use --csv/--html/--json)");
  cli::Loaded l = cli::load(o);
  const auto data = cli::open_data_source(l.model, f.data, "--data");
  const search::SplitIndices split = search::split_indices(data->size(), f.calib_images, f.report_images, f.seed);
  const int64_t classes = l.model.meta.classes.empty() ? 0 : static_cast<int64_t>(l.model.meta.classes.size());
  const search::EvalSet calib = search::load_eval_set(*data, split.search, classes);
  const search::EvalSet report = search::load_eval_set(*data, split.report, classes);
  if (!report.has_labels()) fail<UsageError>("{}: --table needs labels", data->name());
  std::vector<std::vector<Tensor>> batches;
  for (int64_t b = 0; b < calib.size(); b += 32)
    batches.push_back({calib.batch(b, std::min<int64_t>(32, calib.size() - b))});
  l.exec.reset();
  quant::QuantSession session(quant::load_float_graph(o.model), std::move(batches), cli::usable_threads(o.threads));
  quant::TableOptions to;
  to.bits = parse_bits_list(f.bits_list);
  to.per_channel = f.per_channel;
  to.asymmetric = f.asymmetric;
  to.threads = cli::usable_threads(o.threads);
  to.calib_source = f.data;
  to.calib_images = calib.size();
  to.seed = f.seed;
  const quant::QuantTable t = quant::run_table(session, report, to);
  if (!f.csv.empty()) quant::write_table_csv(t, f.csv);
  if (!f.html.empty()) {
    html::HtmlReport rep("effectual quantize", o.model);
    quant::add_table_section(t, rep);
    rep.write(f.html);
  }
  return {quant::table_json(t), quant::format_table(t)};
}

}  // namespace

Output quantize(const cli::Common& o, const QuantizeOptions& f) {
  return f.table ? run_table(o, f) : run_export(o, f);
}

}  // namespace eff::api
