#include "graph/passes.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

#include "engine/buffer_pool.h"
#include "engine/dnnl_env.h"
#include "engine/kernel.h"
#include "engine/quantized_layers.h"
#include "graph/pass_support.h"

namespace eff {

using namespace pass_support;  // the vocabulary every pass shares (graph/pass_support.h)

// ---- Identity / Dropout ------------------------------------------------------------------------

namespace {
bool is_inference_dropout(const Graph& g, const Node& n, const Uses& uses) {
  if (!is_op(n, "Dropout")) return false;
  if (n.outputs.size() > 1 && uses.used(n.outputs[1])) return false;  // the mask is read
  ValueId training = n.input(2);
  if (training == kNoValue) return true;
  return g.is_constant(training) && g.constant(training).numel() == 1 && g.constant(training).get_f64(0) == 0.0;
}
}  // namespace

void remove_identity_and_dropout(Graph& g) {
  std::vector<char> dead(g.nodes.size(), 0);
  Uses uses(g);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (!is_op(n, "Identity") && !is_op(n, "Dropout")) continue;
    uses = Uses(g);  // rewiring below changes uses; rebuilt only for candidates
    if (is_op(n, "Dropout") && !is_inference_dropout(g, n, uses)) continue;
    if (n.outputs.empty() || n.input(0) == kNoValue || n.outputs[0] == kNoValue) continue;
    const ValueId in = n.inputs[0];
    const ValueId out = n.outputs[0];
    if (!uses.graph_output[out]) {
      replace_uses(g, out, in);
    } else if (g.is_constant(in)) {
      make_constant(g, out, *g.value(in).constant);
    } else if (uses.producer[in] >= 0 && !uses.graph_output[in]) {
      // The graph output keeps its name: the node that made `in` now makes `out` directly.
      Node& p = g.nodes[uses.producer[in]];
      std::replace(p.outputs.begin(), p.outputs.end(), in, out);
      replace_uses(g, in, out);
      Value& ov = g.value(out);
      const Value& iv = g.value(in);
      if (!ov.has_type) {
        ov.dtype = iv.dtype;
        ov.has_type = iv.has_type;
      }
      if (!ov.has_shape) {
        ov.shape = iv.shape;
        ov.dim_names = iv.dim_names;
        ov.has_shape = iv.has_shape;
      }
    } else {
      continue;  // graph input (or another graph output) passed through: the Identity kernel stays
    }
    kill(g.nodes[i], dead, i);
  }
  erase_dead(g, dead);
}

// ---- float16 -> float32 -------------------------------------------------------------------------

// fp16 storage, fp32 arithmetic: every kernel computes in float32. fp16 constants widen exactly;
// a Cast(to=FLOAT16) inside the graph still rounds to the nearest float16 (half to even) and then
// widens, so values carry exactly the precision ONNX Runtime's fp16 tensors hold; fp16 graph
// inputs are widened on entry and fp16 graph outputs narrowed on exit, so callers see the
// declared types. ORT computes some fp16 ops in fp16 arithmetic; we are at least as precise.

namespace {

constexpr int64_t kOnnxFloat = 1;     // TensorProto::FLOAT
constexpr int64_t kOnnxFloat16 = 10;  // TensorProto::FLOAT16

bool is_cast_to(const Node& n, int64_t to) {
  return is_op(n, "Cast") && n.attr_int("to", -1) == to && n.num_inputs() == 1 && n.outputs.size() == 1 &&
         n.outputs[0] != kNoValue;
}

Node cast_node(const Graph& g, const Node& like, const std::string& suffix, ValueId in, ValueId out, int64_t to) {
  Node c;
  c.op = "Cast";
  std::string base = (like.name.empty() ? g.value(out).name : like.name) + suffix;
  std::string name = base;
  for (int k = 1; g.find_node(name); ++k) name = base + "_" + std::to_string(k);
  c.name = name;
  c.inputs = {in};
  c.outputs = {out};
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = to;
  c.attrs["to"] = a;
  c.origin = like.origin.empty() ? std::vector<std::string>{like.name} : std::vector<std::string>{like.origin[0]};
  return c;
}

// A new value shaped like `like`, of type `dtype`.
ValueId add_typed_value(Graph& g, const std::string& suffix, ValueId like, DType dtype) {
  const Value l = g.value(like);  // a copy: add_value may move the values
  ValueId id = g.add_value(unique_value_name(g, l.name + suffix));
  Value& v = g.value(id);
  v.dtype = dtype;
  v.has_type = true;
  v.shape = l.shape;
  v.has_shape = l.has_shape;
  v.dim_names = l.dim_names;
  return id;
}

}  // namespace

