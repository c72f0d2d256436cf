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
  // Each key parsed on its own, so a wrong type names the key ("classes": 5).
  auto read = [&](const char* key, auto&& assign) {
    if (!j.contains(key)) return;
    try {
      assign(j[key]);
    } catch (const json::exception& e) {
      fail<ConfigError>("{}: '{}': {}", path, key, e.what());
    }
  };
  read("name", [&](const json& v) { m.name = v.get<std::string>(); });
  read("classes", [&](const json& v) { m.classes = v.get<std::vector<std::string>>(); });
  read("preprocessing", [&](const json& v) { m.preprocessing = v; });
  read("input_shape", [&](const json& v) { m.input_shape = v.get<Shape>(); });
  read("test_accuracy_top1", [&](const json& v) { m.test_accuracy_top1 = v.get<double>(); });
  read("deft", [&](const json& v) { m.deft = v; });
  return m;
}

Model load_model(const std::string& path, const ModelLoadOptions& opts) {
  Model m;
  m.path = path;
  m.load_options.fuse_activations = opts.fuse_activations;
  m.load_options.fuse_qdq = opts.fuse_qdq;
  m.graph = load_onnx(path, m.load_options);
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

std::vector<Shape> Model::input_shapes() const {
  if (graph.inputs.empty()) fail<ModelError>("{}: the model has no inputs", graph.source);
  std::vector<Shape> shapes;
  for (size_t i = 0; i < graph.inputs.size(); ++i) {
    const Value& v = graph.value(graph.inputs[i]);
    auto given = shape_overrides.find(v.name);
    if (given == shape_overrides.end() && i == 0) given = shape_overrides.find("");
    if (given != shape_overrides.end()) {
      shapes.push_back(given->second);
      continue;
    }
    if (i == 0 && !meta.input_shape.empty()) {
      shapes.push_back(meta.input_shape);
      continue;
    }
    const std::string hint = fmt::format("give --input-shape {}:<dims> or an input tensor", v.name);
    if (!v.has_shape) fail<UsageError>("{}: input '{}' has no declared shape; {}", graph.source, v.name, hint);
    Shape s = v.shape;
    std::string unknown;
    for (size_t d = 0; d < s.size(); ++d) {
      if (s[d] >= 0) continue;
      if (d == 0) {
        s[d] = 1;
        continue;
      }
      const std::string name = d < v.dim_names.size() && !v.dim_names[d].empty() ? v.dim_names[d] : "?";
      unknown += fmt::format("{}{} ({})", unknown.empty() ? "" : ", ", d, name);
    }
    if (!unknown.empty()) {
      fail<UsageError>("{}: input '{}' has dynamic dimension(s) {}; {}", graph.source, v.name, unknown, hint);
    }
    shapes.push_back(s);
  }
  return shapes;
}

Graph Model::graph_for_shapes(const std::vector<Shape>& shapes) const {
  return specializer()(GraphVariant{shapes, false});
}

GraphSpecializer Model::specializer() const {
  std::vector<std::string> names;
  for (ValueId v : graph.inputs) names.push_back(graph.value(v).name);
  return [path = path, options = load_options, names](const GraphVariant& variant) {
    LoadOptions o = options;
    if (!variant.input_shapes.empty()) {
      if (variant.input_shapes.size() != names.size()) {
        fail<ShapeError>("{}: the model takes {} input(s), got {}", path, names.size(), variant.input_shapes.size());
      }
      for (size_t i = 0; i < names.size(); ++i) o.input_shapes[names[i]] = variant.input_shapes[i];
    }
    if (variant.separate_activations) {
      o.fuse_activations = false;
      o.non_finite_inputs = true;
    }
    if (variant.separate_residual_adds) o.fuse_residual_adds = false;
    return load_onnx(path, o);
  };
}

std::string Model::class_name(int64_t k) const {
  if (k >= 0 && k < static_cast<int64_t>(meta.classes.size())) return meta.classes[k];
  return std::to_string(k);
}

}  // namespace eff
