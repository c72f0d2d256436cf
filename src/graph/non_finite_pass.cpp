// mark_non_finite_orders (graph/passes.h): the graph variant for inputs holding NaN/Inf takes
// ONNX Runtime's fold order where an op's result with NaN depends on it, and direct convolution.
#include <algorithm>
#include <limits>

#include "graph/pass_support.h"
#include "graph/passes.h"

namespace eff {

using namespace pass_support;

void mark_non_finite_orders(Graph& g) {
  const Uses uses(g);
  for (Node& n : g.nodes) {
    if (is_op(n, "Conv")) {
      Attribute direct;
      direct.kind = Attribute::Kind::kInt;
      direct.i = 1;
      n.attrs[kDirectConvAttr] = direct;
      continue;
    }
    if (!is_op(n, "MaxPool") || n.num_inputs() != 1 || n.input(0) == kNoValue) continue;
    if (n.outputs.size() > 1 && n.outputs[1] != kNoValue) continue;  // Indices: a loop of its own
    const std::vector<int64_t> kernel = n.attr_ints("kernel_shape", {});
    const std::vector<int64_t> dilations = n.attr_ints("dilations", {1, 1});
    if (kernel.size() != 2 || dilations != std::vector<int64_t>{1, 1}) continue;
    const Value& x = g.value(n.input(0));
    if (!x.has_type || (x.dtype != DType::kFloat32 && x.dtype != DType::kFloat16)) continue;
    const bool half = x.dtype == DType::kFloat16;
    const bool blocks = x.has_shape && x.shape.size() == 4 && x.shape[1] > 0 && x.shape[1] % kBlockedChannels == 0;
    // Measured (tools/make_non_finite_fixtures.py): a float32 pool of 16k channels runs ONNX
    // Runtime's NCHWc kernel; a float16 one only after a node (a Conv), not on a graph input.
    const bool taps = blocks && (!half || uses.producer[n.input(0)] >= 0);
    Attribute order;
    order.kind = Attribute::Kind::kInt;
    order.i = taps ? 1 : 2;
    n.attrs[kMaxPoolFoldAttr] = order;
    Attribute lowest;
    lowest.kind = Attribute::Kind::kFloat;
    lowest.f = half ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::lowest();
    n.attrs[kMaxPoolLowestAttr] = lowest;
  }
}

}  // namespace eff
