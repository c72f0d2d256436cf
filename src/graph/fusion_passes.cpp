// Fusions: BatchNormalization into the layer before it, HardSwish spelled out in primitive ops,
// and activations into the layer that produces their input (graph/passes.h).
#include <algorithm>
#include <cmath>
#include <limits>

#include "graph/pass_support.h"
#include "graph/passes.h"

namespace eff {

using namespace pass_support;  // the vocabulary every pass shares (graph/pass_support.h)

// ---- BatchNormalization into Conv / ConvTranspose / Gemm ---------------------------------------

namespace {

// For each weight element, the output channel it contributes to; empty if the layout is not one
// we can rescale per output channel.
std::vector<int64_t> output_channel_of_weights(const Node& layer, const Tensor& w, int64_t& channels) {
  std::vector<int64_t> oc;
  if (w.rank() < 2 || w.numel() == 0) return oc;
  const int64_t n = w.numel();
  oc.resize(static_cast<size_t>(n));
  if (layer.op == "Conv") {
    channels = w.dim(0);
    const int64_t inner = n / channels;
    for (int64_t e = 0; e < n; ++e) oc[e] = e / inner;
  } else if (layer.op == "ConvTranspose") {
    // Weights are [C_in, C_out / group, k...]; output channel = group index * C_out/group + m.
    const int64_t group = layer.attr_int("group", 1);
    const int64_t cin = w.dim(0), per_group = w.dim(1);
    if (group <= 0 || cin % group != 0) return {};
    channels = per_group * group;
    const int64_t inner = n / (cin * per_group);
    for (int64_t e = 0; e < n; ++e) {
      const int64_t c = e / (per_group * inner);
      const int64_t m = (e / inner) % per_group;
      oc[e] = (c / (cin / group)) * per_group + m;
    }
  } else if (layer.op == "Gemm") {
    if (w.rank() != 2) return {};
    const bool trans_b = layer.attr_int("transB", 0) != 0;
    channels = trans_b ? w.dim(0) : w.dim(1);
    const int64_t cols = w.dim(1);
    for (int64_t e = 0; e < n; ++e) oc[e] = trans_b ? e / cols : e % cols;
  } else {
    return {};
  }
  return oc;
}

bool try_fold_batchnorm(Graph& g, Uses& uses, size_t bn_index, std::vector<char>& dead) {
  const Node& bn = g.nodes[bn_index];
  if (bn.attr_int("training_mode", 0) != 0 || bn.outputs.empty() || bn.outputs[0] == kNoValue) return false;
  for (size_t k = 1; k < bn.outputs.size(); ++k) {
    if (uses.used(bn.outputs[k])) return false;  // running statistics are read: training graph
  }
  const ValueId x = bn.input(0);
  if (x == kNoValue || !uses.internal(x) || uses.producer[x] < 0) return false;
  const int li = uses.producer[x];
  Node& layer = g.nodes[li];
  if (!(is_op(layer, "Conv") || is_op(layer, "ConvTranspose") || is_op(layer, "Gemm"))) return false;
  if (layer.outputs.size() != 1 || layer.has_attr("activation")) return false;
  const ValueId wv = layer.input(1);
  if (wv == kNoValue || !g.is_constant(wv) || g.constant(wv).dtype() != DType::kFloat32) return false;
  for (int k = 1; k <= 4; ++k) {
    if (!is_float_constant(g, bn.input(k))) return false;
  }
  const Tensor& w = g.constant(wv);
  int64_t channels = 0;
  const std::vector<int64_t> oc = output_channel_of_weights(layer, w, channels);
  if (oc.empty() || channels <= 0) return false;
  for (int k = 1; k <= 4; ++k) {
    if (g.constant(bn.input(k)).numel() != channels) return false;
  }

  // Existing bias as seen by the output: Gemm adds beta * C.
  std::vector<double> bias(static_cast<size_t>(channels), 0.0);
  const ValueId bv = layer.input(2);
  if (bv != kNoValue) {
    if (!is_float_constant(g, bv)) return false;
    const Tensor& b = g.constant(bv);
    double scale = 1.0;
    if (layer.op == "Gemm") {
      const bool per_column = b.numel() == channels && (b.rank() == 1 || (b.rank() == 2 && b.dim(0) == 1));
      if (b.numel() != 1 && !per_column) return false;
      scale = layer.attr_float("beta", 1.0f);
    } else if (b.numel() != channels) {
      return false;
    }
    for (int64_t c = 0; c < channels; ++c) bias[c] = scale * b.get_f64(b.numel() == 1 ? 0 : c);
  }

  const double eps = bn.attr_float("epsilon", 1e-5f);
  const std::vector<float> gamma = g.constant(bn.input(1)).to_f32_vector();
  const std::vector<float> beta = g.constant(bn.input(2)).to_f32_vector();
  const std::vector<float> mean = g.constant(bn.input(3)).to_f32_vector();
  const std::vector<float> var = g.constant(bn.input(4)).to_f32_vector();
  std::vector<double> s(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    if (!(var[c] + eps > 0)) return false;  // would divide by zero or NaN: leave it to the BN kernel
    s[c] = gamma[c] / std::sqrt(static_cast<double>(var[c]) + eps);
  }

  Tensor new_w = w.clone();
  float* wd = new_w.data<float>();
  for (size_t e = 0; e < oc.size(); ++e) wd[e] = static_cast<float>(wd[e] * s[oc[e]]);
  std::vector<float> new_b(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) new_b[c] = static_cast<float>((bias[c] - mean[c]) * s[c] + beta[c]);

  const std::string wname = g.value(wv).name;
  const std::string bname = bv != kNoValue ? g.value(bv).name : layer.name + ".bias";
  const std::vector<float> bias_values = std::move(new_b);
  ValueId new_wv = add_constant(g, wname + "_bnfolded", std::move(new_w));
  ValueId new_bv = add_constant(g, bname + "_bnfolded", Tensor::from<float>({channels}, bias_values));

  Node& l = g.nodes[li];  // add_constant may not touch nodes, but re-fetch for clarity
  if (l.inputs.size() < 3) l.inputs.resize(3, kNoValue);
  l.inputs[1] = new_wv;
  l.inputs[2] = new_bv;
  if (l.op == "Gemm") {
    Attribute one;
    one.kind = Attribute::Kind::kFloat;
    one.f = 1.0f;
    l.attrs["beta"] = one;
  }
  erase_quantization(l);  // the rescaled weights are no longer codes x scale
  const Node& b = g.nodes[bn_index];
  l.outputs[0] = b.outputs[0];
  append_origin(l, b);
  kill(g.nodes[bn_index], dead, bn_index);
  uses = Uses(g);
  return true;
}

}  // namespace

void fold_batchnorm(Graph& g) {
  Uses uses(g);
  std::vector<char> dead(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (is_op(g.nodes[i], "BatchNormalization")) try_fold_batchnorm(g, uses, i, dead);
  }
  erase_dead(g, dead);
}

// ---- HardSwish ---------------------------------------------------------------------------------

namespace {

// The single live consumer of `v` if `v` is internal, else -1.
int sole_consumer(const Uses& uses, const std::vector<char>& dead, ValueId v) {
  if (!uses.internal(v)) return -1;
  const int c = uses.consumers[v][0];
  return dead[c] ? -1 : c;
}

// `n` is a binary op `op` reading `a` and a constant scalar near `k` (in either order); returns
// the non-constant input.
ValueId binary_with_scalar(const Graph& g, const Node& n, const char* op, double k) {
  if (!is_op(n, op) || n.num_inputs() != 2 || n.outputs.size() != 1) return kNoValue;
  if (is_scalar_near(g, n.inputs[1], k) && !g.is_constant(n.inputs[0])) return n.inputs[0];
  if (is_scalar_near(g, n.inputs[0], k) && !g.is_constant(n.inputs[1])) return n.inputs[1];
  return kNoValue;
}

// Mul(x, v) or Mul(v, x): true when it multiplies x by v.
bool is_mul_of(const Node& n, ValueId x, ValueId v) {
  if (!is_op(n, "Mul") || n.num_inputs() != 2 || n.outputs.size() != 1) return false;
  return (n.inputs[0] == x && n.inputs[1] == v) || (n.inputs[0] == v && n.inputs[1] == x);
}

// x / 6 or x * (1/6): returns the divided value.
ValueId divided_by_six(const Graph& g, const Node& n) {
  ValueId a = binary_with_scalar(g, n, "Div", 6.0);
  if (is_op(n, "Div") && a != n.inputs[0]) return kNoValue;  // 6 / x is something else
  if (a == kNoValue) a = binary_with_scalar(g, n, "Mul", 1.0 / 6.0);
  return a;
}

bool is_clip_0_6(const Graph& g, const Node& n) {
  if (!is_op(n, "Clip") || n.outputs.size() != 1) return false;
  if (n.has_attr("min") || n.has_attr("max")) {  // before opset 11
    return n.num_inputs() == 1 && n.has_attr("min") && n.has_attr("max") &&
           std::fabs(n.attr_float("min", -1) - 0.0f) <= 1e-6f && std::fabs(n.attr_float("max", -1) - 6.0f) <= 1e-5f;
  }
  return n.num_inputs() == 3 && is_scalar_near(g, n.inputs[1], 0.0) && is_scalar_near(g, n.inputs[2], 6.0);
}

void replace_with_hardswish(Graph& g, std::vector<int> matched, ValueId x, std::vector<char>& dead) {
  std::sort(matched.begin(), matched.end());
  Node& last = g.nodes[matched.back()];
  std::vector<std::string> origin;
  for (int i : matched) {
    const Node& n = g.nodes[i];
    origin.insert(origin.end(), n.origin.begin(), n.origin.end());
    if (i != matched.back()) kill(g.nodes[i], dead, i);
  }
  last.op = "HardSwish";
  last.domain.clear();
  last.inputs = {x};
  last.attrs.clear();
  last.origin = std::move(origin);
}

}  // namespace

void fuse_hardswish(Graph& g) {
  Uses uses(g);
  std::vector<char> dead(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (dead[i]) continue;
    const Node& n = g.nodes[i];
    const int ni = static_cast<int>(i);
    if (is_op(n, "HardSigmoid") && n.num_inputs() == 1 && n.outputs.size() == 1 &&
        std::fabs(n.attr_float("alpha", 0.2f) - 1.0f / 6.0f) <= 1e-5f &&
        std::fabs(n.attr_float("beta", 0.5f) - 0.5f) <= 1e-5f) {
      const ValueId x = n.inputs[0];
      const int m = sole_consumer(uses, dead, n.outputs[0]);
      if (m >= 0 && is_mul_of(g.nodes[m], x, n.outputs[0])) replace_with_hardswish(g, {ni, m}, x, dead);
      continue;
    }
    // Add(x, 3) -> Clip(0, 6) -> then x * clip / 6 in one of its spellings.
    const ValueId x = binary_with_scalar(g, n, "Add", 3.0);
    if (x == kNoValue) continue;
    const int clip = sole_consumer(uses, dead, n.outputs[0]);
    if (clip < 0 || !is_clip_0_6(g, g.nodes[clip]) || g.nodes[clip].inputs[0] != n.outputs[0]) continue;
    const ValueId cv = g.nodes[clip].outputs[0];
    const int k = sole_consumer(uses, dead, cv);
    if (k < 0) continue;
    const Node& kn = g.nodes[k];
    if (is_mul_of(kn, x, cv)) {  // (x * clip) / 6
      const int d = sole_consumer(uses, dead, kn.outputs[0]);
      if (d >= 0 && divided_by_six(g, g.nodes[d]) == kn.outputs[0])
        replace_with_hardswish(g, {ni, clip, k, d}, x, dead);
    } else if (divided_by_six(g, kn) == cv) {  // x * (clip / 6)
      const int m = sole_consumer(uses, dead, kn.outputs[0]);
      if (m >= 0 && is_mul_of(g.nodes[m], x, kn.outputs[0])) replace_with_hardswish(g, {ni, clip, k, m}, x, dead);
    }
  }
  erase_dead(g, dead);
}

// ---- activations into the producing layer ------------------------------------------------------

namespace {

// Clip's bounds when both are known at load time (attributes before opset 11, constant scalar
// inputs after; an omitted bound is unbounded).
bool constant_clip_bounds(const Graph& g, const Node& clip, float& lo, float& hi) {
  lo = std::numeric_limits<float>::lowest();
  hi = std::numeric_limits<float>::max();
  if (clip.has_attr("min") || clip.has_attr("max")) {
    if (clip.num_inputs() != 1) return false;
    lo = clip.attr_float("min", lo);
    hi = clip.attr_float("max", hi);
    return lo <= hi;
  }
  for (int k = 1; k <= 2; ++k) {
    const ValueId v = clip.input(k);
    if (v == kNoValue) continue;
    if (!g.is_constant(v) || g.constant(v).numel() != 1 || g.constant(v).dtype() != DType::kFloat32) return false;
    (k == 1 ? lo : hi) = g.constant(v).data<float>()[0];
  }
  return lo <= hi;
}

// SiLU as exporters write it (EfficientNet, YOLO): Sigmoid(x) read only by Mul(x, Sigmoid(x)),
// x read by nothing else. Returns the Mul's index, or -1.
int swish_mul(const Graph& g, const Uses& uses, const std::vector<char>& dead, const Node& sigmoid) {
  if (!is_op(sigmoid, "Sigmoid") || sigmoid.num_inputs() != 1 || sigmoid.outputs.size() != 1) return -1;
  const ValueId x = sigmoid.inputs[0], s = sigmoid.outputs[0];
  if (x == kNoValue || s == kNoValue || uses.graph_output[x] || uses.consumers[x].size() != 2) return -1;
  const int m = sole_consumer(uses, dead, s);
  if (m < 0 || !is_mul_of(g.nodes[m], x, s) || g.nodes[m].outputs[0] == kNoValue) return -1;
  return m;
}

}  // namespace

void fuse_activations(Graph& g) {
  Uses uses(g);
  std::vector<char> dead(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& act = g.nodes[i];
    const bool relu = is_op(act, "Relu"), clip = is_op(act, "Clip"), hardswish = is_op(act, "HardSwish");
    const int swish = dead[i] ? -1 : swish_mul(g, uses, dead, act);
    if (!(relu || clip || hardswish || swish >= 0) || act.input(0) == kNoValue || act.outputs.size() != 1 ||
        act.outputs[0] == kNoValue) {
      continue;
    }
    if (!clip && act.num_inputs() != 1) continue;
    float lo = 0.f, hi = 0.f;
    if (clip && !constant_clip_bounds(g, act, lo, hi)) continue;
    const ValueId in = act.inputs[0];
    if (!(uses.internal(in) || swish >= 0) || uses.producer[in] < 0) continue;
    Node& layer = g.nodes[uses.producer[in]];
    // Relu also into ConvTranspose, Gemm and MatMul; Clip, HardSwish (MobileNets) and Swish
    // (x * Sigmoid(x): EfficientNets) into Conv only.
    const bool fusable = is_op(layer, "Conv") ||
                         (relu && (is_op(layer, "ConvTranspose") || is_op(layer, "Gemm") || is_op(layer, "MatMul")));
    if (!fusable || layer.outputs.size() != 1 || layer.has_attr("activation")) continue;
    Attribute name;
    name.kind = Attribute::Kind::kString;
    name.s = relu ? "Relu" : clip ? "Clip" : hardswish ? "HardSwish" : "Swish";
    if (swish >= 0) {  // the Mul goes too: the layer writes the Mul's output
      Node& mul = g.nodes[swish];
      layer.attrs["activation"] = name;
      layer.outputs[0] = mul.outputs[0];
      uses.producer[mul.outputs[0]] = uses.producer[in];
      append_origin(layer, act);
      append_origin(layer, mul);
      kill(g.nodes[i], dead, i);
      kill(mul, dead, static_cast<size_t>(swish));
      continue;
    }
    layer.attrs["activation"] = name;
    if (clip) {
      Attribute bound;
      bound.kind = Attribute::Kind::kFloat;
      bound.f = lo;
      layer.attrs["activation_min"] = bound;
      bound.f = hi;
      layer.attrs["activation_max"] = bound;
    }
    layer.outputs[0] = act.outputs[0];
    uses.producer[act.outputs[0]] = uses.producer[in];
    append_origin(layer, act);
    kill(g.nodes[i], dead, i);
  }
  erase_dead(g, dead);
}

}  // namespace eff
