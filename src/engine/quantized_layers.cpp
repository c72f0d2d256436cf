#include "engine/quantized_layers.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace eff {

int bits_for_range(int64_t lo, int64_t hi) {
  int b = 1;
  while (b < 32 && (lo < -(int64_t{1} << (b - 1)) || hi > (int64_t{1} << (b - 1)) - 1)) ++b;
  return b;
}

namespace {

// The node writing `v` (nullptr: a graph input, a constant or no value).
const Node* producer_of(const Graph& g, ValueId v) {
  if (v == kNoValue) return nullptr;
  for (const Node& n : g.nodes) {
    if (std::find(n.outputs.begin(), n.outputs.end(), v) != n.outputs.end()) return &n;
  }
  return nullptr;
}

}  // namespace

int used_weight_bits(const Tensor& codes, const std::vector<int64_t>& zeros, int64_t axis) {
  const int64_t channels = static_cast<int64_t>(zeros.size());
  int64_t inner = 1;
  for (int d = static_cast<int>(axis) + 1; d < codes.rank(); ++d) inner *= codes.dim(d);
  const std::vector<int64_t> c = codes.to_i64_vector();
  int64_t lo = 0, hi = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    const int64_t z = channels > 1 ? zeros[(static_cast<int64_t>(i) / inner) % channels] : zeros[0];
    lo = std::min(lo, c[i] - z);
    hi = std::max(hi, c[i] - z);
  }
  return bits_for_range(lo, hi);
}

int used_activation_bits(const Graph& g, const Node& dq, DType code_type, int64_t zero, int fallback) {
  const Node* qp = producer_of(g, dq.inputs.empty() ? kNoValue : dq.inputs[0]);
  if (!qp) return fallback;
  const Node& q = *qp;
  if (q.op != "QuantizeLinear" || !g.is_constant(q.input(1)) || g.constant(q.input(1)).numel() != 1) return fallback;
  const int64_t qzero = q.input(2) != kNoValue && g.is_constant(q.input(2)) ? g.constant(q.input(2)).get_i64(0) : 0;
  const Node* cp = producer_of(g, q.inputs.empty() ? kNoValue : q.inputs[0]);
  if (qzero != zero || !cp || cp->op != "Clip") return fallback;
  const Node& clip = *cp;
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
  if (clip.has_attr("min") || clip.has_attr("max")) {  // opset < 11
    lo = clip.attr_float("min", -std::numeric_limits<float>::max());
    hi = clip.attr_float("max", std::numeric_limits<float>::max());
  }
  for (int i : {1, 2}) {
    const ValueId b = clip.input(i);
    if (b == kNoValue) continue;
    if (!g.is_constant(b) || g.constant(b).numel() != 1) return fallback;
    (i == 1 ? lo : hi) = g.constant(b).get_f64(0);
  }
  const double scale = g.constant(q.input(1)).get_f64(0);
  if (!(scale > 0) || !std::isfinite(lo) || !std::isfinite(hi)) return fallback;
  const int64_t tlo = code_type == DType::kInt8 ? -128 : 0, thi = code_type == DType::kInt8 ? 127 : 255;
  auto code = [&](double x) {
    return std::clamp(static_cast<int64_t>(std::nearbyint(x / scale)) + zero, tlo, thi) - zero;
  };
  return std::min(fallback, bits_for_range(std::min<int64_t>(0, code(lo)), std::max<int64_t>(0, code(hi))));
}

namespace {

bool is_8bit(DType t) {
  return t == DType::kInt8 || t == DType::kUInt8;
}

int code_bits(DType t, const std::vector<int32_t>& zeros) {
  const int64_t lo = t == DType::kInt8 ? -128 : 0, hi = t == DType::kInt8 ? 127 : 255;
  int bits = 1;
  for (int32_t z : zeros) bits = std::max(bits, bits_for_range(lo - z, hi - z));
  return bits;
}

// A value known to hold one element (shape [] or [1]), or of unknown shape (checked at run time).
bool is_scalar_value(const Graph& g, ValueId v) {
  const Value& x = g.value(v);
  if (!x.has_shape) return true;
  int64_t n = 1;
  for (int64_t d : x.shape) {
    if (d < 0) return true;
    n *= d;
  }
  return n == 1;
}

const Tensor* constant_input(const Graph& g, const Node& n, int i) {
  return i >= 0 && g.is_constant(n.input(i)) ? &g.constant(n.input(i)) : nullptr;
}

inline int16_t to_code(float v, float scale) {
  const float c = std::nearbyint(v / scale);
  return static_cast<int16_t>(std::clamp(c, -32768.0f, 32767.0f));
}

inline int32_t code_at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::kInt8 ? static_cast<const int8_t*>(t.raw())[i] : static_cast<const uint8_t*>(t.raw())[i];
}

}  // namespace

