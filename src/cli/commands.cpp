#include "cli/commands.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "core/fs.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/npy.h"
#include "engine/evaluate.h"
#include "engine/executor.h"
#include "engine/geometry.h"
#include "engine/model.h"
#include "engine/transform_files.h"
#include "report/trace_writer.h"

namespace eff::cli {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// ---- info ----------------------------------------------------------------------------------

void cmd_info(const Common& o) {
  Loaded l = load(o);
  const Graph& g = l.model.graph;
  std::vector<LayerGeometry> geo = model_geometry(*l.exec, l.model.input_shape());
  int64_t macs = 0, params = 0;
  for (const auto& x : geo) {
    macs += x.macs;
    params += x.params;
  }
  std::map<std::string, int> ops;
  for (const Node& n : g.nodes) ops[n.op]++;
  json j;
  j["model"] = o.model;
  j["name"] = l.model.meta.name;
  j["opset"] = g.opset;
  j["producer"] = g.producer;
  j["nodes"] = g.nodes.size();
  j["ops"] = ops;
  j["input_shape"] = l.model.input_shape();
  json ins = json::array(), outs = json::array();
  for (ValueId v : g.inputs) ins.push_back({{"name", g.value(v).name}, {"shape", g.value(v).shape}});
  for (ValueId v : g.outputs) outs.push_back({{"name", g.value(v).name}});
  j["inputs"] = ins;
  j["outputs"] = outs;
  j["layers"] = geo;
  j["totals"] = {{"layers", geo.size()}, {"macs", macs}, {"params", params}};
  if (l.model.meta.test_accuracy_top1) j["test_accuracy_top1"] = *l.model.meta.test_accuracy_top1;
  if (o.json) return print_json(j);

  fmt::print("{} ({}): opset {}, {} nodes after passes, producer {}\n", l.model.meta.name, o.model, g.opset,
             g.nodes.size(), g.producer.empty() ? "?" : g.producer);
  fmt::print("input {}  ->  {} output(s)\n", shape_str(l.model.input_shape()), g.outputs.size());
  fmt::print("{:>3} {:<24} {:<6} {:>5} {:>5} {:>5} {:>3} {:>3} {:>5} {:>6} {:>9} {:>3} {:>4} {:>12} {:>10}\n", "#",
             "layer", "type", "Nx", "Ny", "Ni", "Kx", "Ky", "Nf", "stride", "pad", "grp", "dil", "MACs", "params");
  for (const auto& x : geo) {
    fmt::print("{:>3} {:<24} {:<6} {:>5} {:>5} {:>5} {:>3} {:>3} {:>5} {:>6} {:>9} {:>3} {:>4} {:>12} {:>10}\n",
               x.index, x.name.size() > 24 ? x.name.substr(0, 23) + "~" : x.name, x.kind, x.Nx, x.Ny, x.Ni, x.Kx, x.Ky,
               x.Nf, fmt::format("{}x{}", x.stride_y, x.stride_x),
               fmt::format("{},{},{},{}", x.pad_top, x.pad_left, x.pad_bottom, x.pad_right), x.groups,
               fmt::format("{}x{}", x.dilation_y, x.dilation_x), x.macs, x.params);
  }
  fmt::print("total: {} conv/FC layers, {} MACs per image, {} parameters\n", geo.size(), macs, params);
  std::string opsline;
  for (const auto& [k, v] : ops) opsline += fmt::format(" {}x{}", k, v);
  fmt::print("ops:{}\n", opsline);
}

// ---- run -----------------------------------------------------------------------------------

// One batch of inputs to classify: where it came from, the tensor, and labels if known.
struct RunItem {
  std::string source;        // file name or data set name
  int64_t first_index = -1;  // for a data set batch: the index of its first item
  Tensor x;
  Tensor labels;  // int64 [N] or undefined
};

std::vector<RunItem> gather_run_inputs(const Model& m, const std::vector<std::string>& files, const Inputs& in,
                                       int64_t limit, int64_t first) {
  std::vector<RunItem> items;
  for (const std::string& path : files) items.push_back({path, -1, load_input_file(m, path), Tensor()});
  if (!in.data.empty() || !in.input.empty()) {
    auto data = open_inputs(m, in);
    if (first > data->size()) {
      fail<UsageError>("--first {} is past the end of {} ({} items)", first, data->name(), data->size());
    }
    const int64_t end = limit > 0 ? std::min(data->size(), first + limit) : data->size();
    constexpr int64_t kBatch = 64;
    for (int64_t b = first; b < end; b += kBatch) {
      const int64_t n = std::min(kBatch, end - b);
      items.push_back({data->name(), b, data->images(b, n), data->has_labels() ? data->labels(b, n) : Tensor()});
    }
  } else if (!in.labels.empty()) {
    fail<UsageError>("--labels goes with --input");
  }
  if (items.empty()) fail<UsageError>("nothing to run: give INPUT files, --data SET or --input FILE.npy");
  return items;
}

void cmd_run(const Common& o, const std::vector<std::string>& files, const Inputs& in, int64_t limit, int64_t first,
             const std::string& out_dir, int top) {
  Loaded l = load(o);
  const Graph& g = l.model.graph;
  if (o.verbose) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      fmt::print(stderr, "node {:>3} {:<24} {:<20} {}\n", i, g.nodes[i].name, g.nodes[i].op, l.exec->kernel_impl(i));
    }
  }
  std::vector<std::vector<Tensor>> per_output(g.outputs.size());
  json results = json::array();
  int64_t labelled = 0, correct = 0;
  for (const RunItem& item : gather_run_inputs(l.model, files, in, limit, first)) {
    std::vector<Tensor> out = l.exec->run({item.x});
    for (size_t k = 0; k < out.size(); ++k) per_output[k].push_back(out[k]);
    const Tensor& scores = out.at(0);
    const int64_t n = scores.rank() >= 1 ? scores.dim(0) : 1;
    const int64_t c = scores.numel() / std::max<int64_t>(1, n);
    std::vector<float> v = scores.to_f32_vector();
    for (int64_t i = 0; i < n; ++i) {
      auto best = top_k(scores, i, top);
      json r = {{"input", item.source}, {"index", item.first_index >= 0 ? item.first_index + i : i}};
      json tk = json::array();
      for (int64_t k : best) {
        tk.push_back({{"class", k}, {"name", l.model.class_name(k)}, {"score", v[i * c + k]}});
      }
      r["top"] = tk;
      std::string line = item.first_index >= 0 ? fmt::format("{}#{}:", item.source, item.first_index + i)
                                               : fmt::format("{}[{}]:", item.source, i);
      for (int64_t k : best) line += fmt::format("  {} ({}) {:.4f}", l.model.class_name(k), k, v[i * c + k]);
      if (item.labels.defined()) {
        const int64_t label = item.labels.data<int64_t>()[i];
        r["label"] = label;
        ++labelled;
        if (!best.empty() && best[0] == label) ++correct;
        line += fmt::format("   [label: {}{}]", l.model.class_name(label),
                            !best.empty() && best[0] == label ? "" : ", wrong");
      }
      results.push_back(r);
      if (!o.json) fmt::print("{}\n", line);
    }
  }
  if (labelled > 0 && !o.json) fmt::print("top-1 on the {} labelled input(s): {}/{}\n", labelled, correct, labelled);
  json written = json::array();
  if (!out_dir.empty()) {
    make_dirs(out_dir);
    for (size_t k = 0; k < g.outputs.size(); ++k) {
      std::string file = out_dir + "/" + safe_file_name(g.value(g.outputs[k]).name) + ".npy";
      write_npy(file, concat_batches(per_output[k]));
      written.push_back(file);
      if (!o.json) fmt::print("wrote {}\n", file);
    }
  }
  if (o.json) print_json({{"model", o.model}, {"results", results}, {"outputs_written", written}});
}

