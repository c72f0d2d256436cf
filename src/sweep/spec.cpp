#include "sweep/spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "search/target.h"
#include "sim/simulator.h"

namespace eff::sweep {

using nlohmann::json;

namespace {

constexpr int64_t kMaxPoints = 1000000;  // a product larger than this is surely a mistake
constexpr int64_t kMaxImages = int64_t{1} << 31;

bool is_axis(const std::string& k) {
  return std::any_of(std::begin(kAxes), std::end(kAxes), [&](const char* a) { return k == a; });
}

// The value an axis takes when the sweep file does not vary it. Points with a default value leave
// it out of their id.
json axis_default(const std::string& axis) {
  if (axis == "config") return json::object();
  if (axis == "precision" || axis == "thresholds") return "none";
  if (axis == "technology") return "65nm";
  return nullptr;  // model, data, design: required
}

// A YAML scalar or tree as JSON: scalars stay strings unless they read as integers or numbers, so
// `tiles: 8` and `tiles: "8"` hash alike only when written alike.
json to_json(const YAML::Node& n, const std::string& where) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar: {
      const std::string s = n.Scalar();
      if (n.Tag() != "!") {  // plain (unquoted) scalars may be numbers or booleans
        try {
          size_t used = 0;
          const long long v = std::stoll(s, &used);
          if (used == s.size()) return v;
        } catch (const std::exception&) {
        }
        try {
          size_t used = 0;
          const double v = std::stod(s, &used);
          if (used == s.size()) return v;
        } catch (const std::exception&) {
        }
        if (s == "true") return true;
        if (s == "false") return false;
      }
      return s;
    }
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (size_t i = 0; i < n.size(); ++i) a.push_back(to_json(n[i], fmt::format("{}[{}]", where, i)));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) fail<ConfigError>("{}: keys must be plain names", where);
        const std::string key = kv.first.Scalar();
        if (o.contains(key)) fail<ConfigError>("{}.{}: given twice", where, key);
        o[key] = to_json(kv.second, where + "." + key);
      }
      return o;
    }
    default:
      fail<ConfigError>("{}: unreadable value", where);
  }
}

