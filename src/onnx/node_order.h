// Exporters do not always write nodes in execution order (an fp16 converter that appends its Cast
// nodes at the end, graph surgery tools). ONNX requires topological order and so does our IR, so
// the node list is sorted on load, like ONNX Runtime does, before libonnx's checker sees it.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

namespace eff {

// Reorders graph.node() so that every node comes after the producers of its inputs. Stable: a
// graph already in order is left as it is, and among nodes that are ready together the earlier
// one in the file runs first. Inputs that nothing produces are left for the caller to report.
// A cycle is refused with a ModelError naming the nodes on it (`source` names the file).
void sort_nodes_topologically(onnx::GraphProto& graph, const std::string& source);

}  // namespace eff