// ---- bench ---------------------------------------------------------------------------------

void cmd_bench(const Common& o, const std::string& input, const std::string& data_spec, int64_t batch, int repeat,
               int warmup) {
  Loaded l = load(o);
  Tensor x;
  if (!input.empty() && !data_spec.empty()) fail<UsageError>("give either --data or --input, not both");
  if (!data_spec.empty()) {
    auto data = open_dataset(data_spec, model_preprocess(l.model));
    if (data->size() < 1) fail<DataError>("{}: the data set is empty", data->name());
    x = data->images(0, std::min(batch, data->size()));
  } else if (!input.empty()) {
    x = load_input_file(l.model, input);
  }
  if (x.defined()) {
    if (batch > 1 && x.dim(0) != batch) {
      // Tile the given images up to the batch size.
      Shape s = x.shape();
      const int64_t per = x.numel() / x.dim(0);
      s[0] = batch;
      Tensor b(DType::kFloat32, s);
      for (int64_t i = 0; i < batch; ++i) {
        std::copy_n(x.data<float>() + (i % x.dim(0)) * per, per, b.data<float>() + i * per);
      }
      x = b;
    }
  } else {
    Shape s = l.model.input_shape();
    s[0] = batch;
    x = Tensor(DType::kFloat32, s);
    // Deterministic non-trivial values so that ReLU layers see a realistic mix of zeros.
    float* d = x.data<float>();
    uint32_t state = 12345;
    for (int64_t i = 0; i < x.numel(); ++i) {
      state = state * 1664525u + 1013904223u;
      d[i] = static_cast<float>(state >> 8) / static_cast<float>(1u << 24) * 2.0f - 1.0f;
    }
  }
  LatencyStats s = measure_latency(*l.exec, x, repeat, warmup);
  json j = {{"model", o.model},
            {"batch", s.batch},
            {"threads", l.exec->threads()},
            {"repeat", s.repeat},
            {"latency_ms", {{"median", s.median_ms}, {"min", s.min_ms}, {"max", s.max_ms}}},
            {"throughput_per_s", s.throughput_per_s}};
  if (o.json) return print_json(j);
  fmt::print(
      "{}: batch {}, {} thread(s), {} runs: latency median {:.3f} ms (min {:.3f}, max {:.3f}), {:.1f} images/s\n",
      o.model, s.batch, l.exec->threads(), s.repeat, s.median_ms, s.min_ms, s.max_ms, s.throughput_per_s);
}