std::string scalar_text(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

thread_local bool g_check_files = true;  // parse_spec's flag, read by need_file

void need_file(const std::string& path, const std::string& where) {
  if (!g_check_files) return;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail<ConfigError>("{}: '{}' is not a readable file", where, path);
}

// A precision found by `effectual search precision` on the point's model and data set (every
// default filled in, so that {search: {}} and the spelled-out defaults are the same point).
json check_search_step(const json& v, const std::string& where) {
  if (v.size() != 1 || !v.contains("search") || !(v["search"].is_object() || v["search"].is_null())) {
    fail<ConfigError>("{}: must be none, a profile file or {{search: {{keep, search_images, report_images, seed}}}}",
                      where);
  }
  json s = v["search"].is_null() ? json::object() : v["search"];
  const std::string w = where + ".search";
  for (const auto& [k, x] : s.items()) {
    if (k != "keep" && k != "search_images" && k != "report_images" && k != "seed") {
      fail<ConfigError>("{}.{}: unknown key (keep, search_images, report_images, seed)", w, k);
    }
  }
  if (!s.contains("keep")) s["keep"] = "100%";
  if (!s.contains("search_images")) s["search_images"] = 200;
  if (!s.contains("report_images")) s["report_images"] = 100;
  if (!s.contains("seed")) s["seed"] = 1;
  if (s["keep"].is_number()) s["keep"] = scalar_text(s["keep"]) + "%";
  if (!s["keep"].is_string()) fail<ConfigError>("{}.keep: must be a percentage such as 99%", w);
  try {
    search::parse_percentage(s["keep"].get<std::string>(), w + ".keep");
  } catch (const UsageError& e) {
    throw ConfigError(e.what());
  }
  for (const char* k : {"search_images", "report_images"}) {
    if (!s[k].is_number_integer() || s[k].get<int64_t>() < 1 || s[k].get<int64_t>() > kMaxImages) {
      fail<ConfigError>("{}.{}: '{}' is not a positive integer", w, k, scalar_text(s[k]));
    }
  }
  if (!s["seed"].is_number_integer() || s["seed"].get<int64_t>() < 0) {
    fail<ConfigError>("{}.seed: '{}' is not a non-negative integer", w, scalar_text(s["seed"]));
  }
  return json{{"search", s}};
}

// Checks one axis value and returns it in canonical form.
json check_value(const std::string& axis, const json& v, const std::string& where) {
  if (axis == "model") {
    if (!v.is_string() || v.get<std::string>().empty()) fail<ConfigError>("{}: must be an ONNX file path", where);
    need_file(v.get<std::string>(), where);
    return v;
  }
  if (axis == "data") {
    json d = v.is_string() ? json{{"set", v}} : v;
    if (!d.is_object()) fail<ConfigError>("{}: must be a data set name or {{set, first, images}}", where);
    for (const auto& [k, x] : d.items()) {
      if (k != "set" && k != "first" && k != "images") {
        fail<ConfigError>("{}.{}: unknown key (set, first, images)", where, k);
      }
    }
    if (!d.contains("set") || !d["set"].is_string() || d["set"].get<std::string>().empty()) {
      fail<ConfigError>("{}.set: must name a data set (fashion-mnist:test, a folder, FILE.npy)", where);
    }
    if (!d.contains("first")) d["first"] = 0;
    if (!d.contains("images")) d["images"] = 1;
    if (!d["first"].is_number_integer() || d["first"].get<int64_t>() < 0 || d["first"].get<int64_t>() >= kMaxImages) {
      fail<ConfigError>("{}.first: '{}' is not a non-negative integer", where, scalar_text(d["first"]));
    }
    if (!d["images"].is_number_integer() || d["images"].get<int64_t>() < 1 ||
        d["images"].get<int64_t>() >= kMaxImages) {
      fail<ConfigError>("{}.images: '{}' is not a positive integer", where, scalar_text(d["images"]));
    }
    return d;
  }
  if (axis == "design") {
    if (!v.is_string() || !sim::find_design(v.get<std::string>())) {
      fail<ConfigError>("{}: '{}' is not a design (effectual simulate --list-designs)", where, scalar_text(v));
    }
    return v;
  }
  if (axis == "config") {
    if (v.is_null()) return json::object();
    if (!v.is_object()) fail<ConfigError>("{}: must be a mapping of design parameters (and an optional name)", where);
    for (const auto& [k, x] : v.items()) {
      if (k == "design") fail<ConfigError>("{}.design: the design comes from the design axis", where);
      if (!x.is_primitive() || x.is_null()) fail<ConfigError>("{}.{}: must be a scalar", where, k);
    }
    return v;
  }
  if (axis == "precision" && v.is_object()) return check_search_step(v, where);
  if (axis == "precision" || axis == "thresholds") {
    if (v.is_null()) return "none";
    if (!v.is_string() || v.get<std::string>().empty()) {
      fail<ConfigError>("{}: must be none or a JSON file (docs/value-hooks.md)", where);
    }
    if (v != "none") need_file(v.get<std::string>(), where);
    return v;
  }
  // technology
  if (!v.is_string() || v.get<std::string>().empty()) {
    fail<ConfigError>("{}: must be 65nm (built in) or a technology YAML file", where);
  }
  if (v != "65nm") need_file(v.get<std::string>(), where);
  return v;
}

std::string short_value(const std::string& axis, const json& v) {
  if (axis == "model") return std::filesystem::path(v.get<std::string>()).stem().string();
  if (axis == "data") {
    return fmt::format("{}[{},{})", v["set"].get<std::string>(), v["first"].get<int64_t>(),
                       v["first"].get<int64_t>() + v["images"].get<int64_t>());
  }
  if (axis == "config") {
    if (v.empty()) return "preset";
    if (v.contains("name")) return scalar_text(v["name"]);
    std::string s;
    for (const auto& [k, x] : v.items()) s += (s.empty() ? "" : ",") + k + "=" + scalar_text(x);
    return s;
  }
  if (axis == "precision" && v.is_object()) return "search " + v["search"]["keep"].get<std::string>();
  if (axis == "precision" || axis == "thresholds" || axis == "technology") {
    const std::string s = v.get<std::string>();
    return s == "none" || s == "65nm" ? s : std::filesystem::path(s).stem().string();
  }
  return scalar_text(v);
}

}  // namespace

std::string axis_value_text(const std::string& axis, const json& v) {
  if (axis == "data" || axis == "config") return short_value(axis, v);
  if (axis == "precision" && v.is_object()) {
    const json& s = v["search"];
    return fmt::format("search keep={} search_images={} report_images={} seed={}", s["keep"].get<std::string>(),
                       s["search_images"].get<int64_t>(), s["report_images"].get<int64_t>(), s["seed"].get<int64_t>());
  }
  return scalar_text(v);
}