void lower_float16(Graph& g) {
  bool any = false;
  for (const Value& v : g.values)
    any = any || (v.has_type && v.dtype == DType::kFloat16) || (v.constant && v.constant->dtype() == DType::kFloat16);
  for (const Node& n : g.nodes) {
    any = any || is_cast_to(n, kOnnxFloat16) ||
          (is_op(n, "Constant") && n.has_attr("value") && n.attrs.at("value").t.defined() &&
           n.attrs.at("value").t.dtype() == DType::kFloat16);
  }
  if (!any) return;
  const Uses uses(g);
  const std::vector<ValueId> graph_inputs = g.inputs;
  auto is_graph_input = [&](ValueId v) {
    return std::find(graph_inputs.begin(), graph_inputs.end(), v) != graph_inputs.end();
  };

  // Which fp16 values keep their type: graph inputs and outputs (what callers exchange), and
  // Cast(to=FLOAT16) results (re-widened right after).
  const size_t nv = g.values.size();
  std::vector<char> keep16(nv, 0);
  for (ValueId v : g.inputs) keep16[v] = 1;
  for (ValueId v : g.outputs) keep16[v] = 1;
  for (const Node& n : g.nodes) {
    if (is_cast_to(n, kOnnxFloat16)) keep16[n.outputs[0]] = 1;
  }
  for (size_t v = 0; v < nv; ++v) {
    Value& val = g.values[v];
    if (val.constant && val.constant->dtype() == DType::kFloat16 && !uses.graph_output[v]) {
      val.constant = val.constant->cast(DType::kFloat32);
      val.dtype = DType::kFloat32;
    } else if (!keep16[v] && val.has_type && val.dtype == DType::kFloat16) {
      val.dtype = DType::kFloat32;
    }
  }

  std::vector<Node> nodes;
  nodes.reserve(g.nodes.size() + g.inputs.size() + g.outputs.size());
  // fp16 graph inputs: widened once on entry.
  for (ValueId in : graph_inputs) {
    Value& iv = g.value(in);
    if (!(iv.has_type && iv.dtype == DType::kFloat16) || uses.consumers[in].empty()) continue;
    // The executor also accepts float32 for a float16 input; rounding to float16 first gives what
    // a caller converting the array to float16 would have fed.
    const ValueId narrow = add_typed_value(g, "_float16", in, DType::kFloat16);
    const ValueId wide = add_typed_value(g, "_float32", in, DType::kFloat32);
    replace_uses(g, in, wide);
    Node like;
    like.name = g.value(in).name;
    nodes.push_back(cast_node(g, like, "/to_float16", in, narrow, kOnnxFloat16));
    nodes.push_back(cast_node(g, like, "/to_float32", narrow, wide, kOnnxFloat));
  }
  std::vector<Node> tail;
  for (Node& n : g.nodes) {
    if (is_op(n, "Constant") && n.has_attr("value") && n.attrs.at("value").t.defined() &&
        n.attrs.at("value").t.dtype() == DType::kFloat16) {
      n.attrs.at("value").t = n.attrs.at("value").t.cast(DType::kFloat32);
    }
    if (is_cast_to(n, kOnnxFloat16)) {
      const ValueId out = n.outputs[0];
      const bool read_inside = !uses.consumers[out].empty();
      if (uses.graph_output[out]) {
        nodes.push_back(std::move(n));
        if (read_inside) {  // also read by nodes: they get the widened copy
          const ValueId wide = add_typed_value(g, "_float32", out, DType::kFloat32);
          replace_uses(g, out, wide);
          for (Node& t : tail) std::replace(t.inputs.begin(), t.inputs.end(), out, wide);
          nodes.push_back(cast_node(g, nodes.back(), "/to_float32", out, wide, kOnnxFloat));
        }
        continue;
      }
      // Rounded to float16 and widened again: the value keeps float16 precision in float32.
      const ValueId narrow = add_typed_value(g, "_float16", out, DType::kFloat16);
      g.value(out).dtype = DType::kFloat32;
      n.outputs[0] = narrow;
      nodes.push_back(std::move(n));
      nodes.push_back(cast_node(g, nodes.back(), "/to_float32", narrow, out, kOnnxFloat));
      continue;
    }
    // Casts to float of what is now float32 copy nothing: made Identity, removed below.
    if (is_cast_to(n, kOnnxFloat) && n.inputs[0] != kNoValue && g.value(n.inputs[0]).has_type &&
        g.value(n.inputs[0]).dtype == DType::kFloat32 && !is_graph_input(n.inputs[0])) {
      n.op = "Identity";
      n.attrs.clear();
    }
    // Other producers of fp16 graph outputs compute in float32; the result is narrowed on exit.
    for (ValueId& out : n.outputs) {
      if (out == kNoValue || !uses.graph_output[out] || is_graph_input(out)) continue;
      Value& ov = g.value(out);
      if (!(ov.has_type && ov.dtype == DType::kFloat16) || ov.constant) continue;
      const ValueId wide = add_typed_value(g, "_float32", out, DType::kFloat32);
      const ValueId original = out;
      out = wide;
      replace_uses(g, original, wide);
      tail.push_back(cast_node(g, n, "/to_float16", wide, original, kOnnxFloat16));
    }
    nodes.push_back(std::move(n));
  }
  for (Node& t : tail) nodes.push_back(std::move(t));
  g.nodes = std::move(nodes);
  remove_identity_and_dropout(g);
}

