#include "cli/common.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>

#include "data/image.h"
#include "data/npy.h"
#include "data/npz.h"
#include "deft/deft_file.h"
#include "deft/deft_model.h"
#include "engine/transform_files.h"
#include "gating/gates.h"
#include "graph/value_shape.h"

namespace eff::cli {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {
CLI::Validator integer_at_least(long long lowest, const std::string& what) {
  return CLI::Validator(
      [lowest, what](std::string& v) -> std::string {
        size_t used = 0;
        long long x = 0;
        try {
          x = std::stoll(v, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != v.size() || x < lowest) return "'" + v + "' is not " + what;
        return {};
      },
      what);
}
}  // namespace

CLI::Validator positive_count() {
  return integer_at_least(1, "a positive integer");
}

CLI::Validator non_negative_count() {
  return integer_at_least(0, "a non-negative integer");
}

void add_model_flags(CLI::App* c, Common& o, bool hooks) {
  c->add_option("MODEL", o.model, "ONNX model file")->required();
  c->add_option("--meta", o.meta, "model sidecar JSON (default: MODEL with .json, if present)");
  c->add_option("--threads", o.threads, "worker threads (default: all cores)")->check(non_negative_count());
  c->add_flag("--json", o.json, "print one JSON document on stdout");
  c->add_option("--preprocess", o.preprocess, "JSON file with a \"preprocessing\" object overriding the sidecar's");
  c->add_option("--input-shape", o.input_shapes,
                "shape of a graph input where no input tensor says it: NAME:1,3,224,224 (or 1,3,224,224 for the "
                "first input); repeat for several inputs");
  if (hooks) {
    c->add_option("--precision-profile", o.precision_profile, "per-layer fixed-point precisions (docs/value-hooks.md)");
    c->add_option("--thresholds", o.thresholds, "per-layer near-zero pruning thresholds (docs/value-hooks.md)");
    c->add_option(
        "--deft", o.deft,
        "run conv/FC layers on DeftNN kernels: FORMAT[,alpha=A][,compensation=none|scale|fold][,layers=all|fc|conv] "
        "(formats fp32, deft16, deft16q, fp8, bf16dot, int8; docs/deft.md)");
    c->add_option(
        "--deft-calibration", o.deft_calibration,
        "calibration data for synapse vector elimination (--deft alpha) and int8's activation ranges: a set, folder, "
        ".npy or .npz, as --data");
    c->add_option("--deft-images", o.deft_images, "calibration images (default 256)")->check(positive_count());
    c->add_option("--gates", o.gates, "run conv layers channel- or precision-gated per a gates file (docs/gating.md)");
  }
}

void add_subset_flags(CLI::App* c, int64_t& search_images, int64_t& report_images, uint64_t& seed) {
  c->add_option("--search-images", search_images, "images of the search subset (seeded shuffle of --data)");
  c->add_option("--report-images", report_images, "images of the report subset, disjoint from the search subset");
  c->add_option("--seed", seed, "seed of the shuffle that draws the subsets");
}

void add_input_flags(CLI::App* c, Inputs& in) {
  c->add_option("--data", in.data, "data set: fashion-mnist:test, fashion-mnist:train, a folder of images, ...");
  c->add_option("--input", in.input,
                "instead of --data: preprocessed N x C x H x W .npy for an image model; else one .npy per model "
                "input (NAME=FILE.npy), any rank, the first dimension counting items");
  c->add_option("--labels", in.labels, "labels .npy (integers, one per item) for --input");
}

Shape parse_shape(const std::string& s) {
  Shape out;
  size_t pos = 0;
  constexpr long long kMaxDim = int64_t{1} << 31;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string tok = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    try {
      size_t used = 0;
      long long v = std::stoll(tok, &used);
      if (used != tok.size() || v <= 0 || v > kMaxDim) throw std::invalid_argument(tok);
      out.push_back(v);
    } catch (const std::exception&) {
      fail<UsageError>("--input-shape: '{}' is not a list of positive integers like 1,3,224,224", s);
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::map<std::string, Shape> parse_input_shapes(const std::vector<std::string>& specs) {
  std::map<std::string, Shape> out;
  for (const std::string& spec : specs) {
    const size_t colon = spec.rfind(':');
    const std::string name = colon == std::string::npos ? "" : spec.substr(0, colon);
    const Shape shape = parse_shape(colon == std::string::npos ? spec : spec.substr(colon + 1));
    if (!out.emplace(name, shape).second) {
      fail<UsageError>("--input-shape: input '{}' is given twice", name.empty() ? "(first)" : name);
    }
  }
  return out;
}

int usable_threads(int requested) {
  const int usable = resolve_threads(0);
  if (requested > usable) {
    static bool said = false;  // once, however many parts of a command ask
    if (!said)
      fmt::print(stderr, "note: --threads {}: this process may run on {} core(s); using {}\n", requested, usable,
                 usable);
    said = true;
    return usable;
  }
  return requested;
}

int64_t items_to_use(const Dataset& data, int64_t first, int64_t requested, const std::string& flag, bool quiet) {
  const int64_t available = std::max<int64_t>(0, data.size() - first);
  if (requested <= 0) return available;
  if (requested > available && !quiet) {
    fmt::print(stderr, "note: {} {}: {} has {} item(s) from index {}; using {}\n", flag, requested, data.name(),
               available, first, available);
  }
  return std::min(requested, available);
}

namespace {
// --deft: the plan made on the fp32 graph, then the model loaded again with the rewrite (kept in
// the load options, so that graphs specialised for input shapes get it too).
void apply_deft_flags(const Common& o, Model& model) {
  const deft::DeftChoice choice = deft::parse_deft_choice(o.deft, "--deft");
  std::unique_ptr<Dataset> calibration;
  if (choice.needs_calibration()) {
    if (o.deft_calibration.empty())
      fail<UsageError>("--deft {} needs --deft-calibration SET", choice.sve() ? "with alpha" : "int8");
    calibration = open_data_source(model, o.deft_calibration, "--deft-calibration");
  }
  auto plan = std::make_shared<const deft::DeftModelPlan>(
      deft::plan_deft(model.graph, choice, calibration.get(), o.deft_images, usable_threads(o.threads)));
  if (!o.json) std::cerr << deft::describe_plan(*plan);
  model.load_options.layer_rewrite = [plan](Graph& g) { deft::apply_deft(g, *plan); };
  model.graph = load_onnx(model.path, model.load_options);
}
// A model written by `effectual optimize`: its sidecar's plan, applied the same way.
void apply_optimized_plan(const Common& o, Model& model) {
  if (!o.deft.empty())
    fail<UsageError>("--deft: {} is already optimized (its sidecar {} holds a DeftNN plan); give the original model",
                     o.model, model.meta.path);
  auto plan = std::make_shared<const deft::DeftModelPlan>(deft::read_optimized_plan(model.meta.deft, model.meta.path));
  model.load_options.layer_rewrite = [plan](Graph& g) { deft::apply_deft(g, *plan); };
  model.graph = load_onnx(model.path, model.load_options);
}
}  // namespace

Loaded load(const Common& o, LayerObserver* observer) {
  Loaded l;
  ModelLoadOptions mo;
  mo.meta_path = o.meta;
  mo.fuse_qdq = !o.float_qdq && o.precision_profile.empty() && o.thresholds.empty();
  l.model = load_model(o.model, mo);
  l.model.shape_overrides = parse_input_shapes(o.input_shapes);
  for (const auto& [name, shape] : l.model.shape_overrides) {
    if (name.empty()) continue;
    const auto& ins = l.model.graph.inputs;
    if (std::none_of(ins.begin(), ins.end(), [&](ValueId v) { return l.model.graph.value(v).name == name; })) {
      fail<UsageError>("--input-shape: {} has no input named '{}'", o.model, name);
    }
  }
  if (!o.preprocess.empty()) {
    ModelMeta pm = load_model_meta(o.preprocess);
    if (pm.preprocessing.is_null()) fail<ConfigError>("{}: no \"preprocessing\" object", o.preprocess);
    l.model.meta.preprocessing = pm.preprocessing;
  }
  // Checked now, naming its file (the first image would otherwise say only "preprocessing: ...").
  if (!l.model.meta.preprocessing.is_null()) {
    preprocess_from_json(l.model.meta.preprocessing,
                         fmt::format("{}: preprocessing", o.preprocess.empty() ? l.model.meta.path : o.preprocess));
  }
  if (!l.model.meta.deft.is_null()) {
    apply_optimized_plan(o, l.model);
  } else if (!o.deft.empty()) {
    apply_deft_flags(o, l.model);
  }
  if (!o.gates.empty()) {
    if (!o.deft.empty() || !l.model.meta.deft.is_null()) {
      fail<UsageError>("--gates and DeftNN layers (--deft or an optimized model) both rewrite conv layers; give one");
    }
    auto plan = std::make_shared<const gating::GatePlan>(gating::read_gates_file(o.gates));
    gating::check_gates(l.model.graph, *plan, o.gates);
    l.model.load_options.layer_rewrite = [plan](Graph& g) { gating::apply_gates(g, *plan); };
    l.model.graph = load_onnx(l.model.path, l.model.load_options);
  }
  l.layers = find_layers(l.model.graph);
  l.transforms = load_layer_transforms(o.precision_profile, o.thresholds, l.layers);
  ExecutorOptions eo;
  eo.threads = usable_threads(o.threads);
  eo.transforms = l.transforms;
  eo.observer = observer;
  eo.specialize = l.model.specializer();
  l.exec = std::make_unique<Executor>(l.model.graph, eo);
  return l;
}

Preprocess model_preprocess(const Model& m) {
  if (m.meta.preprocessing.is_null()) return Preprocess{};
  return preprocess_from_json(m.meta.preprocessing);
}

std::string input_names(const Graph& g) {
  std::string s;
  for (ValueId v : g.inputs) s += (s.empty() ? "" : ", ") + g.value(v).name;
  return s;
}

namespace {
int input_index(const Graph& g, const std::string& name) {
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    if (g.value(g.inputs[i]).name == name) return static_cast<int>(i);
  }
  return -1;
}
}  // namespace

bool takes_images(const Model& m) {
  const Graph& g = m.graph;
  if (g.inputs.size() != 1) return false;
  const Value& v = g.value(g.inputs[0]);
  return !v.has_shape || v.shape.size() == 4;
}

bool names_inputs(const Graph& g, const std::vector<std::string>& args) {
  return std::any_of(args.begin(), args.end(), [&](const std::string& a) {
    const size_t eq = a.find('=');
    return eq != std::string::npos && input_index(g, a.substr(0, eq)) >= 0;
  });
}

std::vector<std::pair<std::string, Tensor>> load_named_inputs(const Model& m, const std::vector<std::string>& args) {
  const Graph& g = m.graph;
  std::vector<std::pair<std::string, Tensor>> out(g.inputs.size());
  for (const std::string& arg : args) {
    const size_t eq = arg.find('=');
    const int k = eq == std::string::npos ? -1 : input_index(g, arg.substr(0, eq));
    if (k < 0) {
      fail<UsageError>("'{}': give every input as NAME=FILE.npy (the model's inputs: {})", arg, input_names(g));
    }
    if (out[k].second.defined()) fail<UsageError>("input '{}' is given twice", arg.substr(0, eq));
    out[k] = {arg, load_input_file(m, arg.substr(eq + 1), static_cast<size_t>(k))};
  }
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    if (!out[k].second.defined()) {
      fail<UsageError>("input '{}' is not given (the model's inputs: {}; give each as NAME=FILE.npy)",
                       g.value(g.inputs[k]).name, input_names(g));
    }
  }
  return out;
}

namespace {

// [lowest, max + 1) of an integer type, exactly as doubles (max + 1 is a power of two; max itself
// is not exact for int64).
template <class T>
std::pair<double, double> integer_range() {
  return {static_cast<double>(std::numeric_limits<T>::lowest()),
          static_cast<double>(std::numeric_limits<T>::max()) + 1.0};
}

// Converting a file's values to an integer input (token ids, indices) must not change them: 3.5 or
// 300 for a uint8 input would silently become another id. ONNX Runtime refuses any other type.
void check_fits_integer_input(const Tensor& t, DType want, const std::string& source, const std::string& name) {
  std::pair<double, double> range;
  switch (want) {
    case DType::kInt64:
      range = integer_range<int64_t>();
      break;
    case DType::kInt32:
      range = integer_range<int32_t>();
      break;
    case DType::kInt16:
      range = integer_range<int16_t>();
      break;
    case DType::kInt8:
      range = integer_range<int8_t>();
      break;
    case DType::kUInt8:
      range = integer_range<uint8_t>();
      break;
    case DType::kBool:
      range = {0.0, 2.0};
      break;
    default:
      return;  // float inputs: converting is rounding, as for float16
  }
  const auto [lo, end_excl] = range;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double x = t.get_f64(i);
    if (!(x >= lo && x < end_excl) || x != std::trunc(x)) {
      fail<DataError>("{}: input '{}' takes {} values; element {} of the file ({}) is {}, which it cannot hold", source,
                      name, dtype_name(want), i, dtype_name(t.dtype()), x);
    }
  }
}

}  // namespace

Tensor fit_input(const Model& m, Tensor t, const std::string& source, size_t input, bool single_item) {
  const Value& v = m.graph.value(m.graph.inputs.at(input));
  const Shape given = t.shape();
  const DType want = v.has_type ? v.dtype : DType::kFloat32;
  if (t.dtype() != want) {
    check_fits_integer_input(t, want, source, v.name);
    t = t.cast(want);
  }
  if (single_item && v.has_shape && t.rank() + 1 == static_cast<int>(v.shape.size())) {
    Shape s = t.shape();
    s.insert(s.begin(), 1);
    t = t.reshaped(s);
  }
  if (!shape_admits(v, t.shape())) {
    fail<ShapeError>("{}: input '{}' expects shape {}, got {}", source, v.name, declared_shape_text(v),
                     shape_str(given));
  }
  return t;
}

std::unique_ptr<Dataset> open_npz_inputs(const Model& m, const std::string& path) {
  const Graph& g = m.graph;
  std::vector<std::pair<std::string, Tensor>> ordered(g.inputs.size());
  Tensor labels;
  std::string arrays;
  for (auto& [name, t] : read_npz(path)) {
    arrays += (arrays.empty() ? "" : ", ") + name;
    const int k = input_index(g, name);
    if (k < 0 && name == "labels") {
      labels = std::move(t);
      continue;
    }
    if (k < 0) {
      fail<DataError>("{}: array '{}' is not a model input (the model's inputs: {}; labels go in an array 'labels')",
                      path, name, input_names(g));
    }
    const std::string source = path + ": array '" + name + "'";
    ordered[k] = {source, fit_input(m, std::move(t), source, static_cast<size_t>(k), false)};
  }
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    if (!ordered[k].second.defined()) {
      fail<DataError>("{}: no array '{}' for the model's input of that name (the archive holds: {})", path,
                      g.value(g.inputs[k]).name, arrays);
    }
  }
  return open_tensor_dataset(std::move(ordered), labels, path + ": array 'labels'");
}