bool integer_layer_inputs(const Graph& g, const Node& n, IntegerLayerInputs& in, LayerQuantization* q) {
  if (n.op == "QLinearConv" || n.op == "QLinearMatMul") {
    in = IntegerLayerInputs{3, 1, 2, 4, 5, n.op == "QLinearConv" ? 8 : -1, n.op == "QLinearConv"};
  } else if (n.op == "ConvInteger" || n.op == "MatMulInteger") {
    in = IntegerLayerInputs{1, -1, 2, -1, 3, -1, n.op == "ConvInteger"};
  } else {
    return false;
  }
  if (!n.domain.empty() && n.domain != "ai.onnx") return false;
  const Tensor* w = constant_input(g, n, in.weights);
  if (!w || !is_8bit(w->dtype()) || w->rank() < (in.conv ? 3 : 2) || n.input(0) == kNoValue) return false;
  // Activation code type: its zero point's, else the value's static type. A zero point or scale
  // that is not a constant is a run-time scalar (dynamic quantization).
  const Tensor* az = constant_input(g, n, in.act_zero);
  const bool runtime_zero = n.input(in.act_zero) != kNoValue && !az;
  if (az && az->numel() != 1) return false;
  if (runtime_zero && !is_scalar_value(g, n.input(in.act_zero))) return false;
  const Value& x = g.value(n.inputs[0]);
  const Value* zv = n.input(in.act_zero) != kNoValue ? &g.value(n.input(in.act_zero)) : nullptr;
  const DType act_type = az ? az->dtype() : zv && zv->has_type ? zv->dtype : (x.has_type ? x.dtype : DType::kFloat32);
  if (!is_8bit(act_type)) return false;
  const Tensor* as = constant_input(g, n, in.act_scale);
  const bool runtime_scale = in.act_scale >= 0 && !as;
  if (as && (as->numel() != 1 || as->dtype() != DType::kFloat32)) return false;
  if (runtime_scale && !is_scalar_value(g, n.input(in.act_scale))) return false;
  // Per-channel weight parameters run along the output channels: axis 0 of conv weights
  // [M, C/g, k...], the last axis of matmul weights [..., K, N].
  const int axis = in.conv ? 0 : w->rank() - 1;
  const int64_t channels = w->dim(axis);
  const Tensor* ws = constant_input(g, n, in.wgt_scale);
  if (in.wgt_scale >= 0 && (!ws || ws->dtype() != DType::kFloat32 || (ws->numel() != 1 && ws->numel() != channels))) {
    return false;
  }
  const Tensor* wz = constant_input(g, n, in.wgt_zero);
  if (n.input(in.wgt_zero) != kNoValue && (!wz || (wz->numel() != 1 && wz->numel() != channels))) return false;
  if (!q) return true;
  q->present = true;
  q->integer_operands = true;
  q->act_scale = as ? as->to_f32_vector()[0] : 1.0f;
  q->act_zero = az ? static_cast<int32_t>(az->get_i64(0)) : 0;
  q->dynamic = runtime_zero || runtime_scale;
  // A run-time zero point may be any code: the format holds code - zero point for all of them.
  q->act_bits = runtime_zero
                    ? code_bits(act_type, {act_type == DType::kInt8 ? -128 : 0, act_type == DType::kInt8 ? 127 : 255})
                    : code_bits(act_type, {q->act_zero});
  const int64_t per = std::max<int64_t>(ws ? ws->numel() : 1, wz ? wz->numel() : 1);
  q->wgt_axis = per > 1 ? axis : 0;
  q->wgt_scale.assign(static_cast<size_t>(per), 1.0f);
  q->wgt_zero.assign(static_cast<size_t>(per), 0);
  for (int64_t c = 0; c < per; ++c) {
    if (ws) q->wgt_scale[c] = static_cast<float>(ws->get_f64(ws->numel() == 1 ? 0 : c));
    if (wz) q->wgt_zero[c] = static_cast<int32_t>(wz->get_i64(wz->numel() == 1 ? 0 : c));
  }
  q->wgt_bits = code_bits(w->dtype(), q->wgt_zero);
  q->act_scale_known = as != nullptr;
  q->wgt_scale_known = ws != nullptr;
  return true;
}

void runtime_act_values(const Graph& g, const Node& n, const IntegerLayerInputs& in, ValueId& zero, ValueId& scale) {
  zero = scale = kNoValue;
  const ValueId z = n.input(in.act_zero);
  if (z != kNoValue && !g.is_constant(z)) zero = z;
  if (in.act_scale >= 0) {
    const ValueId s = n.input(in.act_scale);
    if (s != kNoValue && !g.is_constant(s)) scale = s;
    return;
  }
  // ConvInteger / MatMulInteger: the scale DynamicQuantizeLinear computed with the input codes.
  for (const Node& p : g.nodes) {
    if (p.op == "DynamicQuantizeLinear" && !p.outputs.empty() && p.outputs[0] == n.inputs[0] && p.outputs.size() > 1) {
      scale = p.outputs[1];
      if (zero == kNoValue && p.outputs.size() > 2 && p.outputs[2] == z) zero = z;
      return;
    }
  }
}