// ---- quantized layers ---------------------------------------------------------------------------

namespace {

bool is_8bit_code(DType t) {
  return t == DType::kInt8 || t == DType::kUInt8;
}

// The DequantizeLinear that produced `v` (through ops that only move or select values, which keep
// them codes x scale), when its scale and zero point are constants; else nullptr.
const Node* dequantize_source(const Graph& g, const Uses& uses, ValueId v) {
  for (int hops = 0; hops < 8 && v != kNoValue && uses.producer[v] >= 0; ++hops) {
    const Node& p = g.nodes[uses.producer[v]];
    if (is_op(p, "DequantizeLinear")) {
      if (!g.is_constant(p.input(1)) || (p.input(2) != kNoValue && !g.is_constant(p.input(2)))) return nullptr;
      return &p;
    }
    const bool keeps_codes = is_op(p, "Reshape") || is_op(p, "Flatten") || is_op(p, "Squeeze") ||
                             is_op(p, "Unsqueeze") || is_op(p, "Transpose") || is_op(p, "MaxPool") ||
                             is_op(p, "Relu") || is_op(p, "Identity");
    if (!keeps_codes) return nullptr;
    v = p.input(0);
  }
  return nullptr;
}

DType dequantized_code_type(const Graph& g, const Node& d) {
  if (d.input(2) != kNoValue) return g.constant(d.input(2)).dtype();
  const Value& x = g.value(d.inputs[0]);
  if (x.constant) return x.constant->dtype();
  return x.has_type ? x.dtype : DType::kFloat32;
}

std::vector<int64_t> zero_points_of(const Graph& g, const Node& d, int64_t count) {
  if (d.input(2) == kNoValue) return std::vector<int64_t>(static_cast<size_t>(count), 0);
  std::vector<int64_t> z = g.constant(d.input(2)).to_i64_vector();
  if (z.size() == 1 && count > 1) z.assign(static_cast<size_t>(count), z[0]);
  return z;
}

int code_bits(DType t, const std::vector<int64_t>& zeros) {
  const int64_t lo = t == DType::kInt8 ? -128 : 0, hi = t == DType::kInt8 ? 127 : 255;
  int bits = 1;
  for (int64_t z : zeros) bits = std::max(bits, bits_for_range(lo - z, hi - z));
  return bits;
}

Attribute attr_of(float f) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = f;
  return a;
}
Attribute attr_of(int64_t i) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = i;
  return a;
}

}  // namespace

void pass_support::erase_quantization(Node& n) {
  for (const char* key :
       {kQuantActScale, kQuantActZero, kQuantActBits, kQuantWgtScale, kQuantWgtZero, kQuantWgtAxis, kQuantWgtBits}) {
    n.attrs.erase(key);
  }
}

void mark_quantized_layers(Graph& g) {
  const Uses uses(g);
  for (Node& n : g.nodes) {
    if (!(is_op(n, "Conv") || is_op(n, "ConvTranspose") || is_op(n, "Gemm") || is_op(n, "MatMul")) ||
        n.num_inputs() < 2)
      continue;
    const Node* da = dequantize_source(g, uses, n.inputs[0]);
    const Node* dw = dequantize_source(g, uses, n.inputs[1]);
    if (!da || !dw || !g.is_constant(dw->inputs[0]) || dw->outputs[0] != n.inputs[1]) continue;
    const Tensor& as = g.constant(da->input(1));
    const Tensor& ws = g.constant(dw->input(1));
    const Tensor& wq = g.constant(dw->inputs[0]);
    const DType at = dequantized_code_type(g, *da), wt = wq.dtype();
    if (!is_8bit_code(at) || !is_8bit_code(wt) || as.numel() != 1 || ws.numel() < 1 || as.dtype() != DType::kFloat32 ||
        ws.dtype() != DType::kFloat32) {
      continue;
    }
    int64_t axis = 0;
    if (ws.numel() > 1) {
      axis = dw->attr_int("axis", 1);
      if (axis < 0) axis += wq.rank();
      if (axis < 0 || axis >= wq.rank() || wq.dim(static_cast<int>(axis)) != ws.numel())
        continue;  // the DQ kernel reports it
    }
    const std::vector<int64_t> az = zero_points_of(g, *da, 1), wz = zero_points_of(g, *dw, ws.numel());
    if (az.size() != 1 || static_cast<int64_t>(wz.size()) != ws.numel()) continue;
    n.attrs[kQuantActScale] = attr_of(as.to_f32_vector()[0]);
    n.attrs[kQuantActZero] = attr_of(az[0]);
    n.attrs[kQuantActBits] = attr_of(static_cast<int64_t>(used_activation_bits(g, *da, at, az[0], code_bits(at, az))));
    Attribute scales;
    scales.kind = Attribute::Kind::kFloats;
    scales.floats = ws.to_f32_vector();
    n.attrs[kQuantWgtScale] = scales;
    Attribute zeros;
    zeros.kind = Attribute::Kind::kInts;
    zeros.ints = wz;
    n.attrs[kQuantWgtZero] = zeros;
    n.attrs[kQuantWgtAxis] = attr_of(axis);
    n.attrs[kQuantWgtBits] = attr_of(static_cast<int64_t>(used_weight_bits(wq, wz, axis)));
  }
}

