#include "engine/geometry.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <nlohmann/json.hpp>

namespace eff {

LayerGeometry layer_geometry(const Graph& g, const LayerInfo& l, const Shape& act, const Shape& wgt, const Shape& out) {
  const Node& n = g.nodes[l.node];
  LayerGeometry r;
  r.index = l.index;
  r.name = l.name;
  r.op = l.op;
  r.origin = n.origin;
  r.fused_activation = l.fused_activation;
  int64_t wcount = shape_numel(wgt);
  r.params = wcount + (l.bias != kNoValue && g.is_constant(l.bias) ? g.constant(l.bias).numel() : 0);
  // QLinearConv and ConvInteger have Conv's attributes and geometry.
  const bool conv = l.op == "Conv" || l.op == "QLinearConv" || l.op == "ConvInteger";
  if (conv || l.op == "ConvTranspose") {
    r.kind = conv ? "conv" : "deconv";
    r.batch = act.empty() ? 1 : act[0];
    r.Ni = act.size() > 1 ? act[1] : 1;
    r.Ny = act.size() > 2 ? act[2] : 1;
    r.Nx = act.size() > 3 ? act[3] : 1;
    r.groups = n.attr_int("group", 1);
    r.Nf = out.size() > 1 ? out[1] : 1;
    r.Ky = wgt.size() > 2 ? wgt[2] : 1;
    r.Kx = wgt.size() > 3 ? wgt[3] : 1;
    r.Oy = out.size() > 2 ? out[2] : 1;
    r.Ox = out.size() > 3 ? out[3] : 1;
    auto strides = n.attr_ints("strides", {});
    auto dil = n.attr_ints("dilations", {});
    auto pads = n.attr_ints("pads", {});
    const size_t sd = act.size() > 2 ? act.size() - 2 : 0;
    if (strides.size() == sd && sd >= 1) {
      r.stride_y = strides[0];
      r.stride_x = sd > 1 ? strides[1] : 1;
    }
    if (dil.size() == sd && sd >= 1) {
      r.dilation_y = dil[0];
      r.dilation_x = sd > 1 ? dil[1] : 1;
    }
    if (pads.size() == 2 * sd && sd >= 1) {
      r.pad_top = pads[0];
      r.pad_left = sd > 1 ? pads[1] : 0;
      r.pad_bottom = pads[sd];
      r.pad_right = sd > 1 ? pads[sd + 1] : 0;
    } else if (n.attr_string("auto_pad", "NOTSET").rfind("SAME", 0) == 0 && conv) {
      // SAME padding: total = (O-1)*S + (K-1)*D + 1 - N, the extra row/col at the end for SAME_UPPER.
      auto split = [&](int64_t o, int64_t s, int64_t k, int64_t d, int64_t in, int64_t& lo, int64_t& hi) {
        int64_t total = std::max<int64_t>(0, (o - 1) * s + (k - 1) * d + 1 - in);
        bool upper = n.attr_string("auto_pad", "") == "SAME_UPPER";
        lo = upper ? total / 2 : total - total / 2;
        hi = total - lo;
      };
      split(r.Oy, r.stride_y, r.Ky, r.dilation_y, r.Ny, r.pad_top, r.pad_bottom);
      split(r.Ox, r.stride_x, r.Kx, r.dilation_x, r.Nx, r.pad_left, r.pad_right);
    }
    const int64_t per_out = (r.Ni / std::max<int64_t>(1, r.groups)) * r.Kx * r.Ky;
    if (conv) {
      r.macs = r.Ox * r.Oy * r.Nf * per_out;
    } else {
      // Each input activation is multiplied by every weight of its group's filters.
      r.macs = r.Nx * r.Ny * r.Ni * (r.Nf / std::max<int64_t>(1, r.groups)) * r.Kx * r.Ky;
    }
  } else {
    r.kind = "fc";
    // Gemm: A is [M, K] (or transposed), B is [K, N] or [N, K] with transB.
    const bool trans_a = l.op == "Gemm" && n.attr_int("transA", 0) != 0;
    const bool trans_b = l.op == "Gemm" && n.attr_int("transB", 0) != 0;
    int64_t k = act.empty() ? 1 : (trans_a ? act[0] : act.back());
    int64_t rows = 1;
    if (trans_a) {
      rows = act.size() > 1 ? act[1] : 1;
    } else {
      for (size_t i = 0; i + 1 < act.size(); ++i) rows *= act[i];
    }
    r.batch = act.size() > 2 ? act[0] : rows;
    r.Ni = k;
    r.Nf = wgt.empty() ? 1 : (trans_b ? wgt[0] : wgt.back());
    r.macs = (rows / std::max<int64_t>(1, r.batch)) * r.Ni * r.Nf;
  }
  return r;
}

namespace {
class ShapeRecorder final : public LayerObserver {
 public:
  std::vector<std::array<Shape, 3>> shapes;
  void on_layer(const LayerInfo& l, const Tensor& a, const Tensor& w, const Tensor& o) override {
    if (shapes.size() <= static_cast<size_t>(l.index)) shapes.resize(l.index + 1);
    shapes[l.index] = {a.shape(), w.shape(), o.shape()};
  }
};
}  // namespace

std::vector<LayerGeometry> model_geometry(Executor& ex, const Shape& input_shape) {
  return model_geometry(ex, std::vector<Shape>{input_shape});
}

std::vector<LayerGeometry> model_geometry(Executor& ex, const std::vector<Shape>& input_shapes) {
  const Graph& graph = ex.graph();
  if (graph.inputs.size() != input_shapes.size()) {
    fail<UsageError>("{}: the model takes {} input(s), {} shape(s) given", graph.source, graph.inputs.size(),
                     input_shapes.size());
  }
  std::vector<Tensor> zeros;
  for (size_t i = 0; i < input_shapes.size(); ++i) {
    const Value& v = graph.value(graph.inputs[i]);
    const DType type = v.has_type ? v.dtype : DType::kFloat32;
    if (static_cast<size_t>(shape_numel(input_shapes[i])) > max_tensor_bytes() / dtype_size(type)) {
      fail<ShapeError>("{}: input '{}' of shape {} ({}) exceeds the {} byte limit", graph.source, v.name,
                       shape_str(input_shapes[i]), dtype_name(type), max_tensor_bytes());
    }
    Tensor t(type, input_shapes[i]);
    std::memset(t.raw(), 0, t.nbytes());
    zeros.push_back(std::move(t));
  }
  ShapeRecorder rec;
  ex.set_observer(&rec);
  try {
    ex.run(zeros);
  } catch (...) {
    ex.set_observer(nullptr);
    throw;
  }
  ex.set_observer(nullptr);
  std::vector<LayerGeometry> out;
  for (const LayerInfo& l : ex.layers()) {
    if (static_cast<size_t>(l.index) >= rec.shapes.size()) continue;
    const auto& s = rec.shapes[l.index];
    LayerGeometry g = layer_geometry(ex.graph(), l, s[0], s[1], s[2]);
    // Per-image figures: geometry observed on a batch of one.
    out.push_back(std::move(g));
  }
  return out;
}

std::vector<LayerGeometry> static_model_geometry(const Graph& g) {
  auto declared = [&](ValueId v) -> Shape {
    if (v == kNoValue || !g.value(v).has_shape) return {};
    return g.value(v).shape;
  };
  std::vector<LayerGeometry> out;
  for (const LayerInfo& l : find_layers(g)) {
    const Node& n = g.nodes[l.node];
    const Shape wgt = declared(l.weights);
    Shape act = declared(l.activations), res = declared(l.output);
    // Gemm's A is always [rows, K], one row per image; a MatMul's of unknown rank may have more.
    const bool act_rank_known = !act.empty() || l.op == "Gemm";
    const bool conv = l.op == "Conv" || l.op == "QLinearConv" || l.op == "ConvInteger";
    const int64_t groups = std::max<int64_t>(1, n.attr_int("group", 1));
    if ((conv || l.op == "ConvTranspose") && wgt.size() >= 2) {
      // Activations and outputs have the weights' rank; their channels follow from the weights.
      if (act.size() != wgt.size()) act.assign(wgt.size(), -1);
      if (res.size() != wgt.size()) res.assign(wgt.size(), -1);
      if (act[1] < 0) act[1] = conv ? wgt[1] * groups : wgt[0];
      if (res[1] < 0) res[1] = conv ? wgt[0] : wgt[1] * groups;
    } else if (!conv && l.op != "ConvTranspose" && wgt.size() == 2 && n.attr_int("transA", 0) == 0) {
      const int64_t k = l.op == "Gemm" && n.attr_int("transB", 0) != 0 ? wgt[1] : wgt[0];  // K from the weights
      if (act.empty()) act = {-1, k};                                                      // rows unknown
      if (act.back() < 0) act.back() = k;
    }
    if (!act.empty() && act[0] < 0) act[0] = 1;  // per image
    LayerGeometry r = layer_geometry(g, l, act, wgt, res);
    bool sized = r.Ni >= 0 && r.Nf >= 0;
    if (r.kind == "fc") {
      for (int64_t d : act) sized = sized && d >= 0;
      sized = sized && act_rank_known;  // rows unknown
    } else {
      sized = sized && r.Nx >= 0 && r.Ny >= 0 && r.Ox >= 0 && r.Oy >= 0;
    }
    if (!sized) r.macs = -1;
    out.push_back(std::move(r));
  }
  return out;
}

void to_json(nlohmann::json& j, const LayerGeometry& g) {
  j = nlohmann::json{{"index", g.index},
                     {"name", g.name},
                     {"op", g.op},
                     {"kind", g.kind},
                     {"onnx_nodes", g.origin},
                     {"Nx", g.Nx},
                     {"Ny", g.Ny},
                     {"Ni", g.Ni},
                     {"Kx", g.Kx},
                     {"Ky", g.Ky},
                     {"Nf", g.Nf},
                     {"Ox", g.Ox},
                     {"Oy", g.Oy},
                     {"stride", {g.stride_y, g.stride_x}},
                     {"pad", {g.pad_top, g.pad_left, g.pad_bottom, g.pad_right}},
                     {"dilation", {g.dilation_y, g.dilation_x}},
                     {"groups", g.groups},
                     {"macs", g.macs},
                     {"params", g.params},
                     {"fused_activation", g.fused_activation}};
  for (const char* key : {"Nx", "Ny", "Ni", "Nf", "Ox", "Oy", "macs"}) {
    if (j[key].get<int64_t>() < 0) j[key] = nullptr;
  }
}

}  // namespace eff
