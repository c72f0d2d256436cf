#include "cli/commands.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "api/bench.h"
#include "api/commands.h"
#include "cli/common.h"
#include "core/fs.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/npy.h"
#include "engine/evaluate.h"
#include "engine/executor.h"
#include "engine/geometry.h"
#include "engine/model.h"
#include "engine/non_finite.h"
#include "engine/quantized_layers.h"
#include "engine/transform_files.h"
#include "report/trace_writer.h"

namespace eff::cli {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// ---- info ----------------------------------------------------------------------------------

// A size the input decides (null in info's JSON) prints as "?".
std::string size_text(const json& v) {
  return v.is_null() ? "?" : std::to_string(v.get<int64_t>());
}

void cmd_info(const Common& o) {
  Loaded l = load(o);
  const Graph& g = l.model.graph;
  const json j = api::info(l, o);
  if (o.json) return print_json(j);
  const bool sized = !j.contains("sizes_unknown");
  const auto ops = j["ops"].get<std::map<std::string, int>>();

  fmt::print("{} ({}): opset {}, {} nodes after passes, producer {}\n", l.model.meta.name, o.model, g.opset,
             g.nodes.size(), g.producer.empty() ? "?" : g.producer);
  std::string example;  // an --input-shape value to suggest, from the first input's declared dims
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const Value& v = g.value(g.inputs[i]);
    std::string declared, suggested;
    for (size_t d = 0; d < v.shape.size(); ++d) {
      const std::string name = v.dim_names.size() > d && !v.dim_names[d].empty() ? v.dim_names[d] : "?";
      declared += (d ? "," : "") + (v.shape[d] >= 0 ? std::to_string(v.shape[d]) : name);
      // An image's H and W by those letters, other dims by their symbolic name (or D<index>).
      const bool image = v.shape.size() == 4;
      const bool named = name != "?" && name.find('.') == std::string::npos;
      suggested += (d ? "," : "") + (v.shape[d] >= 0   ? std::to_string(v.shape[d])
                                     : d == 0          ? std::string("1")
                                     : image && d == 2 ? std::string("H")
                                     : image && d == 3 ? std::string("W")
                                     : named           ? name
                                                       : std::string("D") + std::to_string(d));
    }
    if (!v.has_shape) declared = "no declared shape";
    if (i == 0) example = fmt::format("{}:{}", v.name, v.has_shape ? suggested : "1,3,H,W");
    fmt::print("input '{}' {} [{}]: {}\n", v.name, dtype_name(v.dtype), declared,
               sized ? "geometry for " + shape_str(j["inputs"][i]["shape"].get<Shape>())
                     : std::string("sizes depend on the input"));
  }
  fmt::print("{} output(s)\n", g.outputs.size());
  fmt::print("{:>3} {:<24} {:<6} {:>5} {:>5} {:>5} {:>3} {:>3} {:>5} {:>6} {:>9} {:>3} {:>4} {:>12} {:>10}\n", "#",
             "layer", "type", "Nx", "Ny", "Ni", "Kx", "Ky", "Nf", "stride", "pad", "grp", "dil", "MACs", "params");
  for (const json& x : j["layers"]) {
    const std::string name = x["name"];
    const auto stride = x["stride"].get<std::vector<int64_t>>(), pad = x["pad"].get<std::vector<int64_t>>(),
               dil = x["dilation"].get<std::vector<int64_t>>();
    fmt::print("{:>3} {:<24} {:<6} {:>5} {:>5} {:>5} {:>3} {:>3} {:>5} {:>6} {:>9} {:>3} {:>4} {:>12} {:>10}\n",
               x["index"].get<int>(), name.size() > 24 ? name.substr(0, 23) + "~" : name, x["kind"].get<std::string>(),
               size_text(x["Nx"]), size_text(x["Ny"]), size_text(x["Ni"]), x["Kx"].get<int64_t>(),
               x["Ky"].get<int64_t>(), size_text(x["Nf"]), fmt::format("{}x{}", stride[0], stride[1]),
               fmt::format("{},{},{},{}", pad[0], pad[1], pad[2], pad[3]), x["groups"].get<int64_t>(),
               fmt::format("{}x{}", dil[0], dil[1]), size_text(x["macs"]), x["params"].get<int64_t>());
  }
  const int64_t params = j["totals"]["params"];
  if (sized) {
    fmt::print("total: {} conv/FC layers, {} MACs per image, {} parameters\n", j["layers"].size(),
               j["totals"]["macs"].get<int64_t>(), params);
  } else {
    fmt::print("total: {} conv/FC layers, MACs depend on the input size (?), {} parameters\n", j["layers"].size(),
               params);
    fmt::print("hint: for sizes and MACs give the input's size, e.g. --input-shape {}\n", example);
  }
  std::string opsline;
  for (const auto& [k, v] : ops) opsline += fmt::format(" {}x{}", k, v);
  fmt::print("ops:{}\n", opsline);
}