// ---- eval ----------------------------------------------------------------------------------

void cmd_eval(const Common& o, const Inputs& in, int64_t limit, int64_t batch, int64_t first) {
  Loaded l = load(o);
  auto data = open_inputs(l.model, in);
  EvalOptions eo;
  eo.limit = limit;
  eo.batch = batch;
  eo.first = first;
  EvalResult r = evaluate(*l.exec, *data, eo);
  json j = {{"model", o.model},
            {"data", data->name()},
            {"images", r.count},
            {"top1", r.top1()},
            {"top5", r.top5()},
            {"images_per_s", r.seconds > 0 ? r.count / r.seconds : 0.0},
            {"threads", l.exec->threads()},
            {"transforms", l.transforms.size()}};
  if (o.json) return print_json(j);
  fmt::print("{} on {}: {} images, top-1 {:.2f}%, top-5 {:.2f}%, {:.0f} images/s\n", l.model.meta.name, data->name(),
             r.count, 100 * r.top1(), 100 * r.top5(), r.seconds > 0 ? r.count / r.seconds : 0.0);
}

// ---- trace ---------------------------------------------------------------------------------

void cmd_trace(const Common& o, const Inputs& in, int64_t images, int64_t first, const std::string& out_dir,
               const std::string& format, int64_t batch) {
  if (format != "effectual" && format != "dnnsim" && format != "both") {
    fail<UsageError>("--format must be effectual, dnnsim or both (got '{}')", format);
  }
  if (images < 1) fail<UsageError>("--images must be at least 1");
  TraceRecorder rec;
  Loaded l = load(o);
  std::vector<LayerGeometry> geo = model_geometry(*l.exec, l.model.input_shape());
  auto data = open_inputs(l.model, in);
  if (first < 0 || first >= data->size())
    fail<UsageError>("--first {} is outside the data set ({} items)", first, data->size());
  const int64_t end = std::min(data->size(), first + images);
  l.exec->set_observer(&rec);
  json labels = json::array();
  for (int64_t b = first; b < end; b += batch) {
    const int64_t n = std::min(batch, end - b);
    Tensor x = data->images(b, n);
    Tensor y = data->labels(b, n);
    if (y.defined()) {
      for (int64_t i = 0; i < n; ++i) labels.push_back(y.get_i64(i));
    }
    l.exec->run({x});
  }
  l.exec->set_observer(nullptr);
  TraceWriteOptions wo;
  wo.dir = out_dir;
  wo.effectual_layout = format != "dnnsim";
  wo.dnnsim_layout = format != "effectual";
  wo.manifest_extra = {{"model", {{"path", o.model}, {"name", l.model.meta.name}}},
                       {"inputs",
                        {{"source", in.input.empty() ? in.data : in.input},
                         {"first", first},
                         {"count", end - first},
                         {"labels", labels}}},
                       {"precision_profile", o.precision_profile},
                       {"thresholds", o.thresholds}};
  json m = write_trace(wo, geo, l.layers, l.transforms, rec);
  if (o.json) return print_json({{"dir", out_dir}, {"layers", m["layers"].size()}, {"images", end - first}});
  fmt::print("wrote a trace of {} layer(s) for {} image(s) to {}\n", m["layers"].size(), end - first, out_dir);
}

}  // namespace

