#include "cli/commands.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

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

// Flags several commands share.
struct Common {
  std::string model;
  std::string meta;
  int threads = 0;
  bool json = false;
  bool verbose = false;
  std::string precision_profile;
  std::string thresholds;
  std::string preprocess;
  std::string input_shape;  // "1,3,224,224"
};

struct Inputs {
  std::string data;
  std::string input;
  std::string labels;
};

void add_model_flags(CLI::App* c, Common& o, bool hooks) {
  c->add_option("MODEL", o.model, "ONNX model file")->required();
  c->add_option("--meta", o.meta, "model sidecar JSON (default: MODEL with .json, if present)");
  c->add_option("--threads", o.threads, "worker threads (default: all cores)")->check(CLI::NonNegativeNumber);
  c->add_flag("--json", o.json, "print one JSON document on stdout");
  c->add_option("--preprocess", o.preprocess, "JSON file with a \"preprocessing\" object overriding the sidecar's");
  c->add_option("--input-shape", o.input_shape, "per-image input shape, e.g. 1,3,224,224 (dynamic models)");
  if (hooks) {
    c->add_option("--precision-profile", o.precision_profile, "per-layer fixed-point precisions (docs/value-hooks.md)");
    c->add_option("--thresholds", o.thresholds, "per-layer near-zero pruning thresholds (docs/value-hooks.md)");
  }
}

void add_input_flags(CLI::App* c, Inputs& in) {
  c->add_option("--data", in.data, "data set: fashion-mnist:test, fashion-mnist:train, a folder of images, ...");
  c->add_option("--input", in.input, "preprocessed N x C x H x W float32 .npy (instead of --data)");
  c->add_option("--labels", in.labels, "labels .npy (integers) for --input");
}

Shape parse_shape(const std::string& s) {
  Shape out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string tok = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    try {
      size_t used = 0;
      long long v = std::stoll(tok, &used);
      if (used != tok.size() || v <= 0) throw std::invalid_argument(tok);
      out.push_back(v);
    } catch (const std::exception&) {
      fail<UsageError>("--input-shape: '{}' is not a list of positive integers like 1,3,224,224", s);
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

struct Loaded {
  Model model;
  std::vector<LayerInfo> layers;
  std::map<std::string, LayerTransform> transforms;
  std::unique_ptr<Executor> exec;
};

Loaded load(const Common& o, LayerObserver* observer = nullptr) {
  Loaded l;
  ModelLoadOptions mo;
  mo.meta_path = o.meta;
  l.model = load_model(o.model, mo);
  if (!o.input_shape.empty()) l.model.meta.input_shape = parse_shape(o.input_shape);
  if (!o.preprocess.empty()) {
    ModelMeta pm = load_model_meta(o.preprocess);
    if (pm.preprocessing.is_null()) fail<ConfigError>("{}: no \"preprocessing\" object", o.preprocess);
    l.model.meta.preprocessing = pm.preprocessing;
  }
  l.layers = find_layers(l.model.graph);
  l.transforms = load_layer_transforms(o.precision_profile, o.thresholds, l.layers);
  ExecutorOptions eo;
  eo.threads = o.threads;
  eo.transforms = l.transforms;
  eo.observer = observer;
  l.exec = std::make_unique<Executor>(l.model.graph, eo);
  return l;
}

Preprocess model_preprocess(const Model& m) {
  if (m.meta.preprocessing.is_null()) return Preprocess{};
  return preprocess_from_json(m.meta.preprocessing);
}

std::unique_ptr<Dataset> open_inputs(const Model& m, const Inputs& in) {
  if (!in.data.empty() && !in.input.empty()) fail<UsageError>("give either --data or --input, not both");
  if (!in.input.empty()) return open_npy_dataset(in.input, in.labels);
  if (!in.labels.empty()) fail<UsageError>("--labels goes with --input");
  if (in.data.empty()) fail<UsageError>("give --data SET or --input FILE.npy");
  return open_dataset(in.data, model_preprocess(m));
}

void print_json(const json& j) { std::cout << j.dump(2) << std::endl; }

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
               x.index, x.name.size() > 24 ? x.name.substr(0, 23) + "~" : x.name, x.kind, x.Nx, x.Ny, x.Ni, x.Kx,
               x.Ky, x.Nf, fmt::format("{}x{}", x.stride_y, x.stride_x),
               fmt::format("{},{},{},{}", x.pad_top, x.pad_left, x.pad_bottom, x.pad_right), x.groups,
               fmt::format("{}x{}", x.dilation_y, x.dilation_x), x.macs, x.params);
  }
  fmt::print("total: {} conv/FC layers, {} MACs per image, {} parameters\n", geo.size(), macs, params);
  std::string opsline;
  for (const auto& [k, v] : ops) opsline += fmt::format(" {}x{}", k, v);
  fmt::print("ops:{}\n", opsline);
}