// ---- bench ---------------------------------------------------------------------------------

void cmd_bench(const Common& o, const std::vector<std::string>& input_args, const std::string& data_spec, int64_t batch,
               int repeat, int warmup, bool per_layer, double max_seconds, const std::string& runs_out) {
  Loaded l = load(o);
  const Graph& g = l.model.graph;
  std::vector<std::pair<std::string, Tensor>> given;  // graph-input order, from the first input on
  std::string repeated_note;                          // printed once bench has accepted the batch
  if (!input_args.empty() && !data_spec.empty()) fail<UsageError>("give either --data or --input, not both");
  if (!data_spec.empty()) {
    // Every input the data set gives (Dataset::inputs); a model input it does not feed is refused
    // as in the other commands, not filled with generated values behind the user's back.
    Inputs in;
    in.data = data_spec;
    auto data = open_inputs(l.model, in);
    if (data->size() < 1) fail<DataError>("{}: the data set is empty", data->name());
    if (data->input_count() != g.inputs.size()) {
      fail<UsageError>("{} gives {} input(s) for the model's {} ({}); give each as --input NAME=FILE.npy", data->name(),
                       data->input_count(), g.inputs.size(), input_names(g));
    }
    if (batch > data->size()) {
      repeated_note = fmt::format("note: --batch {}: {} has {} item(s); they are repeated to fill the batch\n", batch,
                                  data->name(), data->size());
    }
    for (Tensor& t : data->inputs(0, std::min(std::max<int64_t>(batch, 1), data->size()))) {
      given.emplace_back(data->name(), std::move(t));
    }
  } else if (names_inputs(g, input_args)) {
    given = load_named_inputs(l.model, input_args);
  } else if (input_args.size() > 1) {
    fail<UsageError>("--input is given {} times; the model's inputs ({}) take NAME=FILE.npy each", input_args.size(),
                     input_names(g));
  } else if (!input_args.empty()) {
    given.emplace_back(input_args[0], load_input_file(l.model, input_args[0]));
  }
  api::BenchOptions a;
  a.batch = batch;
  a.repeat = repeat;
  a.warmup = warmup;
  a.per_layer = per_layer;
  a.max_seconds = max_seconds;
  a.runs_out = runs_out;
  const api::Output out = api::bench(l, o, std::move(given), a);
  if (o.json) return print_json(out.doc);
  fmt::print(stderr, "{}", repeated_note);
  fmt::print("{}", out.text);
}

// ---- eval ----------------------------------------------------------------------------------

void cmd_eval(const Common& o, const Inputs& in, int64_t limit, int64_t batch, int64_t first) {
  api::EvalOptions a;
  a.limit = limit;
  a.batch = batch;
  a.first = first;
  a.check();
  Loaded l = load(o);
  auto data = open_inputs(l.model, in);
  const json j = api::evaluate(l, o, {*data, inputs_source(in)}, a);
  if (o.json) return print_json(j);
  auto counts = [](const json& c) { return NonFinite{c["nan"].get<int64_t>(), c["inf"].get<int64_t>()}; };
  const json& nf = j["non_finite"];
  if (counts(nf["inputs"]).any()) fmt::print(stderr, "warning: the inputs hold {}\n", to_string(counts(nf["inputs"])));
  for (const json& e : nf["layers"]) {
    fmt::print(stderr, "warning: layer '{}' outputs hold {}\n", e["layer"].get<std::string>(), to_string(counts(e)));
  }
  if (counts(nf["scores"]).any()) {
    fmt::print(stderr, "warning: the class scores hold {} (those images count as wrong)\n",
               to_string(counts(nf["scores"])));
  }
  fmt::print("{} on {}: {} images, top-1 {:.2f}%, top-5 {:.2f}%, {:.0f} images/s\n", l.model.meta.name, data->name(),
             j["images"].get<int64_t>(), 100 * j["top1"].get<double>(), 100 * j["top5"].get<double>(),
             j["images_per_s"].get<double>());
}

