#include "engine/transform_files.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace eff {

using nlohmann::json;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail<ConfigError>("{}: cannot open file", path);
  std::ostringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (s.size() > (64u << 20)) fail<ConfigError>("{}: file is too large for a configuration file", path);
  return s;
}

json parse_json(const std::string& text, const std::string& file) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail<ConfigError>("{}: not valid JSON ({})", file, e.what());
  }
}

void reject_unknown_keys(const json& obj, const std::vector<std::string>& allowed, const std::string& file,
                         const std::string& path) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      fail<ConfigError>("{}: {}.{}: unknown key", file, path, it.key());
    }
  }
}

void expect_format(const json& doc, const std::string& want, const std::string& file) {
  if (!doc.is_object()) fail<ConfigError>("{}: expected a JSON object at the top level", file);
  if (doc.contains("format") && doc["format"] != want) {
    fail<ConfigError>("{}: format is {}, expected \"{}\"", file, doc["format"].dump(), want);
  }
  if (doc.contains("version") && doc["version"] != 1) {
    fail<ConfigError>("{}: version {} is not supported (expected 1)", file, doc["version"].dump());
  }
}

// Resolves a layer key: a layer name, or "#<index>".
const LayerInfo& resolve_layer(const std::string& key, const std::vector<LayerInfo>& layers, const std::string& file,
                               const std::string& path) {
  for (const LayerInfo& l : layers) {
    if (l.name == key) return l;
  }
  if (!key.empty() && key[0] == '#') {
    char* end = nullptr;
    long idx = std::strtol(key.c_str() + 1, &end, 10);
    if (*end == '\0' && idx >= 0 && idx < static_cast<long>(layers.size())) return layers[idx];
  }
  std::string names;
  for (size_t i = 0; i < layers.size() && i < 12; ++i) names += (i ? ", " : "") + layers[i].name;
  if (layers.size() > 12) names += ", ...";
  fail<ConfigError>("{}: {}: no conv/FC layer named '{}' (layers: {})", file, path, key, names);
}

OperandSpec parse_operand(const json& v, const std::string& file, const std::string& path) {
  OperandSpec s;
  if (v.is_null()) return s;
  if (v.is_string()) {
    const std::string m = v.get<std::string>();
    if (m == "uint8" || m == "int8" || m == "uniform8") {
      s.kind = OperandTransform::kUniform8;
    } else if (m == "none" || m == "fp32") {
      s.kind = OperandTransform::kNone;
    } else {
      fail<ConfigError>(
          "{}: {}: unknown mode \"{}\" (use \"uniform8\", \"none\" or an object with int_bits and "
          "frac_bits)",
          file, path, m);
    }
    return s;
  }
  if (!v.is_object()) fail<ConfigError>("{}: {}: expected an object or a string", file, path);
  reject_unknown_keys(v, {"int_bits", "frac_bits", "bits", "msb", "lsb", "signed"}, file, path);
  FixedPointFormat f;
  if (v.contains("signed")) {
    if (!v["signed"].is_boolean()) fail<ConfigError>("{}: {}.signed: expected true or false", file, path);
    f.is_signed = v["signed"].get<bool>();
  } else {
    s.sign_stated = false;  // an older profile: int_bits count a sign bit
  }
  auto get_int = [&](const char* key) {
    const json& x = v.at(key);
    if (!x.is_number_integer()) fail<ConfigError>("{}: {}.{}: expected an integer", file, path, key);
    return x.get<int>();
  };
  if (v.contains("int_bits") || v.contains("frac_bits")) {
    if (!v.contains("int_bits") || !v.contains("frac_bits")) {
      fail<ConfigError>("{}: {}: give both int_bits and frac_bits", file, path);
    }
    f.int_bits = get_int("int_bits");
    f.frac_bits = get_int("frac_bits");
  } else if (v.contains("msb") && v.contains("lsb")) {
    // Stripes-style profile: bit positions relative to the binary point; msb includes the sign
    // when the format is signed.
    const int msb = get_int("msb"), lsb = get_int("lsb");
    f.frac_bits = -lsb;
    f.int_bits = msb + 1;
  } else {
    fail<ConfigError>("{}: {}: expected int_bits and frac_bits (or msb and lsb)", file, path);
  }
  validate_fixed_point(f, file + ": " + path);
  s.kind = OperandTransform::kFixedPoint;
  s.fixed = f;
  return s;
}

