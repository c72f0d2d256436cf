// QDQ node groups -> integer ops, as ONNX Runtime's CPU provider fuses them (its QDQ selectors
// and actions, ORT 1.30), so that a QDQ model computes what ORT computes, code for code:
//
//   DQ(x) + DQ(const 8-bit w) [+ DQ(const int32 bias)] -> Conv            -> Q  => QLinearConv
//   DQ(x) + DQ(const 8-bit w, rank 2)                  -> MatMul          -> Q  => QLinearMatMul
//   DQ(x) + DQ(const 8-bit w) [+ DQ(const int32 bias)] -> Gemm            -> Q  => QLinearMatMul
//                                                         (weights transposed for transB; bias
//                                                          as an internal 9th input)
//   DQ(a) + DQ(b)                                       -> Add             -> Q  => QLinearAdd
//   DQ(x)                                               -> GlobalAveragePool -> Q
//                                                                           => QLinearGlobalAveragePool
//
// First, as ORT's QDQ propagation does, DQ -> Reshape/Flatten/Squeeze/Unsqueeze/Transpose becomes
// the op on the codes followed by the DQ, and DQ -> Q pairs with equal parameters vanish (the
// codes pass through): so a Gemm behind a Reshape sees its DQ, and Q/DQ around a Flatten go.
//
// A Relu between the op and the Q is dropped when the Q's zero point is its lowest code, a Clip
// when its bounds lie outside what the Q can represent (ORT's ReluQuantFusion/ClipQuantFusion):
// the Q's saturation then does the same. Activations must be per-tensor 8-bit with constant
// parameters; every DequantizeLinear left without a reader disappears. The fused node keeps the
// op's name (layers keep their names) and the eff.quant.* attributes mark_quantized_layers set.
#include <algorithm>
#include <cmath>
#include <optional>

#include "engine/quantized_layers.h"
#include "graph/pass_support.h"
#include "graph/passes.h"