namespace {

std::vector<std::string> read_compute(const YAML::Node& n, const std::string& file) {
  std::vector<std::string> out;
  if (!n) return {"simulate"};
  const json c = to_json(n, file + ": compute");
  const json list = c.is_string() ? json::array({c}) : c;
  if (!list.is_array() || list.empty()) fail<ConfigError>("{}: compute: must list simulate, eval and/or profile", file);
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string s = list[i].is_string() ? list[i].get<std::string>() : list[i].dump();
    if (s != "simulate" && s != "eval" && s != "profile") {
      fail<ConfigError>("{}: compute[{}]: '{}' is not simulate, eval or profile", file, i, s);
    }
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return out;
}

}  // namespace

DataRange Point::data() const {
  const json& d = values["data"];
  return {d["set"].get<std::string>(), d["first"].get<int64_t>(), d["images"].get<int64_t>()};
}

std::string Point::design_config_yaml() const {
  YAML::Emitter e;
  e << YAML::BeginMap << YAML::Key << "designs" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  e << YAML::Key << "design" << YAML::Value << design();
  for (const auto& [k, x] : values["config"].items()) e << YAML::Key << k << YAML::Value << scalar_text(x);
  e << YAML::EndMap << YAML::EndSeq << YAML::EndMap;
  return e.c_str();
}

std::string Point::config_name() const {
  return short_value("config", values["config"]);
}

std::string Point::precision() const {
  if (values["precision"].is_object()) return "";
  const std::string s = values["precision"].get<std::string>();
  return s == "none" ? "" : s;
}
std::string Point::thresholds() const {
  const std::string s = values["thresholds"].get<std::string>();
  return s == "none" ? "" : s;
}
std::string Point::technology() const {
  const std::string s = values["technology"].get<std::string>();
  return s == "65nm" ? "" : s;
}

bool Spec::computes(const std::string& what) const {
  return std::find(compute.begin(), compute.end(), what) != compute.end();
}

