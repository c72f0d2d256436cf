// effectual quantize: data-free post-training quantization with clipping and outlier channel
// splitting, written as standard ONNX QDQ (src/quant, docs/quantize.md); with --table, seed 003's
// accuracy table over bits x clipping x OCS.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "quant/onnx_export.h"
#include "quant/quant_table.h"
#include "quant/session.h"
#include "search/eval_set.h"

namespace eff::cli {

namespace {

struct QuantizeFlags {
  Common common;
  int bits = 8;
  int act_bits = 0;
  bool per_channel = false, asymmetric = false;
  std::string clip = "none", act_clip;
  double ocs_ratio = 0;
  std::string calib_data;
  std::vector<std::string> calib_input;
  int64_t calib_images = 256;
  std::string out;
  bool table = false;
  std::string data;
  int64_t report_images = 1000;
  uint64_t seed = 1;
  std::string csv, html, bits_list = "4,5,6,8";
};

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
std::vector<std::vector<Tensor>> calibration_batches(const QuantizeFlags& f, const Model& m) {
  std::vector<std::vector<Tensor>> batches;
  if (!f.calib_data.empty() && !f.calib_input.empty()) fail<UsageError>("give --calib-data or --calib-input, not both");
  if (!f.calib_data.empty()) {
    const auto data = open_dataset(f.calib_data, model_preprocess(m));
    const int64_t n = items_to_use(*data, 0, f.calib_images, "--calib-images", f.common.json);
    for (int64_t b = 0; b < n; b += 32) batches.push_back(data->inputs(b, std::min<int64_t>(32, n - b)));
  } else if (!f.calib_input.empty()) {
    std::vector<Tensor> inputs;
    if (f.calib_input.size() == 1 && m.graph.inputs.size() == 1 && f.calib_input[0].find('=') == std::string::npos) {
      inputs.push_back(load_input_file(m, f.calib_input[0], 0));  // FILE.npy for a one-input model
    } else {
      for (auto& [arg, t] : load_named_inputs(m, f.calib_input)) inputs.push_back(std::move(t));
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

quant::QuantOptions options_of(const QuantizeFlags& f) {
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

void run_export(const QuantizeFlags& f) {
  if (f.out.empty()) fail<UsageError>("give --out FILE.onnx (or --table)");
  if (!has_ext(f.out, {".onnx"})) fail<UsageError>("--out {}: the quantized model is written as .onnx", f.out);
  const quant::QuantOptions o = options_of(f);
  const auto start = std::chrono::steady_clock::now();
  Model meta_model;
  std::string meta = f.common.meta;
  if (meta.empty()) {
    std::filesystem::path side(f.common.model);
    side.replace_extension(".json");
    std::error_code ec;
    if (std::filesystem::exists(side, ec)) meta = side.string();
  }
  if (!meta.empty()) meta_model.meta = load_model_meta(meta);
  Graph g = quant::load_float_graph(f.common.model);
  meta_model.graph = g;  // graph inputs for --calib-input
  meta_model.path = f.common.model;
  auto batches = o.act_bits > 0 ? calibration_batches(f, meta_model) : std::vector<std::vector<Tensor>>{};
  quant::QuantSession session(std::move(g), std::move(batches), usable_threads(f.common.threads));
  const quant::QuantizedModel qm = session.quantize(o);
  const std::string doc =
      fmt::format("effectual quantize: weights {} bits{}, {}{}, clip {}, OCS ratio {}", o.weight_bits,
                  o.act_bits ? fmt::format(", activations {} bits", o.act_bits) : std::string(),
                  o.per_channel ? "per-channel" : "per-tensor", o.asymmetric ? " asymmetric" : " symmetric",
                  quant::clip_method_name(o.weight_clip), o.ocs_ratio);
  quant::write_onnx(qm.graph, f.out, doc);
  if (!meta.empty()) write_sidecar(meta, f.out, doc);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (f.common.json) {
    print_json(quant::quantized_model_json(qm, o, f.common.model, f.out, secs));
    return;
  }
  fmt::print("{}", quant::format_quantized_model(qm, o, f.common.model, f.out, secs));
}

void run_table(const QuantizeFlags& f) {
  if (f.data.empty())
    fail<UsageError>("--table needs --data SET (labelled images; calibration and report subsets are drawn from it)");
  if (!f.out.empty()) fail<UsageError>("--table writes no model; drop --out (use --csv/--html/--json)");
  Loaded l = load(f.common);
  const auto data = open_dataset(f.data, model_preprocess(l.model));
  const search::SplitIndices split = search::split_indices(data->size(), f.calib_images, f.report_images, f.seed);
  const int64_t classes = l.model.meta.classes.empty() ? 0 : static_cast<int64_t>(l.model.meta.classes.size());
  const search::EvalSet calib = search::load_eval_set(*data, split.search, classes);
  const search::EvalSet report = search::load_eval_set(*data, split.report, classes);
  if (!report.has_labels()) fail<UsageError>("{}: --table needs labels", data->name());
  std::vector<std::vector<Tensor>> batches;
  for (int64_t b = 0; b < calib.size(); b += 32)
    batches.push_back({calib.batch(b, std::min<int64_t>(32, calib.size() - b))});
  l.exec.reset();
  quant::QuantSession session(quant::load_float_graph(f.common.model), std::move(batches),
                              usable_threads(f.common.threads));
  quant::TableOptions to;
  to.bits = parse_bits_list(f.bits_list);
  to.per_channel = f.per_channel;
  to.asymmetric = f.asymmetric;
  to.threads = usable_threads(f.common.threads);
  to.calib_source = f.data;
  to.calib_images = calib.size();
  to.seed = f.seed;
  const quant::QuantTable t = quant::run_table(session, report, to);
  if (!f.csv.empty()) quant::write_table_csv(t, f.csv);
  if (!f.html.empty()) {
    html::HtmlReport rep("effectual quantize", f.common.model);
    quant::add_table_section(t, rep);
    rep.write(f.html);
  }
  if (f.common.json) return print_json(quant::table_json(t));
  fmt::print("{}", quant::format_table(t));
}

}  // namespace

void register_quantize_command(CLI::App& app) {
  static QuantizeFlags f;
  auto* c = app.add_subcommand("quantize",
                               "data-free quantization (clipping, outlier channel splitting) written as ONNX QDQ, "
                               "or seed 003's accuracy table (docs/quantize.md)");
  add_model_flags(c, f.common, false);
  c->add_option("--bits", f.bits, "weight bits, 2-8 (default 8)");
  c->add_option("--act-bits", f.act_bits, "activation bits, 2-8 (default: weights only)");
  c->add_flag("--per-channel", f.per_channel, "one weight scale per output channel (default: per tensor)");
  c->add_flag("--asymmetric", f.asymmetric, "asymmetric grids with a zero point (default: symmetric)");
  c->add_option("--clip", f.clip, "clipping: none, mse, aciq or kl (default none)");
  c->add_option("--act-clip", f.act_clip, "clipping of activations (default: as --clip)");
  c->add_option("--ocs-ratio", f.ocs_ratio, "fraction of each layer's input channels to split (OCS), e.g. 0.02");
  c->add_option("--calib-data", f.calib_data, "data set whose first --calib-images items calibrate activations");
  c->add_option("--calib-input", f.calib_input, "calibration tensors NAME=FILE.npy (or FILE.npy)");
  c->add_option("--calib-images", f.calib_images, "calibration images (default 256)")->check(positive_count());
  c->add_option("--out", f.out, "the quantized model (.onnx), written atomically");
  c->add_flag("--table", f.table, "accuracy table: bits x clipping x OCS, weights and weights+activations");
  c->add_option("--data", f.data, "--table: labelled data set (calibration and report subsets, disjoint)");
  c->add_option("--report-images", f.report_images, "--table: images accuracy is measured on (default 1000)")
      ->check(positive_count());
  c->add_option("--seed", f.seed, "--table: seed of the subsets' shuffle (default 1)");
  c->add_option("--table-bits", f.bits_list, "--table: bit widths (default 4,5,6,8)");
  c->add_option("--csv", f.csv, "--table: also write the table as CSV");
  c->add_option("--html", f.html, "--table: also write the HTML report section");
  c->callback([] { f.table ? run_table(f) : run_export(f); });
}

}  // namespace eff::cli