namespace eff {

using namespace pass_support;

namespace {

bool is_8bit(DType t) {
  return t == DType::kInt8 || t == DType::kUInt8;
}

// A scale/zero-point pair with constant, one-element parameters.
struct Quant {
  ValueId codes = kNoValue, scale = kNoValue, zero = kNoValue;
  DType type = DType::kUInt8;
  float scale_value = 1.0f;
  int32_t zero_value = 0;
};

bool scalar_param(const Graph& g, ValueId v) {
  return g.is_constant(v) && g.constant(v).numel() == 1;
}

// The per-tensor parameters of a QuantizeLinear or DequantizeLinear node (data type from the zero
// point, else the data for DQ, uint8 for Q).
bool per_tensor(const Graph& g, const Node& n, Quant& q) {
  if (n.num_inputs() < 2 || !scalar_param(g, n.input(1)) || g.constant(n.input(1)).dtype() != DType::kFloat32) {
    return false;
  }
  if (n.input(2) != kNoValue && !scalar_param(g, n.input(2))) return false;
  q.scale = n.input(1);
  q.zero = n.input(2);
  q.scale_value = g.constant(q.scale).to_f32_vector()[0];
  if (q.zero != kNoValue) {
    q.type = g.constant(q.zero).dtype();
    q.zero_value = static_cast<int32_t>(g.constant(q.zero).get_i64(0));
  } else if (n.op == "DequantizeLinear") {
    const Value& x = g.value(n.inputs[0]);
    if (!x.has_type) return false;
    q.type = x.dtype;
  }
  return is_8bit(q.type) && q.scale_value > 0 && std::isfinite(q.scale_value);
}

// The DequantizeLinear writing `v` with per-tensor 8-bit parameters.
bool dq_activation(const Graph& g, const Uses& uses, ValueId v, Quant& q) {
  if (v == kNoValue || uses.producer[v] < 0) return false;
  const Node& d = g.nodes[uses.producer[v]];
  if (!is_op(d, "DequantizeLinear") || !per_tensor(g, d, q)) return false;
  q.codes = d.inputs[0];
  return true;
}

// The DequantizeLinear of constant 8-bit weights writing `v`: per-tensor, or per index along
// `axis` (after normalising negative axes).
struct WeightDq {
  const Node* node = nullptr;
  const Tensor* codes = nullptr;
  std::vector<float> scale;
  std::vector<int64_t> zero;
};

bool dq_weights(const Graph& g, const Uses& uses, ValueId v, int axis, WeightDq& w) {
  if (v == kNoValue || uses.producer[v] < 0) return false;
  const Node& d = g.nodes[uses.producer[v]];
  if (!is_op(d, "DequantizeLinear") || !g.is_constant(d.input(0)) || !g.is_constant(d.input(1))) return false;
  if (d.input(2) != kNoValue && !g.is_constant(d.input(2))) return false;
  const Tensor& codes = g.constant(d.inputs[0]);
  const Tensor& scale = g.constant(d.input(1));
  if (!is_8bit(codes.dtype()) || scale.dtype() != DType::kFloat32 || scale.numel() < 1) return false;
  if (scale.numel() > 1) {
    int64_t a = d.attr_int("axis", 1);
    if (a < 0) a += codes.rank();
    if (a != axis || axis >= codes.rank() || codes.dim(axis) != scale.numel()) return false;
  }
  w.node = &d;
  w.codes = &codes;
  w.scale = scale.to_f32_vector();
  if (d.input(2) != kNoValue) {
    const Tensor& z = g.constant(d.input(2));
    if (z.dtype() != codes.dtype() || z.numel() != scale.numel()) return false;
    w.zero = z.to_i64_vector();
  } else {
    w.zero.assign(w.scale.size(), 0);
  }
  return std::all_of(w.scale.begin(), w.scale.end(), [](float s) { return s > 0 && std::isfinite(s); });
}

// The constant int32 bias codes behind a DequantizeLinear (zero point 0), as ORT takes them.
const Node* dq_bias(const Graph& g, const Uses& uses, ValueId v, int64_t channels) {
  if (v == kNoValue || uses.producer[v] < 0) return nullptr;
  const Node& d = g.nodes[uses.producer[v]];
  if (!is_op(d, "DequantizeLinear") || !g.is_constant(d.input(0))) return nullptr;
  const Tensor& b = g.constant(d.inputs[0]);
  if (b.dtype() != DType::kInt32 || b.numel() != channels || b.rank() != 1) return nullptr;
  if (d.input(2) == kNoValue) return &d;
  if (!g.is_constant(d.input(2))) return nullptr;
  const std::vector<int64_t> zeros = g.constant(d.input(2)).to_i64_vector();
  return std::all_of(zeros.begin(), zeros.end(), [](int64_t z) { return z == 0; }) ? &d : nullptr;
}

// The QuantizeLinear that is the only reader of `v` (through a Relu or Clip the Q's saturation
// makes redundant), with per-tensor 8-bit parameters; `between` gets the dropped node, if any.
const Node* sole_q(const Graph& g, const Uses& uses, ValueId v, Quant& q, int& between) {
  between = -1;
  if (!uses.internal(v)) return nullptr;
  const int next = uses.consumers[v][0];
  const Node* n = &g.nodes[next];
  if (is_op(*n, "Relu") || is_op(*n, "Clip")) {
    if (!uses.internal(n->outputs[0])) return nullptr;
    between = next;
    n = &g.nodes[uses.consumers[n->outputs[0]][0]];
  }
  if (!is_op(*n, "QuantizeLinear") || !per_tensor(g, *n, q)) return nullptr;
  q.codes = n->outputs[0];
  if (between < 0) return n;
  const Node& act = g.nodes[between];
  const int32_t lo = q.type == DType::kInt8 ? -128 : 0, hi = q.type == DType::kInt8 ? 127 : 255;
  if (act.op == "Relu") return q.zero_value == lo ? n : nullptr;
  // Clip: redundant when [min, max] covers every value the codes can represent.
  float cmin = -INFINITY, cmax = INFINITY;
  if (act.has_attr("min") || act.has_attr("max")) {
    cmin = act.attr_float("min", -INFINITY);
    cmax = act.attr_float("max", INFINITY);
  }
  for (int i : {1, 2}) {
    const ValueId b = act.input(i);
    if (b == kNoValue) continue;
    if (!scalar_param(g, b)) return nullptr;
    (i == 1 ? cmin : cmax) = static_cast<float>(g.constant(b).get_f64(0));
  }
  const float qlo = static_cast<float>(lo - q.zero_value) * q.scale_value;
  const float qhi = static_cast<float>(hi - q.zero_value) * q.scale_value;
  return cmin <= qlo && cmax >= qhi ? n : nullptr;
}

ValueId zero_value_or_default(Graph& g, const Quant& q, const std::string& base) {
  if (q.zero != kNoValue) return q.zero;
  return add_constant(g, base + "_zero_point", Tensor::from<uint8_t>({}, {0}));
}

ValueId weight_zero(Graph& g, const WeightDq& w, DType type, const std::string& base) {
  if (w.node->input(2) != kNoValue) return w.node->input(2);
  Tensor z(type, {static_cast<int64_t>(w.scale.size())});
  std::fill_n(static_cast<char*>(z.raw()), z.numel(), 0);
  return add_constant(g, base + "_w_zero_point", std::move(z));
}

// Rewrites node i in place as `op` with `inputs` writing the Q's output; the Q (and the dropped
// Relu/Clip) die.
void become(Graph& g, size_t i, const char* op, std::vector<ValueId> inputs, const Node& q, int between,
            std::vector<char>& dead) {
  Node& n = g.nodes[i];
  n.op = op;
  n.domain.clear();
  n.inputs = std::move(inputs);
  n.outputs = {q.outputs[0]};
  for (const char* key : {"alpha", "beta", "transA", "transB"}) n.attrs.erase(key);
  if (between >= 0) {
    append_origin(n, g.nodes[between]);
    kill(g.nodes[between], dead, static_cast<size_t>(between));
  }
  append_origin(n, q);
  const size_t qi = static_cast<size_t>(&q - g.nodes.data());
  kill(g.nodes[qi], dead, qi);
}

// Conv and Gemm/MatMul: activations and weights through DQ, optional int32 bias through DQ.
bool fuse_layer(Graph& g, const Uses& uses, size_t i, std::vector<char>& dead) {
  const Node& n = g.nodes[i];
  const bool conv = is_op(n, "Conv"), gemm = is_op(n, "Gemm"), matmul = is_op(n, "MatMul");
  if (!conv && !gemm && !matmul) return false;
  if (gemm &&
      (n.attr_int("transA", 0) != 0 || n.attr_float("alpha", 1.0f) != 1.0f || n.attr_float("beta", 1.0f) != 1.0f)) {
    return false;
  }
  Quant x, y;
  if (!dq_activation(g, uses, n.input(0), x)) return false;
  // Gemm's A is 2-D by the spec (MatMul's any rank, as QLinearMatMul's): no static shape needed.
  const bool trans_b = gemm && n.attr_int("transB", 0) != 0;
  // Output channels run along axis 0 of conv weights [M, C/g, k...], the columns of MatMul
  // weights [K, N], axis 0 of transposed Gemm weights [N, K].
  const int axis = conv || trans_b ? 0 : 1;
  WeightDq w;
  if (!dq_weights(g, uses, n.input(1), axis, w)) return false;
  if (!conv && w.codes->rank() != 2) return false;
  if (conv && w.codes->rank() < 3) return false;
  const int64_t channels = w.codes->dim(axis);
  const Node* bias = nullptr;
  if (n.input(2) != kNoValue) {
    if (matmul) return false;
    bias = dq_bias(g, uses, n.input(2), channels);
    if (!bias) return false;
  }
  int between = -1;
  const Node* q = sole_q(g, uses, n.outputs[0], y, between);
  if (!q) return false;
  // Values may move once constants are added: what is needed of them is taken first.
  const std::string base = n.name;
  const DType w_type = w.codes->dtype();
  ValueId w_codes = w.node->inputs[0];
  if (trans_b) {  // [N, K] -> [K, N]
    const Tensor& src = *w.codes;
    const int64_t rows = src.dim(0), cols = src.dim(1);
    Tensor t(src.dtype(), {cols, rows});
    const auto* s = static_cast<const uint8_t*>(src.raw());
    auto* d = static_cast<uint8_t*>(t.raw());
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) d[c * rows + r] = s[r * cols + c];
    }
    w_codes = add_constant(g, base + "_w_codes", std::move(t));
  }
  const ValueId w_scale = w.node->input(1);
  const ValueId w_zero = weight_zero(g, w, w_type, base);
  const ValueId x_zero = zero_value_or_default(g, x, base + "_x");
  const ValueId y_zero = zero_value_or_default(g, y, base + "_y");
  std::vector<ValueId> inputs{x.codes, x.scale, x_zero, w_codes, w_scale, w_zero, y.scale, y_zero};
  if (bias) inputs.push_back(bias->inputs[0]);
  const Node& qn = *q;
  become(g, i, conv ? "QLinearConv" : "QLinearMatMul", std::move(inputs), qn, between, dead);
  return true;
}