bool has_dynamic_layers(const std::vector<LayerInfo>& layers) {
  return std::any_of(layers.begin(), layers.end(),
                     [](const LayerInfo& l) { return l.act_zero_value != kNoValue || l.act_scale_value != kNoValue; });
}

LayerQuantization layer_quantization(const Graph& g, const LayerInfo& layer) {
  LayerQuantization q;
  const Node& n = g.nodes.at(layer.node);
  IntegerLayerInputs in;
  if (integer_layer_inputs(g, n, in, &q)) {
    // A QDQ layer the fusion pass turned into an integer op keeps the widths its codes really
    // use (mark_quantized_layers: sub-8-bit exports stored in 8-bit types).
    if (n.has_attr(kQuantActBits)) q.act_bits = static_cast<int>(n.attr_int(kQuantActBits, q.act_bits));
    if (n.has_attr(kQuantWgtBits)) q.wgt_bits = static_cast<int>(n.attr_int(kQuantWgtBits, q.wgt_bits));
    if (layer.has_runtime_act) {
      q.dynamic = true;
      if (layer.act_zero_value != kNoValue) q.act_zero = layer.runtime_act_zero;
      if (layer.act_scale_value != kNoValue) {
        q.act_scale = layer.runtime_act_scale;
        q.act_scale_known = true;
      }
    }
    return q;
  }
  if (!n.has_attr(kQuantActScale) || !n.has_attr(kQuantWgtScale)) return q;
  q.present = true;
  q.act_scale = n.attr_float(kQuantActScale, 1.0f);
  q.act_zero = static_cast<int32_t>(n.attr_int(kQuantActZero, 0));
  q.act_bits = static_cast<int>(n.attr_int(kQuantActBits, 16));
  q.wgt_scale = n.attr_floats(kQuantWgtScale);
  for (int64_t z : n.attr_ints(kQuantWgtZero)) q.wgt_zero.push_back(static_cast<int32_t>(z));
  q.wgt_axis = static_cast<int>(n.attr_int(kQuantWgtAxis, 0));
  q.wgt_bits = static_cast<int>(n.attr_int(kQuantWgtBits, 16));
  if (q.wgt_zero.size() != q.wgt_scale.size()) q.wgt_zero.assign(q.wgt_scale.size(), 0);
  return q;
}

std::vector<int16_t> activation_codes(const LayerQuantization& q, const Tensor& acts, int64_t first, int64_t count) {
  if (count < 0) count = acts.numel() - first;
  EFF_ASSERT(first >= 0 && first + count <= acts.numel());
  std::vector<int16_t> codes(static_cast<size_t>(count));
  if (is_8bit(acts.dtype())) {
    for (int64_t i = 0; i < count; ++i) codes[i] = static_cast<int16_t>(code_at(acts, first + i) - q.act_zero);
    return codes;
  }
  const Tensor a = acts.dtype() == DType::kFloat32 ? acts : acts.cast(DType::kFloat32);
  const float* v = a.data<float>() + first;
  for (int64_t i = 0; i < count; ++i) codes[i] = to_code(v[i], q.act_scale);
  return codes;
}

std::vector<int16_t> weight_codes(const LayerQuantization& q, const Tensor& weights) {
  const int64_t channels = static_cast<int64_t>(q.wgt_scale.size());
  int64_t inner = 1;
  if (channels > 1) {
    if (q.wgt_axis >= weights.rank() || weights.dim(q.wgt_axis) != channels) {
      fail<ShapeError>("weights {} do not have {} channels on axis {}", shape_str(weights.shape()), channels,
                       q.wgt_axis);
    }
    for (int d = q.wgt_axis + 1; d < weights.rank(); ++d) inner *= weights.dim(d);
  }
  auto channel = [&](int64_t i) { return channels > 1 ? (i / inner) % channels : 0; };
  std::vector<int16_t> codes(static_cast<size_t>(weights.numel()));
  if (is_8bit(weights.dtype())) {
    for (int64_t i = 0; i < weights.numel(); ++i) {
      codes[i] = static_cast<int16_t>(code_at(weights, i) - q.wgt_zero[channel(i)]);
    }
    return codes;
  }
  const Tensor w = weights.dtype() == DType::kFloat32 ? weights : weights.cast(DType::kFloat32);
  const float* v = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) codes[i] = to_code(v[i], q.wgt_scale[channel(i)]);
  return codes;
}

}  // namespace eff
