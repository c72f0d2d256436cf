#include "gating/gates_file.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/fs.h"

namespace eff::gating {

using nlohmann::json;

namespace {

void only_keys(const json& obj, const std::set<std::string>& allowed, const std::string& file,
               const std::string& where) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!allowed.count(it.key())) fail<ConfigError>("{}: {}{}: unknown key", file, where, it.key());
  }
}

const json& need(const json& obj, const std::string& key, const std::string& file, const std::string& where) {
  if (!obj.contains(key)) fail<ConfigError>("{}: {}{}: missing", file, where, key);
  return obj[key];
}

int64_t integer_in(const json& v, int64_t lo, int64_t hi, const std::string& file, const std::string& field) {
  if (!v.is_number_integer()) fail<ConfigError>("{}: {}: {} is not an integer", file, field, v.dump());
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) fail<ConfigError>("{}: {}: {} is outside [{}, {}]", file, field, x, lo, hi);
  return x;
}

// A finite number, or "-inf" / null (JSON has no infinity): the gate never turns off; "inf": never on.
double threshold_of(const json& v, const std::string& file, const std::string& field) {
  if (v.is_null() || (v.is_string() && v.get<std::string>() == "-inf")) return -std::numeric_limits<double>::infinity();
  if (v.is_string() && v.get<std::string>() == "inf") return std::numeric_limits<double>::infinity();
  if (!v.is_number())
    fail<ConfigError>("{}: {}: {} is not a number (or \"-inf\", \"inf\", null)", file, field, v.dump());
  const double t = v.get<double>();
  if (!std::isfinite(t)) fail<ConfigError>("{}: {}: not a finite number", file, field);
  return t;
}

json threshold_json(float t) {
  if (std::isinf(t)) return t < 0 ? json("-inf") : json("inf");
  return t;
}

}  // namespace

std::string kind_name(GateKind k) {
  return k == GateKind::kChannel ? "channel" : "precision";
}

std::string grouping_name(Grouping g) {
  return g == Grouping::kFirst ? "first" : g == Grouping::kContiguous ? "contiguous" : "shuffle";
}

bool parse_grouping(const std::string& text, Grouping& out) {
  for (Grouping g : {Grouping::kFirst, Grouping::kContiguous, Grouping::kShuffle}) {
    if (text == grouping_name(g)) {
      out = g;
      return true;
    }
  }
  return false;
}

bool on_base_path(Grouping grouping, int64_t groups, int64_t base_channels, int64_t cg, int64_t mg, int64_t c,
                  int64_t i) {
  if (grouping == Grouping::kFirst) return c < base_channels;
  const int64_t block = i / (mg / groups);
  return grouping == Grouping::kContiguous ? c / (cg / groups) == block : c % groups == block;
}

bool LayerGate::always_on() const {
  constexpr float kMinusInf = -std::numeric_limits<float>::infinity();
  if (thresholds.empty()) return threshold == kMinusInf;
  for (float t : thresholds)
    if (t != kMinusInf) return false;
  return true;
}

const LayerGate* GatePlan::find(const std::string& layer) const {
  for (const LayerGate& g : layers) {
    if (g.layer == layer) return &g;
  }
  return nullptr;
}

json gates_json(const GatePlan& plan) {
  json layers = json::array();
  for (const LayerGate& l : plan.layers) {
    json e = {{"layer", l.layer}};
    if (plan.kind == GateKind::kChannel) {
      e["base_channels"] = l.base_channels;
      if (plan.grouping != Grouping::kFirst) e["groups"] = l.groups;
    } else {
      e["bits"] = l.bits;
      e["high_bits"] = l.high_bits;
    }
    if (l.thresholds.empty()) {
      e["threshold"] = threshold_json(l.threshold);
    } else {
      json t = json::array();
      for (float v : l.thresholds) t.push_back(threshold_json(v));
      e["thresholds"] = t;
    }
    if (plan.kind == GateKind::kPrecision) {
      e["frac_bits"] = l.frac_bits;
      e["signed"] = l.is_signed;
    }
    layers.push_back(e);
  }
  json j = {{"format", "effectual-gates"}, {"version", 1}, {"kind", kind_name(plan.kind)}};
  if (plan.kind == GateKind::kChannel) j["base_fraction"] = plan.base_fraction;
  if (plan.kind == GateKind::kChannel && plan.grouping != Grouping::kFirst)
    j["grouping"] = grouping_name(plan.grouping);
  j["layers"] = layers;
  return j;
}

GatePlan parse_gates(const std::string& text, const std::string& path) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    fail<ConfigError>("{}: not valid JSON ({})", path, e.what());
  }
  return parse_gates(doc, path);
}

GatePlan parse_gates(const char* text, const std::string& path) {
  return parse_gates(std::string(text), path);
}

