// What the graph passes share: op tests that respect the domain, and who reads and writes each
// value. Internal to src/graph (passes.cpp, layout_pass.cpp).
#pragma once

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

}  // namespace eff::pass_support
