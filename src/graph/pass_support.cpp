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

void fold_residual_adds(Graph& g, const std::function<bool(const Node&, ValueId, ValueId)>& accepts,
                        const std::function<void(Node&, ValueId)>& attach) {
  Uses uses(g);
  std::vector<char> dead(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& add = g.nodes[i];
    if (dead[i] || !is_op(add, "Add") || add.num_inputs() != 2 || add.outputs.size() != 1 ||
        add.outputs[0] == kNoValue) {
      continue;
    }
    for (int k = 0; k < 2; ++k) {
      const ValueId y = add.inputs[k], r = add.inputs[1 - k];
      if (y == kNoValue || r == kNoValue || y == r || !uses.internal(y) || g.is_constant(r)) continue;
      const int p = uses.producer[y];
      if (p < 0 || p >= static_cast<int>(i) || dead[p] || !accepts(g.nodes[p], y, r)) continue;
      Node fused = std::move(g.nodes[p]);
      kill(g.nodes[p], dead, static_cast<size_t>(p));
      attach(fused, r);
      fused.outputs[0] = add.outputs[0];
      append_origin(fused, add);
      const ValueId z = add.outputs[0];
      if (uses.internal(z)) {
        const int q = uses.consumers[z][0];
        Node& relu = g.nodes[q];
        if (!dead[q] && is_op(relu, "Relu") && relu.num_inputs() == 1 && relu.outputs.size() == 1 &&
            relu.outputs[0] != kNoValue) {
          Attribute name;
          name.kind = Attribute::Kind::kString;
          name.s = "Relu";
          fused.attrs["activation"] = name;
          fused.outputs[0] = relu.outputs[0];
          append_origin(fused, relu);
          kill(relu, dead, static_cast<size_t>(q));
        }
      }
      uses.producer[fused.outputs[0]] = static_cast<int>(i);
      g.nodes[i] = std::move(fused);
      break;
    }
  }
  erase_dead(g, dead);
}

}  // namespace eff::pass_support