GatePlan parse_gates(const json& doc, const std::string& path) {
  if (!doc.is_object()) fail<ConfigError>("{}: expected a JSON object at the top level", path);
  only_keys(doc, {"format", "version", "kind", "base_fraction", "grouping", "layers"}, path, "");
  const json& format = need(doc, "format", path, "");
  if (format != "effectual-gates") fail<ConfigError>("{}: format: {} is not \"effectual-gates\"", path, format.dump());
  const json& version = need(doc, "version", path, "");
  if (version != 1) fail<ConfigError>("{}: version: {} is not supported (expected 1)", path, version.dump());
  GatePlan g;
  g.path = path;
  const json& kind = need(doc, "kind", path, "");
  if (kind == "channel") {
    g.kind = GateKind::kChannel;
  } else if (kind == "precision") {
    g.kind = GateKind::kPrecision;
  } else {
    fail<ConfigError>("{}: kind: {} is not \"channel\" or \"precision\"", path, kind.dump());
  }
  if (doc.contains("base_fraction")) {
    const json& f = doc["base_fraction"];
    if (!f.is_number() || !(f.get<double>() > 0.0 && f.get<double>() <= 1.0)) {
      fail<ConfigError>("{}: base_fraction: {} is not a number in (0, 1]", path, f.dump());
    }
    g.base_fraction = f.get<double>();
  }                                // absent: informative only, the layers' base_channels are what runs
  if (doc.contains("grouping")) {  // absent (files before it): "first"
    const json& gr = doc["grouping"];
    if (!gr.is_string() || !parse_grouping(gr.get<std::string>(), g.grouping))
      fail<ConfigError>("{}: grouping: {} is not \"first\", \"contiguous\" or \"shuffle\"", path, gr.dump());
    if (g.kind != GateKind::kChannel && g.grouping != Grouping::kFirst)
      fail<ConfigError>("{}: grouping: {} applies to kind \"channel\" only", path, gr.dump());
  }
  const bool grouped = g.grouping != Grouping::kFirst;
  const json& layers = need(doc, "layers", path, "");
  if (!layers.is_array()) fail<ConfigError>("{}: layers: expected an array", path);
  std::set<std::string> seen;
  for (size_t i = 0; i < layers.size(); ++i) {
    const json& e = layers[i];
    const std::string where = "layers[" + std::to_string(i) + "].";
    if (!e.is_object()) fail<ConfigError>("{}: layers[{}]: expected an object", path, i);
    LayerGate lg;
    const json& name = need(e, "layer", path, where);
    if (!name.is_string() || name.get<std::string>().empty()) {
      fail<ConfigError>("{}: {}layer: {} is not a layer name", path, where, name.dump());
    }
    lg.layer = name.get<std::string>();
    if (!seen.insert(lg.layer).second) fail<ConfigError>("{}: {}layer: '{}' is listed twice", path, where, lg.layer);
    if (g.kind == GateKind::kChannel) {
      if (!grouped && e.contains("groups"))
        fail<ConfigError>("{}: {}groups: only with \"grouping\": \"contiguous\" or \"shuffle\"", path, where);
      only_keys(e, {"layer", "base_channels", "groups", "threshold", "thresholds"}, path, where);
      lg.base_channels =
          integer_in(need(e, "base_channels", path, where), 1, int64_t{1} << 24, path, where + "base_channels");
      if (grouped) lg.groups = integer_in(need(e, "groups", path, where), 1, int64_t{1} << 24, path, where + "groups");
    } else {
      only_keys(e, {"layer", "bits", "high_bits", "frac_bits", "signed", "threshold", "thresholds"}, path, where);
      lg.bits = static_cast<int>(integer_in(need(e, "bits", path, where), 1, 16, path, where + "bits"));
      lg.high_bits =
          static_cast<int>(integer_in(need(e, "high_bits", path, where), 1, lg.bits, path, where + "high_bits"));
      if (e.contains("frac_bits")) {
        lg.frac_bits = static_cast<int>(integer_in(e["frac_bits"], -64, 64, path, where + "frac_bits"));
      }
      if (e.contains("signed")) {
        if (!e["signed"].is_boolean())
          fail<ConfigError>("{}: {}signed: {} is not true or false", path, where, e["signed"].dump());
        lg.is_signed = e["signed"].get<bool>();
      }
    }
    lg.threshold = e.contains("threshold") ? static_cast<float>(threshold_of(e["threshold"], path, where + "threshold"))
                                           : -std::numeric_limits<float>::infinity();
    if (e.contains("thresholds")) {
      if (e.contains("threshold"))
        fail<ConfigError>("{}: {}thresholds: give either threshold (the layer's) or thresholds (per channel)", path,
                          where);
      const json& t = e["thresholds"];
      if (!t.is_array() || t.empty() || t.size() > (size_t{1} << 24))
        fail<ConfigError>("{}: {}thresholds: expected a non-empty array (one per output channel)", path, where);
      for (size_t k = 0; k < t.size(); ++k)
        lg.thresholds.push_back(
            static_cast<float>(threshold_of(t[k], path, fmt::format("{}thresholds[{}]", where, k))));
    }
    g.layers.push_back(std::move(lg));
  }
  return g;
}

GatePlan read_gates_file(const std::string& path) {
  std::string text;
  try {
    text = read_file(path, size_t{64} << 20);
  } catch (const DataError& e) {
    fail<ConfigError>("{}", e.what());
  }
  return parse_gates(text, path);
}

}  // namespace eff::gating
