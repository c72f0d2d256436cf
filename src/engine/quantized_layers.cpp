#include "engine/quantized_layers.h"

#include <algorithm>
#include <cmath>

namespace eff {

int bits_for_range(int64_t lo, int64_t hi) {
  int b = 1;
  while (b < 32 && (lo < -(int64_t{1} << (b - 1)) || hi > (int64_t{1} << (b - 1)) - 1)) ++b;
  return b;
}

LayerQuantization layer_quantization(const Graph& g, const LayerInfo& layer) {
  LayerQuantization q;
  const Node& n = g.nodes.at(layer.node);
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

namespace {
inline int16_t to_code(float v, float scale) {
  const float c = std::nearbyint(v / scale);
  return static_cast<int16_t>(std::clamp(c, -32768.0f, 32767.0f));
}
}  // namespace

std::vector<int16_t> activation_codes(const LayerQuantization& q, const float* v, int64_t n) {
  std::vector<int16_t> codes(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) codes[i] = to_code(v[i], q.act_scale);
  return codes;
}

std::vector<int16_t> weight_codes(const LayerQuantization& q, const Tensor& weights) {
  const Tensor w = weights.dtype() == DType::kFloat32 ? weights : weights.cast(DType::kFloat32);
  const float* v = w.data<float>();
  const int64_t channels = static_cast<int64_t>(q.wgt_scale.size());
  int64_t inner = 1;
  if (channels > 1) {
    if (q.wgt_axis >= w.rank() || w.dim(q.wgt_axis) != channels) {
      fail<ShapeError>("weights {} do not have {} channels on axis {}", shape_str(w.shape()), channels, q.wgt_axis);
    }
    for (int d = q.wgt_axis + 1; d < w.rank(); ++d) inner *= w.dim(d);
  }
  std::vector<int16_t> codes(static_cast<size_t>(w.numel()));
  for (int64_t i = 0; i < w.numel(); ++i) {
    codes[i] = to_code(v[i], q.wgt_scale[channels > 1 ? (i / inner) % channels : 0]);
  }
  return codes;
}

}  // namespace eff
