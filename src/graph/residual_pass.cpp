// A residual block's Add (and the Relu after it) into the Conv that produces one of its operands
// (graph/passes.h fuse_residual_adds): the conv then adds the other operand as oneDNN's sum
// post-op, so the block no longer writes the conv's result, reads it back with the shortcut and
// writes the sum (and again for the Relu).
#include <algorithm>
#include <array>

#include "graph/pass_support.h"
#include "graph/passes.h"

namespace eff {

using namespace pass_support;  // the vocabulary every pass shares (graph/pass_support.h)

namespace {

// A conv the kernel knows how to fuse: ONNX attributes and the layout pass's only (a quantized,
// gated or otherwise rewritten layer carries attributes of its own and stays as it is), no
// activation of its own (that would come before the Add), 2-3 inputs.
bool plain_conv(const Node& n) {
  if (!is_op(n, "Conv") || n.outputs.size() != 1 || n.num_inputs() < 2 || n.num_inputs() > 3) return false;
  static constexpr std::array<const char*, 8> known = {"auto_pad", "dilations", "group",           "kernel_shape",
                                                       "pads",     "strides",   kBlockedInputAttr, kBlockedOutputAttr};
  for (const auto& attr : n.attrs) {
    const std::string& name = attr.first;  // not a structured binding: clang 14 cannot capture one
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return name == k; })) return false;
  }
  return true;
}

// Both values float32 of one static shape of rank 3-5 (the post-op does not broadcast). Only the
// batch may be dynamic, and then it must be the same named dimension on both (the kernel refuses
// a run where the two still differ).
bool same_shape(const Graph& g, ValueId a, ValueId b) {
  const Value& va = g.value(a);
  const Value& vb = g.value(b);
  if (!va.has_shape || !vb.has_shape || va.shape != vb.shape || va.shape.size() < 3 || va.shape.size() > 5) {
    return false;
  }
  if (!va.has_type || !vb.has_type || va.dtype != DType::kFloat32 || vb.dtype != DType::kFloat32) return false;
  if (va.shape[0] < 0) {
    if (va.dim_names.empty() || vb.dim_names.empty() || va.dim_names[0].empty() || va.dim_names[0] != vb.dim_names[0]) {
      return false;
    }
  }
  return std::all_of(va.shape.begin() + 1, va.shape.end(), [](int64_t d) { return d >= 0; });
}

}  // namespace

void fuse_residual_adds(Graph& g) {
  fold_residual_adds(
      g,
      [&g](const Node& producer, ValueId operand, ValueId shortcut) {
        return plain_conv(producer) && same_shape(g, operand, shortcut);
      },
      [](Node& fused, ValueId shortcut) {
        // The layout pass made the Add blocked exactly when the conv writes blocked (both operands
        // and the sum share one layout), so the shortcut is in the conv's output layout.
        fused.inputs.resize(3, kNoValue);
        fused.inputs.push_back(shortcut);
        Attribute yes;
        yes.kind = Attribute::Kind::kInt;
        yes.i = 1;
        fused.attrs[kResidualAddAttr] = yes;
      });
}

}  // namespace eff