// Equal static shapes; a dynamic dimension counts when both name it alike ("batch"): the kernel
// checks the shapes again at run time.
bool same_shape(const Graph& g, ValueId a, ValueId b) {
  const Value &va = g.value(a), &vb = g.value(b);
  if (!va.has_shape || !vb.has_shape || va.shape != vb.shape) return false;
  for (size_t d = 0; d < va.shape.size(); ++d) {
    if (va.shape[d] >= 0) continue;
    const bool named = d < va.dim_names.size() && d < vb.dim_names.size() && !va.dim_names[d].empty();
    if (!named || va.dim_names[d] != vb.dim_names[d]) return false;
  }
  return true;
}

bool fuse_add(Graph& g, const Uses& uses, size_t i, std::vector<char>& dead) {
  const Node& n = g.nodes[i];
  if (!is_op(n, "Add")) return false;
  Quant a, b, c;
  if (!dq_activation(g, uses, n.input(0), a) || !dq_activation(g, uses, n.input(1), b)) return false;
  if (a.type != b.type || !same_shape(g, a.codes, b.codes)) return false;
  int between = -1;
  const Node* q = sole_q(g, uses, n.outputs[0], c, between);
  if (!q || c.type != a.type || between >= 0) return false;
  const std::string base = n.name;
  std::vector<ValueId> inputs{a.codes,
                              a.scale,
                              zero_value_or_default(g, a, base + "_a"),
                              b.codes,
                              b.scale,
                              zero_value_or_default(g, b, base + "_b"),
                              c.scale,
                              zero_value_or_default(g, c, base + "_c")};
  const Node& qn = *q;
  become(g, i, "QLinearAdd", std::move(inputs), qn, between, dead);
  return true;
}