// ---- trace ---------------------------------------------------------------------------------

void cmd_trace(const Common& o, const Inputs& in, int64_t images, int64_t first, const std::string& out_dir,
               const std::string& format, int64_t batch) {
  api::TraceOptions a;
  a.out = out_dir;
  a.images = images;
  a.first = first;
  a.batch = batch;
  a.format = format;
  a.check(o);
  Loaded l = load(o);
  auto data = open_inputs(l.model, in);
  const json m = api::trace(l, o, {*data, inputs_source(in)}, a);
  if (o.json) return print_json(m);
  fmt::print("wrote a trace of {} layer(s) for {} image(s) to {}\n", m["layers"].get<size_t>(),
             m["images"].get<int64_t>(), out_dir);
}

}  // namespace

void register_commands(CLI::App& app) {
  // Options live as long as the app; callbacks run after parsing.
  static Common common;
  static Inputs inputs;
  static std::string out_dir, bench_data, trace_format = "effectual";
  static std::vector<std::string> bench_inputs;
  static int repeat = 20, warmup = 3;
  static int64_t batch = 0, limit = 0, eval_batch = 64, images = 1, first = 0, trace_batch = 16;

  auto* info = app.add_subcommand("info", "layers with geometry, MACs and parameters; totals");
  add_model_flags(info, common, false);
  info->callback([] { cmd_info(common); });

  auto* bench = app.add_subcommand("bench", "latency (median, min, max) and throughput");
  add_model_flags(bench, common, true);
  bench->add_option("--input", bench_inputs,
                    "input .npy or image, or NAME=FILE.npy per model input (default: deterministic pseudo-random "
                    "values)");
  bench->add_option("--data", bench_data, "take the batch from the start of this data set instead");
  bench->add_option("--batch", batch, "batch size: the input tiled or cut to this many rows (default: its rows, or 1)")
      ->check(positive_count());
  bench->add_option("--repeat", repeat, "timed runs")->check(positive_count());
  bench->add_option("--warmup", warmup, "untimed runs first")->check(non_negative_count());
  static bool per_layer = false;
  static double max_seconds = 60;
  bench->add_option("--max-seconds", max_seconds, "stop timing after this long (0: no limit)")
      ->check(CLI::Range(0.0, 1e6));
  bench->add_flag("--per-layer", per_layer, "time every node too: its share of an inference, slowest first");
  static std::string runs_out;
  bench->add_option("--runs-out", runs_out,
                    "write every timed run (ms, threads, page faults, context switches) to this CSV file");
  bench->callback(
      [] { cmd_bench(common, bench_inputs, bench_data, batch, repeat, warmup, per_layer, max_seconds, runs_out); });

  auto* eval = app.add_subcommand("eval", "top-1 / top-5 accuracy on labelled data");
  add_model_flags(eval, common, true);
  add_input_flags(eval, inputs);
  eval->add_option("--limit", limit, "evaluate at most N images (0: all)")->check(non_negative_count());
  eval->add_option("--first", first, "index of the first image")->check(non_negative_count());
  eval->add_option("--batch", eval_batch, "batch size")->check(positive_count());
  eval->callback([] { cmd_eval(common, inputs, limit, eval_batch, first); });

  auto* trace = app.add_subcommand("trace", "per conv/FC layer inputs, weights and outputs as .npy + manifest.json");
  add_model_flags(trace, common, true);
  add_input_flags(trace, inputs);
  trace->add_option("--images", images, "number of images")->check(positive_count());
  trace->add_option("--first", first, "index of the first image")->check(non_negative_count());
  trace->add_option("--out", out_dir, "output directory")->required();
  trace->add_option("--format", trace_format, "effectual, dnnsim or both");
  trace->add_option("--batch", trace_batch, "images per inference")->check(positive_count());
  trace->callback([] { cmd_trace(common, inputs, images, first, out_dir, trace_format, trace_batch); });
}

}  // namespace eff::cli