std::unique_ptr<Dataset> open_inputs(const Model& m, const Inputs& in) {
  const Graph& g = m.graph;
  if (!in.data.empty() && !in.input.empty()) fail<UsageError>("give either --data or --input, not both");
  if (!in.input.empty()) {
    if (names_inputs(g, in.input)) return open_tensor_dataset(load_named_inputs(m, in.input), in.labels);
    if (g.inputs.size() != 1) {
      fail<UsageError>("the model has {} inputs ({}); give each as --input NAME=FILE.npy", g.inputs.size(),
                       input_names(g));
    }
    if (in.input.size() > 1) fail<UsageError>("--input is given {} times for the model's one input", in.input.size());
    if (takes_images(m)) return open_npy_dataset(in.input[0], in.labels);
    return open_tensor_dataset({{in.input[0], load_input_file(m, in.input[0])}}, in.labels);
  }
  if (!in.labels.empty()) fail<UsageError>("--labels goes with --input");
  if (in.data.empty()) fail<UsageError>("give --data SET or --input FILE.npy");
  return open_data_source(m, in.data, "--data");
}

std::unique_ptr<Dataset> open_data_source(const Model& m, const std::string& path, const std::string& flag) {
  const Graph& g = m.graph;
  if (has_ext(path, {".npz"})) return open_npz_inputs(m, path);
  if (g.inputs.size() != 1) {
    fail<UsageError>("the model has {} inputs ({}); {} feeds one; give {}all in {} FILE.npz", g.inputs.size(),
                     input_names(g), flag, flag == "--data" ? "each as --input NAME=FILE.npy or " : "", flag);
  }
  return open_dataset(path, model_preprocess(m));
}

std::string inputs_source(const Inputs& in) {
  if (!in.data.empty()) return in.data;
  std::string s;
  for (const std::string& f : in.input) s += (s.empty() ? "" : " ") + f;
  return s;
}

void print_json(const json& j) {
  std::cout << j.dump(2) << std::endl;
}

bool has_ext(const std::string& p, std::initializer_list<const char*> exts) {
  std::string e = fs::path(p).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return std::any_of(exts.begin(), exts.end(), [&](const char* x) { return e == x; });
}

Tensor load_input_file(const Model& m, const std::string& path, size_t input) {
  if (has_ext(path, {".npy"})) return fit_input(m, read_npy(path), path, input, true);
  Tensor chw = load_image(path, model_preprocess(m));
  Shape s = chw.shape();
  s.insert(s.begin(), 1);
  return chw.reshaped(s);
}

}  // namespace eff::cli