bool fuse_global_average_pool(Graph& g, const Uses& uses, size_t i, std::vector<char>& dead) {
  const Node& n = g.nodes[i];
  if (!is_op(n, "GlobalAveragePool")) return false;
  Quant x, y;
  if (!dq_activation(g, uses, n.input(0), x) || x.type != DType::kUInt8) return false;
  const Value& xv = g.value(x.codes);
  if (!xv.has_shape || xv.shape.size() < 3) return false;
  int between = -1;
  const Node* q = sole_q(g, uses, n.outputs[0], y, between);
  if (!q || y.type != DType::kUInt8 || between >= 0) return false;
  const std::string base = n.name;
  std::vector<ValueId> inputs{x.codes, x.scale, zero_value_or_default(g, x, base + "_x"), y.scale,
                              zero_value_or_default(g, y, base + "_y")};
  const Node& qn = *q;
  become(g, i, "QLinearGlobalAveragePool", std::move(inputs), qn, between, dead);
  return true;
}

bool moves_values(const Node& n) {
  return (is_op(n, "Reshape") || is_op(n, "Flatten") || is_op(n, "Squeeze") || is_op(n, "Unsqueeze") ||
          is_op(n, "Transpose")) &&
         n.outputs.size() == 1;
}

// DQ -> Reshape-like op  =>  the op on the codes -> DQ (ORT's QDQ propagation): dequantizing
// commutes with moving values, and the consumer then sees a DequantizeLinear it can fuse with.
void propagate_dq_through_data_movement(Graph& g) {
  // Decided for every node first: dq_activation reads producers from g.nodes, which then move.
  std::vector<std::optional<Quant>> source(g.nodes.size());
  {
    const Uses uses(g);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      Quant x;
      if (moves_values(n) && !uses.graph_output[n.outputs[0]] && dq_activation(g, uses, n.input(0), x)) source[i] = x;
    }
  }
  std::vector<Node> nodes;
  nodes.reserve(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node n = std::move(g.nodes[i]);
    if (!source[i]) {
      nodes.push_back(std::move(n));
      continue;
    }
    const Quant& x = *source[i];
    const ValueId out = n.outputs[0];
    const ValueId codes = g.add_value(unique_value_name(g, g.value(out).name + "_codes"));
    Value& cv = g.value(codes);
    cv.dtype = x.type;
    cv.has_type = true;
    cv.shape = g.value(out).shape;
    cv.has_shape = g.value(out).has_shape;
    cv.dim_names = g.value(out).dim_names;
    n.inputs[0] = x.codes;
    n.outputs[0] = codes;
    Node dq;
    dq.op = "DequantizeLinear";
    dq.name = n.name + "_dequantize";
    while (g.find_node(dq.name) != nullptr ||
           std::any_of(nodes.begin(), nodes.end(), [&](const Node& m) { return m.name == dq.name; })) {
      dq.name += "_";
    }
    dq.origin = {dq.name};
    dq.inputs = {codes, x.scale};
    if (x.zero != kNoValue) dq.inputs.push_back(x.zero);
    dq.outputs = {out};
    nodes.push_back(std::move(n));
    nodes.push_back(std::move(dq));
  }
  g.nodes = std::move(nodes);
}