void apply_profile_entry(const json& v, const LayerInfo& l, const std::string& file, const std::string& path,
                         std::map<std::string, LayerTransform>& out) {
  if (!v.is_object()) fail<ConfigError>("{}: {}: expected an object", file, path);
  reject_unknown_keys(v, {"activations", "weights"}, file, path);
  LayerTransform& t = out[l.name];
  if (v.contains("activations")) t.activations = parse_operand(v["activations"], file, path + ".activations");
  if (v.contains("weights")) t.weights = parse_operand(v["weights"], file, path + ".weights");
}

template <class Fn>
void for_each_layer_entry(const json& doc, const std::string& key, const std::vector<LayerInfo>& layers,
                          const std::string& file, Fn&& fn) {
  if (doc.contains("default")) {
    for (const LayerInfo& l : layers) fn(doc["default"], l, std::string("default"));
  }
  if (!doc.contains(key)) return;
  const json& ls = doc[key];
  if (ls.is_object()) {
    for (auto it = ls.begin(); it != ls.end(); ++it) {
      const std::string path = key + "." + it.key();
      fn(it.value(), resolve_layer(it.key(), layers, file, path), path);
    }
  } else if (ls.is_array()) {
    if (ls.size() != layers.size()) {
      fail<ConfigError>("{}: {}: {} entries for {} conv/FC layers", file, key, ls.size(), layers.size());
    }
    for (size_t i = 0; i < ls.size(); ++i) fn(ls[i], layers[i], key + "[" + std::to_string(i) + "]");
  } else {
    fail<ConfigError>("{}: {}: expected an object keyed by layer name, or a list in layer order", file, key);
  }
}

}  // namespace

void parse_precision_profile(const std::string& text, const std::string& file, const std::vector<LayerInfo>& layers,
                             std::map<std::string, LayerTransform>& out) {
  json doc = parse_json(text, file);
  expect_format(doc, "effectual-precision-profile", file);
  reject_unknown_keys(doc, {"format", "version", "description", "default", "layers"}, file, "");
  for_each_layer_entry(doc, "layers", layers, file, [&](const json& v, const LayerInfo& l, const std::string& path) {
    apply_profile_entry(v, l, file, path, out);
  });
}

void parse_thresholds(const std::string& text, const std::string& file, const std::vector<LayerInfo>& layers,
                      std::map<std::string, LayerTransform>& out) {
  json doc = parse_json(text, file);
  expect_format(doc, "effectual-thresholds", file);
  reject_unknown_keys(doc, {"format", "version", "description", "default", "layers"}, file, "");
  for_each_layer_entry(doc, "layers", layers, file, [&](const json& v, const LayerInfo& l, const std::string& path) {
    if (!v.is_number()) fail<ConfigError>("{}: {}: expected a number", file, path);
    const double t = v.get<double>();
    if (!(t >= 0) || !std::isfinite(t)) fail<ConfigError>("{}: {}: threshold must be a finite number >= 0", file, path);
    out[l.name].prune_threshold = static_cast<float>(t);
  });
}

std::map<std::string, LayerTransform> load_layer_transforms(const std::string& precision_profile_path,
                                                            const std::string& thresholds_path,
                                                            const std::vector<LayerInfo>& layers) {
  std::map<std::string, LayerTransform> out;
  if (!precision_profile_path.empty()) {
    parse_precision_profile(slurp(precision_profile_path), precision_profile_path, layers, out);
  }
  if (!thresholds_path.empty()) parse_thresholds(slurp(thresholds_path), thresholds_path, layers, out);
  return out;
}

}  // namespace eff
