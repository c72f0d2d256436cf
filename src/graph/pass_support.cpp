// The graph passes' shared helpers (graph/pass_support.h).
#include "graph/pass_support.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_set>

namespace eff::pass_support {

void erase_dead(Graph& g, const std::vector<char>& dead) {
  std::vector<Node> kept;
  kept.reserve(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!dead[i]) kept.push_back(std::move(g.nodes[i]));
  }
  g.nodes = std::move(kept);
}

// Marks node i for erase_dead() and detaches it, so that a fresh Uses no longer sees it.
void kill(Node& n, std::vector<char>& dead, size_t i) {
  n.inputs.clear();
  n.outputs.clear();
  dead[i] = 1;
}

void replace_uses(Graph& g, ValueId from, ValueId to) {
  for (Node& n : g.nodes) {
    std::replace(n.inputs.begin(), n.inputs.end(), from, to);
  }
}

void append_origin(Node& into, const Node& from) {
  into.origin.insert(into.origin.end(), from.origin.begin(), from.origin.end());
}

std::string unique_value_name(const Graph& g, const std::string& base) {
  std::unordered_set<std::string> names;
  for (const Value& v : g.values) names.insert(v.name);
  std::string name = base;
  for (int k = 1; names.count(name); ++k) name = base + "_" + std::to_string(k);
  return name;
}

ValueId add_constant(Graph& g, const std::string& base, Tensor t) {
  ValueId id = g.add_value(unique_value_name(g, base));
  g.value(id).hold_constant(std::move(t));
  return id;
}

void make_constant(Graph& g, ValueId id, Tensor t) {
  g.value(id).hold_constant(std::move(t));
}

bool is_float_constant(const Graph& g, ValueId v) {
  if (!g.is_constant(v)) return false;
  DType t = g.constant(v).dtype();
  return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kFloat64;
}

// A constant holding one number (any rank, e.g. [] or [1]) close to `want`.
bool is_scalar_near(const Graph& g, ValueId v, double want) {
  if (!g.is_constant(v) || g.constant(v).numel() != 1) return false;
  return std::fabs(g.constant(v).get_f64(0) - want) <= 1e-5 * std::max(1.0, std::fabs(want));
}

}  // namespace eff::pass_support
