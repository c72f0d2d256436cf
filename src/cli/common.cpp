#include "cli/common.h"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "data/image.h"
#include "data/npy.h"
#include "engine/transform_files.h"

namespace eff::cli {

using nlohmann::json;
namespace fs = std::filesystem;

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

Loaded load(const Common& o, LayerObserver* observer) {
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

void print_json(const json& j) {
  std::cout << j.dump(2) << std::endl;
}

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

}  // namespace eff::cli