// ---- run -----------------------------------------------------------------------------------

bool has_ext(const std::string& p, std::initializer_list<const char*> exts) {
  std::string e = fs::path(p).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return std::any_of(exts.begin(), exts.end(), [&](const char* x) { return e == x; });
}

Tensor load_input_file(const Model& m, const std::string& path) {
  Shape want = m.input_shape();
  if (has_ext(path, {".npy"})) {
    Tensor t = read_npy(path);
    if (t.dtype() != DType::kFloat32) t = t.cast(DType::kFloat32);
    if (t.rank() + 1 == static_cast<int>(want.size())) {
      Shape s = t.shape();
      s.insert(s.begin(), 1);
      t = t.reshaped(s);
    }
    return t;
  }
  Tensor chw = load_image(path, model_preprocess(m));
  Shape s = chw.shape();
  s.insert(s.begin(), 1);
  return chw.reshaped(s);
}

void cmd_run(const Common& o, const std::vector<std::string>& inputs, const std::string& out_dir, int top) {
  Loaded l = load(o);
  const Graph& g = l.model.graph;
  if (o.verbose) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      fmt::print(stderr, "node {:>3} {:<24} {:<20} {}\n", i, g.nodes[i].name, g.nodes[i].op, l.exec->kernel_impl(i));
    }
  }
  std::vector<std::vector<Tensor>> per_output(g.outputs.size());
  json results = json::array();
  for (const std::string& path : inputs) {
    Tensor x = load_input_file(l.model, path);
    std::vector<Tensor> out = l.exec->run({x});
    for (size_t k = 0; k < out.size(); ++k) per_output[k].push_back(out[k]);
    const Tensor& scores = out.at(0);
    const int64_t n = scores.rank() >= 1 ? scores.dim(0) : 1;
    for (int64_t i = 0; i < n; ++i) {
      auto best = top_k(scores, i, top);
      json r = {{"input", path}, {"index", i}};
      json tk = json::array();
      const int64_t c = scores.numel() / std::max<int64_t>(1, n);
      std::vector<float> v = scores.to_f32_vector();
      for (int64_t k : best) {
        tk.push_back({{"class", k}, {"name", l.model.class_name(k)}, {"score", v[i * c + k]}});
      }
      r["top"] = tk;
      results.push_back(r);
      if (!o.json) {
        std::string line = fmt::format("{}[{}]:", path, i);
        for (int64_t k : best) line += fmt::format("  {} ({}) {:.4f}", l.model.class_name(k), k, v[i * c + k]);
        fmt::print("{}\n", line);
      }
    }
  }
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

void cmd_bench(const Common& o, const std::string& input, int64_t batch, int repeat, int warmup) {
  Loaded l = load(o);
  Tensor x;
  if (!input.empty()) {
    x = load_input_file(l.model, input);
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
  fmt::print("{}: batch {}, {} thread(s), {} runs: latency median {:.3f} ms (min {:.3f}, max {:.3f}), {:.1f} images/s\n",
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
  if (first < 0 || first >= data->size()) fail<UsageError>("--first {} is outside the data set ({} items)", first, data->size());
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
                       {"inputs", {{"source", in.input.empty() ? in.data : in.input},
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
  static std::string out_dir, bench_input, trace_format = "effectual";
  static int top = 3, repeat = 20, warmup = 3;
  static int64_t batch = 1, limit = 0, eval_batch = 64, images = 1, first = 0, trace_batch = 16;

  auto* info = app.add_subcommand("info", "layers with geometry, MACs and parameters; totals");
  add_model_flags(info, common, false);
  info->callback([] { cmd_info(common); });

  auto* run = app.add_subcommand("run", "classify inputs (images or .npy); write outputs with --out");
  add_model_flags(run, common, true);
  run->add_option("INPUT", run_inputs, "image files (PNG/JPEG) or preprocessed .npy tensors")->required();
  run->add_option("--out", out_dir, "write every model output as DIR/<output name>.npy");
  run->add_option("--top", top, "classes to show per input")->check(CLI::PositiveNumber);
  run->add_flag("-v,--verbose", common.verbose, "print the kernel chosen for each node");
  run->callback([] { cmd_run(common, run_inputs, out_dir, top); });

  auto* bench = app.add_subcommand("bench", "latency (median, min, max) and throughput");
  add_model_flags(bench, common, true);
  bench->add_option("--input", bench_input, "input .npy or image (default: deterministic pseudo-random values)");
  bench->add_option("--batch", batch, "batch size")->check(CLI::PositiveNumber);
  bench->add_option("--repeat", repeat, "timed runs")->check(CLI::PositiveNumber);
  bench->add_option("--warmup", warmup, "untimed runs first")->check(CLI::NonNegativeNumber);
  bench->callback([] { cmd_bench(common, bench_input, batch, repeat, warmup); });

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