std::string hash_hex(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

Spec parse_spec(const std::string& text, const std::string& file, bool check_files) {
  g_check_files = check_files;
  Spec spec;
  spec.file = file;
  spec.text = text;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail<ConfigError>("{}: line {}: {}", file, e.mark.line + 1, e.msg);
  }
  if (!root.IsMap()) fail<ConfigError>("{}: the top level must be a mapping with 'axes'", file);
  for (const auto& kv : root) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    if (key != "version" && key != "name" && key != "compute" && key != "axes" && key != "points") {
      fail<ConfigError>("{}: {}: unknown key (version, name, compute, axes, points)", file, key);
    }
  }
  if (root["version"] && (!root["version"].IsScalar() || root["version"].Scalar() != "1")) {
    fail<ConfigError>("{}: version: only version 1 is understood", file);
  }
  if (root["name"]) {
    if (!root["name"].IsScalar()) fail<ConfigError>("{}: name: must be a string", file);
    spec.name = root["name"].Scalar();
  }
  spec.compute = read_compute(root["compute"], file);

  // Axis values, checked and canonical.
  std::map<std::string, std::vector<json>> axes;
  if (!root["axes"] || !root["axes"].IsMap()) fail<ConfigError>("{}: axes: must be a mapping of axis -> list", file);
  for (const auto& kv : root["axes"]) {
    const std::string axis = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    const std::string where = fmt::format("{}: axes.{}", file, axis);
    if (!is_axis(axis)) {
      fail<ConfigError>("{}: unknown axis (model, data, design, config, precision, thresholds, technology)", where);
    }
    if (axes.count(axis)) fail<ConfigError>("{}: given twice", where);
    const json list = to_json(kv.second, where);
    if (!list.is_array()) {
      axes[axis].push_back(check_value(axis, list, where));
      continue;
    }
    if (list.empty()) fail<ConfigError>("{}: must list at least one value", where);
    for (size_t i = 0; i < list.size(); ++i) {
      json v = check_value(axis, list[i], fmt::format("{}[{}]", where, i));
      if (std::find(axes[axis].begin(), axes[axis].end(), v) != axes[axis].end()) {
        fail<ConfigError>("{}[{}]: repeats an earlier value", where, i);
      }
      axes[axis].push_back(std::move(v));
    }
  }
  for (const char* a : kAxes) {
    if (axes.count(a)) continue;
    if (root["points"]) continue;  // listed points may give every value themselves
    const json d = axis_default(a);
    if (d.is_null()) fail<ConfigError>("{}: axes.{}: missing (it has no default)", file, a);
    axes[a].push_back(d);
  }

  // The value combinations, in file order.
  std::vector<json> combos;
  if (root["points"]) {
    const json list = to_json(root["points"], file + ": points");
    if (!list.is_array() || list.empty()) fail<ConfigError>("{}: points: must be a list of mappings", file);
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string where = fmt::format("{}: points[{}]", file, i);
      if (!list[i].is_object()) fail<ConfigError>("{}: must be a mapping of axis -> value", where);
      json c = json::object();
      for (const auto& [k, x] : list[i].items()) {
        if (!is_axis(k)) fail<ConfigError>("{}.{}: unknown axis", where, k);
        c[k] = check_value(k, x, where + "." + k);
      }
      for (const char* a : kAxes) {
        if (c.contains(a)) continue;
        // An axis the point does not name: its only listed value, or its default.
        if (axes.count(a) && axes[a].size() == 1) {
          c[a] = axes[a][0];
        } else if (axes.count(a)) {
          fail<ConfigError>("{}: names no {} and axes.{} lists several", where, a, a);
        } else if (!axis_default(a).is_null()) {
          c[a] = axis_default(a);
        } else {
          fail<ConfigError>("{}: names no {} (it has no default)", where, a);
        }
      }
      combos.push_back(std::move(c));
    }
  } else {
    int64_t total = 1;
    for (const char* a : kAxes) {
      total *= static_cast<int64_t>(axes[a].size());
      if (total > kMaxPoints) fail<ConfigError>("{}: axes: more than {} points", file, kMaxPoints);
    }
    // Odometer over the axes, the last axis fastest.
    std::vector<size_t> at(std::size(kAxes), 0);
    for (int64_t p = 0; p < total; ++p) {
      json c = json::object();
      for (size_t a = 0; a < std::size(kAxes); ++a) c[kAxes[a]] = axes[kAxes[a]][at[a]];
      combos.push_back(std::move(c));
      for (size_t a = std::size(kAxes); a-- > 0;) {
        if (++at[a] < axes[kAxes[a]].size()) break;
        at[a] = 0;
      }
    }
  }

  // Which axes vary (for labels), ids, duplicates, and every design configuration built once.
  std::set<std::string> varying;
  for (const char* a : kAxes) {
    for (const json& c : combos) {
      if (c[a] != combos.front()[a]) varying.insert(a);
    }
  }
  std::map<std::string, int64_t> seen;
  std::set<std::string> built;
  for (size_t i = 0; i < combos.size(); ++i) {
    Point p;
    p.index = static_cast<int64_t>(i);
    p.values = combos[i];
    p.content = json::object();
    for (const char* a : kAxes) {
      if (p.values[a] != axis_default(a)) p.content[a] = p.values[a];
      if (varying.count(a)) p.label += (p.label.empty() ? "" : " / ") + short_value(a, p.values[a]);
    }
    if (p.label.empty()) p.label = short_value("design", p.values["design"]);
    p.id = hash_hex(p.content.dump());
    if (auto [it, fresh] = seen.emplace(p.id, p.index); !fresh) {
      fail<ConfigError>("{}: points {} and {} are the same point", file, it->second, p.index);
    }
    const std::string yaml = p.design_config_yaml();
    if (built.insert(yaml).second) {
      sim::build_designs(p.design(), yaml, fmt::format("{}: config '{}' of {}", file, p.config_name(), p.design()));
    }
    spec.points.push_back(std::move(p));
  }
  return spec;
}

Spec load_spec(const std::string& path) {
  std::string text;
  try {
    text = read_file(path, 1 << 20);
  } catch (const DataError& e) {
    throw UsageError(e.what());
  }
  return parse_spec(text, path);
}

std::vector<const Point*> shard_points(const Spec& spec, int shard, int shards) {
  std::vector<const Point*> out;
  for (const Point& p : spec.points) {
    if (p.index % shards == shard) out.push_back(&p);
  }
  return out;
}

void parse_shard(const std::string& text, int& shard, int& shards) {
  const size_t slash = text.find('/');
  try {
    size_t u1 = 0, u2 = 0;
    if (slash == std::string::npos) throw std::invalid_argument(text);
    const std::string a = text.substr(0, slash), b = text.substr(slash + 1);
    const long long i = std::stoll(a, &u1), n = std::stoll(b, &u2);
    if (u1 != a.size() || u2 != b.size() || n < 1 || n > 1000000 || i < 0 || i >= n) throw std::invalid_argument(text);
    shard = static_cast<int>(i);
    shards = static_cast<int>(n);
  } catch (const std::exception&) {
    fail<UsageError>("--shard '{}': must be I/N with 0 <= I < N (e.g. 0/4)", text);
  }
}

}  // namespace eff::sweep