// DQ -> Q with the same parameters gives back the codes (ORT removes such pairs): readers of the
// Q's output read the DQ's input instead.
void drop_equal_dq_q_pairs(Graph& g) {
  const Uses uses(g);
  for (const Node& q : g.nodes) {
    Quant out, in;
    if (!is_op(q, "QuantizeLinear") || uses.graph_output[q.outputs[0]] || !per_tensor(g, q, out)) continue;
    if (!dq_activation(g, uses, q.input(0), in)) continue;
    if (in.type != out.type || in.scale_value != out.scale_value || in.zero_value != out.zero_value) continue;
    replace_uses(g, q.outputs[0], in.codes);
  }
}

}  // namespace

void fuse_qdq_to_integer_ops(Graph& g) {
  propagate_dq_through_data_movement(g);
  drop_equal_dq_q_pairs(g);
  {
    std::vector<char> dead(g.nodes.size(), 0);
    // One Uses for the whole walk: each fusion touches only its own group's nodes (DQs of
    // activations may be shared: they are left to die below once nobody reads them).
    const Uses uses(g);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (dead[i]) continue;
      if (!fuse_layer(g, uses, i, dead) && !fuse_add(g, uses, i, dead)) fuse_global_average_pool(g, uses, i, dead);
    }
    erase_dead(g, dead);
  }
  // DequantizeLinear and QuantizeLinear nodes nobody reads any more.
  for (bool more = true; more;) {
    more = false;
    const Uses uses(g);
    std::vector<char> dead(g.nodes.size(), 0);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      if ((is_op(n, "DequantizeLinear") || is_op(n, "QuantizeLinear")) && !uses.used(n.outputs[0])) {
        kill(g.nodes[i], dead, i);
        more = true;
      }
    }
    erase_dead(g, dead);
  }
}

}  // namespace eff
