#include "onnx/node_order.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace eff {

namespace {

std::string node_label(const onnx::NodeProto& n, int index) {
  return fmt::format("'{}' ({})", n.name().empty() ? fmt::format("{}_{}", n.op_type(), index) : n.name(), n.op_type());
}

// Walks from a node left unsorted along inputs produced by other unsorted nodes until a node
// repeats: every unsorted node either lies on a cycle or depends on one, so the walk ends on one.
[[noreturn]] void refuse_cycle(const onnx::GraphProto& graph, const std::vector<std::vector<int>>& producers_of,
                               const std::vector<char>& placed, const std::string& source) {
  const int n = graph.node_size();
  int start = 0;
  while (start < n && placed[start]) ++start;
  std::vector<int> position(n, -1);
  std::vector<int> path;
  int at = start;
  while (position[at] < 0) {
    position[at] = static_cast<int>(path.size());
    path.push_back(at);
    int next = -1;
    for (int p : producers_of[at]) {
      if (!placed[p]) {
        next = p;
        break;
      }
    }
    EFF_ASSERT(next >= 0);
    at = next;
  }
  // path[position[at]..] is the cycle, each node consuming the next one's output; say it in
  // data-flow order.
  std::vector<int> cycle(path.begin() + position[at], path.end());
  std::reverse(cycle.begin(), cycle.end());
  // Start at the node that comes first in the file, so the message does not depend on the walk.
  std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
  constexpr size_t kMaxNamed = 8;
  std::string names;
  for (size_t i = 0; i < cycle.size() && i < kMaxNamed; ++i) {
    names += (i ? " -> " : "") + node_label(graph.node(cycle[i]), cycle[i]);
  }
  if (cycle.size() > kMaxNamed) names += fmt::format(" -> ... ({} nodes)", cycle.size());
  names += " -> " + node_label(graph.node(cycle[0]), cycle[0]);
  fail<ModelError>("{}: the graph has a cycle: {}", source, names);
}

}  // namespace

void sort_nodes_topologically(onnx::GraphProto& graph, const std::string& source) {
  const int n = graph.node_size();
  std::unordered_map<std::string, int> producer;  // value name -> node index (first producer)
  for (int i = 0; i < n; ++i) {
    for (const std::string& out : graph.node(i).output()) {
      if (!out.empty()) producer.emplace(out, i);
    }
  }
  // Graph inputs and initializers shadow node outputs of the same name for ordering; such a
  // duplicate is reported by the converter.
  for (const auto& in : graph.input()) producer.erase(in.name());
  for (const auto& init : graph.initializer()) producer.erase(init.name());

  std::vector<std::vector<int>> producers_of(n);  // distinct producer nodes of each node's inputs
  std::vector<std::vector<int>> consumers(n);
  std::vector<int> waiting(n, 0);
  for (int i = 0; i < n; ++i) {
    for (const std::string& in : graph.node(i).input()) {
      auto it = producer.find(in);
      if (in.empty() || it == producer.end()) continue;
      auto& list = producers_of[i];
      if (std::find(list.begin(), list.end(), it->second) != list.end()) continue;
      list.push_back(it->second);
      consumers[it->second].push_back(i);
      ++waiting[i];
    }
  }

  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;  // lowest file index first
  for (int i = 0; i < n; ++i) {
    if (waiting[i] == 0) ready.push(i);
  }
  std::vector<int> order;
  order.reserve(n);
  std::vector<char> placed(n, 0);
  while (!ready.empty()) {
    const int i = ready.top();
    ready.pop();
    order.push_back(i);
    placed[i] = 1;
    for (int c : consumers[i]) {
      if (--waiting[c] == 0) ready.push(c);
    }
  }
  if (static_cast<int>(order.size()) < n) refuse_cycle(graph, producers_of, placed, source);

  bool sorted = true;
  for (int i = 0; i < n && sorted; ++i) sorted = order[i] == i;
  if (sorted) return;
  google::protobuf::RepeatedPtrField<onnx::NodeProto> reordered;
  reordered.Reserve(n);
  for (int i : order) reordered.Add()->Swap(graph.mutable_node(i));
  graph.mutable_node()->Swap(&reordered);
}

}  // namespace eff
