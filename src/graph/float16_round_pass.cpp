// fp16 round trips as one pass over the data: lower_float16 leaves every Cast(to=FLOAT16) inside
// the graph as that Cast and a Cast back to float (the value keeps float16 precision in float32).
// The pair becomes one Cast(to=FLOAT) with kViaFloat16Attr, which rounds each value to float16 and
// widens it in registers (ops/value_ops.cpp): the fp16 U-Net's casts around its float32 Resize and
// at its input wrote a half-size copy of a 64 MB map and read it back. Such a Cast right after a
// Resize becomes the Resize's own rounding (attribute via_float16 on the Resize).
#include <string>
#include <vector>

#include "graph/pass_support.h"
#include "graph/passes.h"

namespace eff {

using namespace pass_support;  // the vocabulary every pass shares (graph/pass_support.h)

namespace {

constexpr int64_t kOnnxFloat = 1;     // TensorProto::FLOAT
constexpr int64_t kOnnxFloat16 = 10;  // TensorProto::FLOAT16

bool is_cast_to(const Node& n, int64_t to) {
  return is_op(n, "Cast") && n.attr_int("to", -1) == to && n.num_inputs() == 1 && n.outputs.size() == 1 &&
         n.outputs[0] != kNoValue && n.inputs[0] != kNoValue;
}

// A fused round trip whose input is a float32 Resize read by nothing else (the fp16 U-Net's
// upsampling output): the Resize rounds each value as it writes it (ops/resize.cpp), one pass over
// a 64 MB map fewer.
void fold_rounding_into_resizes(Graph& g) {
  const Uses uses(g);
  std::vector<int> producer(g.values.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (ValueId v : g.nodes[i].outputs) {
      if (v != kNoValue) producer[v] = static_cast<int>(i);
    }
  }
  std::vector<char> dead(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& cast = g.nodes[i];
    if (!is_cast_to(cast, kOnnxFloat) || cast.attr_int(kViaFloat16Attr, 0) == 0) continue;
    const ValueId mid = cast.inputs[0];
    if (producer[mid] < 0 || !uses.internal(mid)) continue;
    Node& resize = g.nodes[producer[mid]];
    const Value& v = g.value(mid);
    if (!is_op(resize, "Resize") || resize.outputs.size() != 1 || resize.has_attr(kViaFloat16Attr) || !v.has_type ||
        v.dtype != DType::kFloat32) {
      continue;
    }
    Attribute yes;
    yes.kind = Attribute::Kind::kInt;
    yes.i = 1;
    resize.attrs[kViaFloat16Attr] = yes;
    resize.outputs[0] = cast.outputs[0];
    resize.origin.insert(resize.origin.end(), cast.origin.begin(), cast.origin.end());
    dead[i] = 1;
  }
  erase_dead(g, dead);
}

}  // namespace

void fold_float16_round_trips(Graph& g) {
  const Uses uses(g);
  std::vector<char> dead(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& narrow = g.nodes[i];
    if (!is_cast_to(narrow, kOnnxFloat16) || !uses.internal(narrow.outputs[0])) continue;
    const int reader = uses.consumers[narrow.outputs[0]][0];
    Node& widen = g.nodes[reader];
    if (!is_cast_to(widen, kOnnxFloat)) continue;
    const Value& in = g.value(narrow.inputs[0]);
    if (!in.has_type || (in.dtype != DType::kFloat32 && in.dtype != DType::kFloat16)) continue;
    // The fused node takes the widening Cast's place (its output's readers come after it) and the
    // model's name for the rounding.
    Node fused = widen;
    fused.name = narrow.name;
    fused.origin = narrow.origin;
    fused.inputs = {narrow.inputs[0]};
    Attribute yes;
    yes.kind = Attribute::Kind::kInt;
    yes.i = 1;
    fused.attrs[kViaFloat16Attr] = yes;
    widen = std::move(fused);
    dead[i] = 1;
  }
  erase_dead(g, dead);
  fold_rounding_into_resizes(g);
}

}  // namespace eff
