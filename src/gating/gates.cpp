#include "gating/gates.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "engine/executor.h"
#include "gating/gated_conv.h"

namespace eff::gating {

bool gate_eligible(const Graph& g, const Node& n, std::string* why) {
  auto no = [&](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
  if (n.op != "Conv") return no("not a Conv");
  if (n.inputs.size() < 2 || !g.is_constant(n.input(1)) || g.is_constant(n.input(0))) return no("weights not constant");
  const Tensor& w = g.constant(n.input(1));
  if (w.dtype() != DType::kFloat32) return no("weights not float32");
  if (w.rank() != 4) return no("not a 2-D conv");
  if (n.input(2) != kNoValue && (!g.is_constant(n.input(2)) || g.constant(n.input(2)).numel() != w.dim(0)))
    return no("bias not a constant per filter");
  const std::string act = n.attr_string("activation", "");
  if (!act.empty() && act != "Relu" && act != "Clip") return no("fused " + act);
  for (const auto& [key, attr] : n.attrs)
    if (key.rfind("eff.quant.", 0) == 0) return no("quantized");
  const std::string pad = n.attr_string("auto_pad", "NOTSET");
  if (pad != "NOTSET" && pad != "VALID") return no("auto_pad " + pad);
  return true;
}

Coverage gate_coverage(const Graph& g) {
  Coverage c;
  for (const LayerInfo& l : find_layers(g)) {
    std::string why;
    if (gate_eligible(g, g.nodes[l.node], &why)) {
      c.gated.push_back(l.name);
    } else {
      c.skipped.push_back(l.name + ": " + why);
    }
  }
  return c;
}

int64_t base_channels_for(double fraction, int64_t channels_per_group) {
  const auto p = static_cast<int64_t>(std::floor(fraction * double(channels_per_group) + 1e-9));
  return std::clamp<int64_t>(p, 1, channels_per_group);
}

double parse_fraction(const std::string& text, const std::string& flag) {
  double v = std::numeric_limits<double>::quiet_NaN();
  char* end = nullptr;
  const size_t slash = text.find('/');
  if (slash != std::string::npos) {
    const std::string a = text.substr(0, slash), b = text.substr(slash + 1);
    char* ea = nullptr;
    const double num = std::strtod(a.c_str(), &ea);
    const double den = std::strtod(b.c_str(), &end);
    if (!a.empty() && !b.empty() && !*ea && !*end && den != 0) v = num / den;
  } else if (!text.empty() && text.back() == '%') {
    const std::string a = text.substr(0, text.size() - 1);
    const double num = std::strtod(a.c_str(), &end);
    if (!a.empty() && !*end) v = num / 100.0;
  } else {
    v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end) v = std::numeric_limits<double>::quiet_NaN();
  }
  if (!(v > 0 && v <= 1)) fail<UsageError>("{}: '{}' is not a fraction in (0, 1] such as 1/4, 0.25 or 25%", flag, text);
  return v;
}

namespace {

// What is wrong with a grouped layer entry for a conv of cg input and mg output channels per
// group ("" when nothing).
std::string grouping_problem(const LayerGate& l, int64_t cg, int64_t mg) {
  if (l.groups < 1 || cg % l.groups != 0 || mg % l.groups != 0)
    return fmt::format("groups {} must divide the {} input and {} output channels per group", l.groups, cg, mg);
  if (l.base_channels != cg / l.groups)
    return fmt::format("base_channels {} must be the {} input channels per group / groups {} = {}", l.base_channels, cg,
                       l.groups, cg / l.groups);
  return "";
}

void set_int(Node& d, const std::string& key, int64_t v) {
  d.attrs[key].kind = Attribute::Kind::kInt;
  d.attrs[key].i = v;
}
void set_float(Node& d, const std::string& key, float v) {
  d.attrs[key].kind = Attribute::Kind::kFloat;
  d.attrs[key].f = v;
}
void set_string(Node& d, const std::string& key, std::string v) {
  d.attrs[key].kind = Attribute::Kind::kString;
  d.attrs[key].s = std::move(v);
}
void set_ints(Node& d, const std::string& key, std::vector<int64_t> v) {
  d.attrs[key].kind = Attribute::Kind::kInts;
  d.attrs[key].ints = std::move(v);
}

}  // namespace

void apply_gates(Graph& g, const GatePlan& plan, bool count_outputs) {
  for (const LayerGate& l : plan.layers) {
    auto it = std::find_if(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.name == l.layer; });
    if (it == g.nodes.end())
      fail<ConfigError>("{}: the gates name layer '{}', which the model lacks", g.source, l.layer);
    Node& n = *it;
    std::string why;
    if (!gate_eligible(g, n, &why)) fail<ConfigError>("{}: cannot be gated: {}", g.where(n), why);
    const Tensor& w = g.constant(n.input(1));
    if (plan.kind == GateKind::kChannel && (l.base_channels < 1 || l.base_channels > w.dim(1)))
      fail<ModelError>("{}: base_channels {} must be in [1, {}]", g.where(n), l.base_channels, w.dim(1));
    if (plan.kind == GateKind::kChannel && plan.grouping != Grouping::kFirst) {
      const std::string why_not =
          grouping_problem(l, w.dim(1), w.dim(0) / std::max<int64_t>(1, n.attr_int("group", 1)));
      if (!why_not.empty()) fail<ModelError>("{}: {}", g.where(n), why_not);
    }
    Node d;
    d.op = kGatedConvOp;
    d.name = n.name;
    d.origin = n.origin;
    d.inputs = {n.input(0), n.input(1)};
    if (n.input(2) != kNoValue) d.inputs.push_back(n.input(2));
    d.outputs = {n.outputs.at(0)};
    set_string(d, "mode", kind_name(plan.kind));
    set_float(d, "threshold", l.threshold);
    if (!l.thresholds.empty()) {
      if (static_cast<int64_t>(l.thresholds.size()) != w.dim(0))
        fail<ConfigError>("{}: {} thresholds for {} output channels", g.where(n), l.thresholds.size(), w.dim(0));
      d.attrs["thresholds"].kind = Attribute::Kind::kFloats;
      d.attrs["thresholds"].floats = l.thresholds;
    }
    set_int(d, "group", n.attr_int("group", 1));
    set_ints(d, "kernel_shape", {w.dim(2), w.dim(3)});
    set_ints(d, "strides", n.attr_ints("strides", {1, 1}));
    set_ints(d, "pads", n.attr_ints("pads", {0, 0, 0, 0}));
    set_ints(d, "dilations", n.attr_ints("dilations", {1, 1}));
    for (const char* key : {"activation", "activation_min", "activation_max"})
      if (n.has_attr(key)) d.attrs[key] = n.attrs.at(key);
    if (plan.kind == GateKind::kChannel) {
      set_int(d, "base_channels", l.base_channels);
      if (plan.grouping != Grouping::kFirst) {
        set_string(d, "grouping", grouping_name(plan.grouping));
        set_int(d, "gate_groups", l.groups);
      }
    } else {
      set_int(d, "bits", l.bits);
      set_int(d, "high_bits", l.high_bits);
      set_int(d, "frac_bits", l.frac_bits);
      set_int(d, "signed", l.is_signed ? 1 : 0);
    }
    if (count_outputs) {
      const ValueId c = g.add_value(l.layer + "/gates_on");
      g.value(c).dtype = DType::kInt64;
      g.value(c).has_type = true;
      d.outputs.push_back(c);
      g.outputs.push_back(c);
    }
    n = std::move(d);
  }
}