// ---- constant folding --------------------------------------------------------------------------

namespace {
bool is_nondeterministic(const std::string& op) {
  return op == "RandomNormal" || op == "RandomUniform" || op == "RandomNormalLike" || op == "RandomUniformLike" ||
         op == "Multinomial" || op == "Bernoulli" || op == "Dropout";
}

// Shape of a value whose static shape is fully known, honouring opset-15 start/end.
bool fold_static_shape(Graph& g, const Node& n) {
  if (n.input(0) == kNoValue || n.outputs.empty() || n.outputs[0] == kNoValue) return false;
  const Value& v = g.value(n.inputs[0]);
  if (!v.has_shape) return false;
  for (int64_t d : v.shape) {
    if (d < 0) return false;
  }
  const int64_t rank = static_cast<int64_t>(v.shape.size());
  auto clamp = [&](int64_t a) { return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank); };
  const int64_t start = clamp(n.attr_int("start", 0));
  const int64_t end = clamp(n.attr_int("end", rank));
  std::vector<int64_t> dims;
  for (int64_t d = start; d < end; ++d) dims.push_back(v.shape[d]);
  const int64_t count = static_cast<int64_t>(dims.size());
  make_constant(g, n.outputs[0], Tensor::from<int64_t>({count}, dims));
  return true;
}
}  // namespace

void fold_constants(Graph& g) {
  BufferPool pool;
  DnnlEnv dnnl;
  std::vector<char> dead(g.nodes.size(), 0);
  std::vector<const Tensor*> inputs;
  std::vector<Tensor> outputs;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!is_default_domain(n) || is_nondeterministic(n.op)) continue;
    if (n.op == "Shape" && fold_static_shape(g, n)) {
      dead[i] = 1;
      continue;
    }
    const bool all_constant =
        std::all_of(n.inputs.begin(), n.inputs.end(), [&](ValueId v) { return v == kNoValue || g.is_constant(v); });
    if (!all_constant) continue;
    const OpEntry* entry = find_op(n.op);
    if (!entry) continue;  // reported as unsupported by the loader unless a later pass removes it
    inputs.assign(n.inputs.size(), nullptr);
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      if (n.inputs[k] != kNoValue) inputs[k] = &*g.value(n.inputs[k]).constant;
    }
    outputs.assign(n.outputs.size(), Tensor());
    try {
      std::unique_ptr<Kernel> kernel = entry->make(n, g);
      OpContext ctx(n, g, inputs, outputs, pool, dnnl, 1);
      kernel->run(ctx);
    } catch (const ShapeError& e) {
      // At load time a shape problem between constants is a defect of the model file.
      throw ModelError(e.what());
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      fail<ModelError>("{}: constant folding failed: {}", g.where(n), e.what());
    }
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      if (n.outputs[k] == kNoValue) continue;
      if (!outputs[k].defined()) fail<ModelError>("internal error: {}: output {} was not produced", g.where(n), k);
      make_constant(g, n.outputs[k], std::move(outputs[k]));
    }
    dead[i] = 1;
  }
  erase_dead(g, dead);
}

void run_default_passes(Graph& g, const PassOptions& options) {
  remove_identity_and_dropout(g);
  if (options.non_finite_inputs) mark_non_finite_orders(g);
  lower_float16(g);
  fold_float16_round_trips(g);
  mark_quantized_layers(g);
  if (options.fuse_qdq) fuse_qdq_to_integer_ops(g);
  if (options.fold_constants) fold_constants(g);
  if (options.fold_batchnorm) fold_batchnorm(g);
  if (options.fuse_hardswish) fuse_hardswish(g);
  if (options.fuse_activations) fuse_activations(g);
  if (options.layer_rewrite) options.layer_rewrite(g);
  if (options.blocked_layout) assign_blocked_layouts(g);
  if (options.fuse_activations && options.fuse_residual_adds) fuse_residual_adds(g);
  g.compact();
}

}  // namespace eff