void register_commands(CLI::App& app) {
  // Options live as long as the app; callbacks run after parsing.
  static Common common;
  static Inputs inputs;
  static std::vector<std::string> run_inputs;
  static std::string out_dir, bench_input, bench_data, trace_format = "effectual";
  static int top = 3, repeat = 20, warmup = 3;
  static int64_t run_limit = 10;
  static int64_t batch = 1, limit = 0, eval_batch = 64, images = 1, first = 0, trace_batch = 16;

  auto* info = app.add_subcommand("info", "layers with geometry, MACs and parameters; totals");
  add_model_flags(info, common, false);
  info->callback([] { cmd_info(common); });

  auto* run = app.add_subcommand("run", "classify inputs (images or .npy); write outputs with --out");
  add_model_flags(run, common, true);
  run->add_option("INPUT", run_inputs, "image files (PNG/JPEG) or preprocessed .npy tensors");
  add_input_flags(run, inputs);
  run->add_option("--limit", run_limit, "with --data/--input: run at most N items (0: all)")
      ->check(CLI::NonNegativeNumber);
  run->add_option("--first", first, "with --data/--input: index of the first item")->check(CLI::NonNegativeNumber);
  run->add_option("--out", out_dir, "write every model output as DIR/<output name>.npy");
  run->add_option("--top", top, "classes to show per input")->check(CLI::PositiveNumber);
  run->add_flag("-v,--verbose", common.verbose, "print the kernel chosen for each node");
  run->callback([] { cmd_run(common, run_inputs, inputs, run_limit, first, out_dir, top); });

  auto* bench = app.add_subcommand("bench", "latency (median, min, max) and throughput");
  add_model_flags(bench, common, true);
  bench->add_option("--input", bench_input, "input .npy or image (default: deterministic pseudo-random values)");
  bench->add_option("--data", bench_data, "take the batch from the start of this data set instead");
  bench->add_option("--batch", batch, "batch size")->check(CLI::PositiveNumber);
  bench->add_option("--repeat", repeat, "timed runs")->check(CLI::PositiveNumber);
  bench->add_option("--warmup", warmup, "untimed runs first")->check(CLI::NonNegativeNumber);
  bench->callback([] { cmd_bench(common, bench_input, bench_data, batch, repeat, warmup); });

  auto* eval = app.add_subcommand("eval", "top-1 / top-5 accuracy on labelled data");
  add_model_flags(eval, common, true);
  add_input_flags(eval, inputs);
  eval->add_option("--limit", limit, "evaluate at most N images (0: all)")->check(CLI::NonNegativeNumber);
  eval->add_option("--first", first, "index of the first image")->check(CLI::NonNegativeNumber);
  eval->add_option("--batch", eval_batch, "batch size")->check(CLI::PositiveNumber);
  eval->callback([] { cmd_eval(common, inputs, limit, eval_batch, first); });

  auto* trace = app.add_subcommand("trace", "per conv/FC layer inputs, weights and outputs as .npy + manifest.json");
  add_model_flags(trace, common, true);
  add_input_flags(trace, inputs);
  trace->add_option("--images", images, "number of images")->check(CLI::PositiveNumber);
  trace->add_option("--first", first, "index of the first image")->check(CLI::NonNegativeNumber);
  trace->add_option("--out", out_dir, "output directory")->required();
  trace->add_option("--format", trace_format, "effectual, dnnsim or both");
  trace->add_option("--batch", trace_batch, "images per inference")->check(CLI::PositiveNumber);
  trace->callback([] { cmd_trace(common, inputs, images, first, out_dir, trace_format, trace_batch); });
}

}  // namespace eff::cli