void check_gates(const Graph& g, const GatePlan& plan, const std::string& source) {
  for (const LayerGate& l : plan.layers) {
    const Node* n = g.find_node(l.layer);
    if (!n) fail<ConfigError>("{}: layer '{}' is not in {}", source, l.layer, g.source);
    std::string why;
    if (!gate_eligible(g, *n, &why)) fail<ConfigError>("{}: layer '{}' cannot be gated: {}", source, l.layer, why);
    const int64_t cg = g.constant(n->input(1)).dim(1), filters = g.constant(n->input(1)).dim(0);
    if (!l.thresholds.empty() && static_cast<int64_t>(l.thresholds.size()) != filters)
      fail<ConfigError>("{}: layer '{}' has {} output channels, thresholds lists {}", source, l.layer, filters,
                        l.thresholds.size());
    if (plan.kind == GateKind::kPrecision && !(l.bits >= 2 && l.high_bits < l.bits))
      fail<ConfigError>("{}: layer '{}': the engine needs 2 <= bits and high_bits < bits (bits {}, high_bits {})",
                        source, l.layer, l.bits, l.high_bits);
    if (plan.kind == GateKind::kChannel && l.base_channels > cg)
      fail<ConfigError>("{}: layer '{}' has {} input channels per group, base_channels is {}", source, l.layer, cg,
                        l.base_channels);
    if (plan.kind == GateKind::kChannel && plan.grouping != Grouping::kFirst) {
      const std::string why_not = grouping_problem(l, cg, filters / std::max<int64_t>(1, n->attr_int("group", 1)));
      if (!why_not.empty()) fail<ConfigError>("{}: layer '{}': {}", source, l.layer, why_not);
    }
  }
}

void set_thresholds(Graph& g, const std::vector<std::string>& layers,
                    const std::vector<std::vector<float>>& per_channel) {
  for (size_t i = 0; i < layers.size(); ++i) {
    auto it = std::find_if(g.nodes.begin(), g.nodes.end(),
                           [&](const Node& n) { return n.name == layers[i] && n.op == kGatedConvOp; });
    if (it == g.nodes.end()) fail<ModelError>("{}: no gated layer '{}'", g.source, layers[i]);
    it->attrs["thresholds"].kind = Attribute::Kind::kFloats;
    it->attrs["thresholds"].floats = per_channel.at(i);
  }
}

void set_thresholds(Graph& g, const std::vector<std::string>& layers, const std::vector<float>& thresholds) {
  for (size_t i = 0; i < layers.size(); ++i) {
    auto it = std::find_if(g.nodes.begin(), g.nodes.end(),
                           [&](const Node& n) { return n.name == layers[i] && n.op == kGatedConvOp; });
    if (it == g.nodes.end()) fail<ModelError>("{}: no gated layer '{}'", g.source, layers[i]);
    it->attrs["threshold"].f = thresholds.at(i);
  }
}

}  // namespace eff::gating
