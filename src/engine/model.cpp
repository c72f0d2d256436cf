#include "engine/model.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "onnx/loader.h"

namespace eff {

namespace fs = std::filesystem;
using nlohmann::json;

ModelMeta load_model_meta(const std::string& path) {
  ModelMeta m;
  m.path = path;
  std::ifstream f(path);
  if (!f) fail<ConfigError>("{}: cannot open model metadata file", path);
  json j;
  try {
    f >> j;
  } catch (const json::exception& e) {
    fail<ConfigError>("{}: not valid JSON ({})", path, e.what());
  }
  if (!j.is_object()) fail<ConfigError>("{}: expected a JSON object", path);
  try {
    if (j.contains("name")) m.name = j["name"].get<std::string>();
    if (j.contains("classes")) m.classes = j["classes"].get<std::vector<std::string>>();
    if (j.contains("preprocessing")) m.preprocessing = j["preprocessing"];
    if (j.contains("input_shape")) m.input_shape = j["input_shape"].get<Shape>();
    if (j.contains("test_accuracy_top1")) m.test_accuracy_top1 = j["test_accuracy_top1"].get<double>();
  } catch (const json::exception& e) {
    fail<ConfigError>("{}: {}", path, e.what());
  }
  return m;
}

Model load_model(const std::string& path, const ModelLoadOptions& opts) {
  Model m;
  m.path = path;
  LoadOptions lo;
  lo.fuse_activations = opts.fuse_activations;
  m.graph = load_onnx(path, lo);
  std::string meta = opts.meta_path;
  if (meta.empty()) {
    fs::path p(path);
    fs::path side = p;
    side.replace_extension(".json");
    std::error_code ec;
    if (fs::exists(side, ec)) meta = side.string();
  }
  if (!meta.empty()) m.meta = load_model_meta(meta);
  if (m.meta.name.empty()) m.meta.name = fs::path(path).stem().string();
  return m;
}

Shape Model::input_shape() const {
  if (!meta.input_shape.empty()) return meta.input_shape;
  if (graph.inputs.empty()) fail<ModelError>("{}: the model has no inputs", graph.source);
  const Value& v = graph.value(graph.inputs[0]);
  if (!v.has_shape) fail<UsageError>("{}: input '{}' has no static shape; give --input-shape", graph.source, v.name);
  Shape s = v.shape;
  for (size_t d = 0; d < s.size(); ++d) {
    if (s[d] < 0) {
      if (d == 0) {
        s[d] = 1;
      } else {
        fail<UsageError>("{}: input '{}' has a dynamic dimension {}; give --input-shape", graph.source, v.name, d);
      }
    }
  }
  return s;
}

std::string Model::class_name(int64_t k) const {
  if (k >= 0 && k < static_cast<int64_t>(meta.classes.size())) return meta.classes[k];
  return std::to_string(k);
}

}  // namespace eff
