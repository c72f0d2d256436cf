// What the graph passes share: op tests that respect the domain, and who reads and writes each
// value, and the edits they make. Internal to src/graph (passes.cpp, fusion_passes.cpp,
// residual_pass.cpp, layout_pass.cpp).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "graph/ir.h"

namespace eff::pass_support {

inline bool is_default_domain(const Node& n) {
  return n.domain.empty() || n.domain == "ai.onnx";
}

inline bool is_op(const Node& n, const char* op) {
  return n.op == op && is_default_domain(n);
}

// Who reads each value: node indices (a node reading a value twice is listed twice), and whether
// it is a graph output.
struct Uses {
  std::vector<std::vector<int>> consumers;
  std::vector<char> graph_output;
  std::vector<int> producer;

  explicit Uses(const Graph& g)
      : consumers(g.values.size()), graph_output(g.values.size(), 0), producer(g.values.size(), -1) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      for (ValueId v : g.nodes[i].inputs) {
        if (v != kNoValue) consumers[v].push_back(static_cast<int>(i));
      }
      for (ValueId v : g.nodes[i].outputs) {
        if (v != kNoValue) producer[v] = static_cast<int>(i);
      }
    }
    for (ValueId v : g.outputs) graph_output[v] = 1;
  }
  // True when `v` is read by exactly one node, once, and is not a graph output: it can vanish
  // inside a fused node.
  bool internal(ValueId v) const { return v != kNoValue && !graph_output[v] && consumers[v].size() == 1; }
  bool used(ValueId v) const { return v != kNoValue && (graph_output[v] || !consumers[v].empty()); }
};

// Removes the nodes marked dead (keeping the order of the rest).
void erase_dead(Graph& g, const std::vector<char>& dead);
// Marks node i for erase_dead() and detaches it, so that a fresh Uses no longer sees it.
void kill(Node& n, std::vector<char>& dead, size_t i);
void replace_uses(Graph& g, ValueId from, ValueId to);
// The ONNX node names merged into `from` are now merged into `into` too.
void append_origin(Node& into, const Node& from);
std::string unique_value_name(const Graph& g, const std::string& base);
ValueId add_constant(Graph& g, const std::string& base, Tensor t);
void make_constant(Graph& g, ValueId id, Tensor t);
bool is_float_constant(const Graph& g, ValueId v);
// Drops the quantization attributes mark_quantized_layers set (engine/quantized_layers.h).
void erase_quantization(Node& n);
// A constant holding one number (any rank, e.g. [] or [1]) close to `want`.
bool is_scalar_near(const Graph& g, ValueId v, double want);

// Folds each residual block's Add (and the Relu read only from its sum, as attribute
// activation=Relu) into the node producing one of its operands, when `accepts(producer, operand,
// shortcut)` holds; `attach(fused, shortcut)` gives the fused node the other operand. Operand 0 is
// tried first; the fused node runs where the Add ran (the shortcut may be computed after the
// producer). Shared by the engine's conv sum post-op (residual_pass.cpp) and DeftLayer convs.
void fold_residual_adds(Graph& g, const std::function<bool(const Node&, ValueId, ValueId)>& accepts,
                        const std::function<void(Node&, ValueId)>& attach);

}  // namespace eff::pass_support
