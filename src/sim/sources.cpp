#include "sim/sources.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/fs.h"
#include "data/npy.h"
#include "engine/quantized_layers.h"
#include "graph/passes.h"
#include "sim/code_sums.h"
#include "sim/fc_rows.h"
#include "sim/machinery.h"

namespace eff::sim {

namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// Arrays at least this long are converted by all OpenMP threads (FC weights: 10^8 values).
constexpr int64_t kParallelValues = int64_t{1} << 18;

// Round to nearest, ties away from zero, saturate: the engine's to_fixed_int, written so that it
// vectorises (this runs on every activation and weight of every simulated layer). Values with
// |v| < prune_below become 0 first, as the engine's prune hook does (docs/value-hooks.md); NaN
// becomes 0. y = v * 2^frac is exact in double and has at most 24 significant bits, so
// y + 0.5 is exact and truncating it rounds exactly as std::round does.
void to_codes(const float* v, int64_t n, const FixedPointFormat& f, float prune_below, int16_t* out) {
  const double scale = std::ldexp(1.0, f.frac_bits);
  const double hi = f.max_code(), lo = f.min_code();
#pragma omp parallel for simd schedule(static) if (n >= kParallelValues)
  for (int64_t i = 0; i < n; ++i) {
    const float x = v[i];
    const bool kept = std::fabs(x) >= prune_below;  // false for NaN
    double y = kept ? static_cast<double>(x) * scale : 0.0;
    y = std::min(std::max(y, lo), hi);
    out[i] = static_cast<int16_t>(static_cast<int32_t>(y + (y < 0 ? -0.5 : 0.5)));
  }
}

// Bits the codes need (spec §2.0 item 5 width of the OR of all serial patterns, sign included).
int observed_bits(const std::vector<int16_t>& codes, bool& any_negative) {
  const int16_t* c = codes.data();
  const int64_t n = static_cast<int64_t>(codes.size());
  uint32_t orv = 0, neg = 0;
#pragma omp parallel for simd schedule(static) reduction(| : orv, neg) if (n >= kParallelValues)
  for (int64_t i = 0; i < n; ++i) {
    orv |= serial_pattern(c[i]);
    neg |= c[i] < 0 ? 1u : 0u;
  }
  any_negative = neg != 0;
  return group_width(static_cast<uint16_t>(orv), any_negative, false);
}

struct Quantized {
  std::vector<int16_t> codes;
  FixedPointFormat format;
  int bits = 16;
  bool negative = false;
};

Quantized quantize(const float* v, int64_t n, const OperandSpec* spec, float prune_below) {
  Quantized q;
  const bool profiled = spec && spec->kind == OperandTransform::kFixedPoint;
  q.format = profiled ? spec->fixed : derive_format(v, n);
  q.codes.resize(static_cast<size_t>(n));
  to_codes(v, n, q.format, prune_below, q.codes.data());
  const int observed = observed_bits(q.codes, q.negative);
  q.bits = profiled ? q.format.total_bits() : observed;
  // A profile that does not say "signed" (written before formats carried it) counts a sign bit in
  // int_bits; a tensor without negative values never uses it: the same codes in the unsigned
  // format one bit narrower, so P counts magnitude bits only (seed 001 Table 2).
  if (profiled && !spec->sign_stated && q.format.is_signed && !q.negative && q.format.total_bits() > 1) {
    q.format.is_signed = false;
    --q.format.int_bits;
    q.bits = q.format.total_bits();
  }
  // A format stated signed keeps its sign bit even when this image has no negative value: the
  // dynamic-precision designs then charge it too.
  if (profiled && spec->sign_stated && spec->fixed.is_signed) q.negative = true;
  return q;
}

}  // namespace

FixedPointFormat derive_format(const float* v, int64_t n) {
  float m = 0;
#pragma omp parallel for simd schedule(static) reduction(max : m) if (n >= kParallelValues)
  for (int64_t i = 0; i < n; ++i) {
    const float a = std::fabs(v[i]);
    m = std::max(m, a <= std::numeric_limits<float>::max() ? a : 0.0f);  // NaN and inf ignored
  }
  FixedPointFormat f;
  f.int_bits = 1;
  while (f.int_bits < 16 && std::ldexp(1.0, f.int_bits - 1) <= m) ++f.int_bits;
  f.frac_bits = 16 - f.int_bits;
  return f;
}

// Refuses (before anything is read or allocated) layers whose padded input or weights would
// exceed the engine's tensor limit: a corrupt manifest or network file must not cost unbounded
// memory. Doubles, because three 2^24 dimensions overflow int64.
void check_layer_size(const LayerGeometry& g) {
  const double limit = static_cast<double>(max_tensor_bytes()) / 2;  // int16 codes
  const double acts =
      g.kind == "fc" ? double(g.Ni)
                     : double(g.Ni) * double(g.Nx + g.pad_left + g.pad_right) * double(g.Ny + g.pad_top + g.pad_bottom);
  const double wgts = double(g.Nf) * double(g.Ni) * double(g.Kx) * double(g.Ky);
  if (acts > limit || wgts > limit) {
    fail<ShapeError>("layer '{}': {} activation or {} weight codes exceed the tensor size limit", g.name, acts, wgts);
  }
}

namespace {

// The checks every layer passes before anything is laid out (indices below rely on them).
void validate_geometry(const LayerGeometry& g) {
  check_layer_size(g);
  if (g.kind == "fc") {
    if (fc_rows(g) == 0)
      fail<ShapeError>("layer '{}': {} MACs are not a whole number of rows of Ni {} x Nf {}", g.name, g.macs, g.Ni,
                       g.Nf);
    return;
  }
  if (g.kind != "conv")
    fail<UnsupportedError>("layer '{}' ({}): the simulator models conv and FC layers", g.name, g.kind);
  const int64_t groups = std::max<int64_t>(1, g.groups);
  if (g.Ni % groups != 0 || g.Nf % groups != 0 || g.Kx < 1 || g.Ky < 1 || g.Ox < 1 || g.Oy < 1 || g.stride_x < 1 ||
      g.stride_y < 1 || g.dilation_x < 1 || g.dilation_y < 1) {
    fail<ShapeError>("layer '{}': inconsistent geometry (Ni {}, Nf {}, groups {}, kernel {}x{}, output {}x{})", g.name,
                     g.Ni, g.Nf, groups, g.Ky, g.Kx, g.Oy, g.Ox);
  }
  const int64_t Xp = g.Nx + g.pad_left + g.pad_right, Yp = g.Ny + g.pad_top + g.pad_bottom;
  if ((g.Ox - 1) * g.stride_x + (g.Kx - 1) * g.dilation_x >= Xp ||
      (g.Oy - 1) * g.stride_y + (g.Ky - 1) * g.dilation_y >= Yp) {
    fail<ShapeError>("layer '{}': output {}x{} does not fit the padded input {}x{}", g.name, g.Oy, g.Ox, Yp, Xp);
  }
}

// Whether the first-layer rule of spec §2.0 item 2 applies (conv layers only).
bool folds_space_to_depth(const LayerGeometry& g, const SimLayerOptions& o) {
  const int64_t groups = std::max<int64_t>(1, g.groups);
  return o.space_to_depth && groups == 1 && g.Ni == 3 && g.stride_x > 1 && g.stride_y == g.stride_x &&
         g.dilation_x == 1 && g.dilation_y == 1;
}

// Weight codes from the model's layout (conv [Nf][Cg][Ky][Kx]; FC [Nf][Ni], or [Ni][Nf] with
// fc_weights_in_by_out) to the simulator's [K][Ky][Kx][C], folded like the activations for the
// first-layer rule. FC weights already in place are moved, not copied (10^8 codes in VGG-16's fc6).
std::vector<int16_t> layout_weights(const LayerGeometry& g, std::vector<int16_t>&& codes, const SimLayerOptions& o) {
  if (g.kind == "fc") {
    if (!o.fc_weights_in_by_out) return std::move(codes);
    std::vector<int16_t> out(static_cast<size_t>(g.Ni * g.Nf));
    constexpr int64_t kBlock = 64;  // transpose in tiles: both sides stay in cache
    for (int64_t c0 = 0; c0 < g.Ni; c0 += kBlock) {
      for (int64_t k0 = 0; k0 < g.Nf; k0 += kBlock) {
        for (int64_t c = c0; c < std::min(g.Ni, c0 + kBlock); ++c) {
          for (int64_t k = k0; k < std::min(g.Nf, k0 + kBlock); ++k) out[k * g.Ni + c] = codes[c * g.Nf + k];
        }
      }
    }
    return out;
  }
  const int64_t Cg = g.Ni / std::max<int64_t>(1, g.groups);
  std::vector<int16_t> out;
  if (!folds_space_to_depth(g, o)) {
    out.resize(static_cast<size_t>(g.Nf * g.Ky * g.Kx * Cg));
    for (int64_t k = 0; k < g.Nf; ++k) {
      for (int64_t c = 0; c < Cg; ++c) {
        for (int64_t ky = 0; ky < g.Ky; ++ky) {
          for (int64_t kx = 0; kx < g.Kx; ++kx) {
            out[((k * g.Ky + ky) * g.Kx + kx) * Cg + c] = codes[((k * Cg + c) * g.Ky + ky) * g.Kx + kx];
          }
        }
      }
    }
    return out;
  }
  // The kernel shrinks to ceil(K / s) with the activations' folding; zero weights where it overhangs.
  const int64_t s = g.stride_x, C2 = 3 * s * s, Kx = ceil_div(g.Kx, s), Ky = ceil_div(g.Ky, s);
  out.assign(static_cast<size_t>(g.Nf * Ky * Kx * C2), 0);
  for (int64_t k = 0; k < g.Nf; ++k) {
    for (int64_t c = 0; c < 3; ++c) {
      for (int64_t ky = 0; ky < g.Ky; ++ky) {
        for (int64_t kx = 0; kx < g.Kx; ++kx) {
          const int64_t c2 = (ky % s) * s * 3 + (kx % s) * 3 + c;
          out[((k * Ky + ky / s) * Kx + kx / s) * C2 + c2] = codes[((k * 3 + c) * g.Ky + ky) * g.Kx + kx];
        }
      }
    }
  }
  return out;
}

// Builds the SimLayer's geometry and activations from codes in the model's layout [Ni][Ny][Nx];
// the weights are attached by the caller (layout_weights). `g` has passed validate_geometry.
SimLayer assemble(const LayerGeometry& g, const int16_t* acts, const SimLayerOptions& o) {
  SimLayer l;
  l.index = g.index;
  l.name = g.name;
  l.image = o.image;
  l.first_layer = o.first_layer;
  l.fc_over_rows = o.fc_over_rows;
  l.wgts_input_major_offchip = o.wgts_input_major_offchip;
  l.macs = g.macs;
  if (g.kind == "fc") {
    l.kind = LayerKind::kFC;
    l.C_total = l.C = g.Ni;
    l.K = g.Nf;
    l.act_count = g.Ni;
    l.wgt_count = g.Ni * g.Nf;
    l.acts.assign(acts, acts + g.Ni);
    return l;
  }
  const int64_t groups = std::max<int64_t>(1, g.groups);
  const int64_t Xp = g.Nx + g.pad_left + g.pad_right, Yp = g.Ny + g.pad_top + g.pad_bottom;
  const int64_t Cg = g.Ni / groups;
  l.kind = LayerKind::kConv;
  l.groups = groups;
  l.C = Cg;
  l.K = g.Nf;
  l.OX = g.Ox;
  l.OY = g.Oy;
  l.act_count = g.Ni * g.Nx * g.Ny;
  l.wgt_count = g.Nf * Cg * g.Kx * g.Ky;
  l.mapping = groups > 1 && Cg == 1 && g.Nf == groups ? ChannelMapping::kDepthwise : ChannelMapping::kDense;
  const int64_t s = g.stride_x;
  auto padded = [&](int64_t c, int64_t y, int64_t x) -> int16_t {
    const int64_t iy = y - g.pad_top, ix = x - g.pad_left;
    if (iy < 0 || ix < 0 || iy >= g.Ny || ix >= g.Nx) return 0;
    return acts[(c * g.Ny + iy) * g.Nx + ix];
  };
  if (!folds_space_to_depth(g, o)) {
    l.X = Xp;
    l.Y = Yp;
    l.C_total = g.Ni;
    l.Kx = g.Kx;
    l.Ky = g.Ky;
    l.stride_x = g.stride_x;
    l.stride_y = g.stride_y;
    l.dilation_x = g.dilation_x;
    l.dilation_y = g.dilation_y;
    l.acts.assign(static_cast<size_t>(Xp * Yp * g.Ni), 0);
    for (int64_t c = 0; c < g.Ni; ++c) {
      for (int64_t y = 0; y < g.Ny; ++y) {
        const int16_t* src = acts + (c * g.Ny + y) * g.Nx;
        int16_t* dst = l.acts.data() + ((y + g.pad_top) * Xp + g.pad_left) * g.Ni + c;
        for (int64_t x = 0; x < g.Nx; ++x) dst[x * g.Ni] = src[x];
      }
    }
    return l;
  }
  // First-layer space-to-depth (spec §2.0 item 2): position (x, y) of the padded input moves to
  // (x / s, y / s), channel (y mod s) * s * 3 + (x mod s) * 3 + c; stride becomes 1.
  l.space_to_depth = true;
  l.s2d_stride = s;
  l.orig_Kx = g.Kx;
  l.orig_Ky = g.Ky;
  const int64_t C2 = 3 * s * s;
  l.X = ceil_div(Xp, s);
  l.Y = ceil_div(Yp, s);
  l.C_total = l.C = C2;
  l.Kx = ceil_div(g.Kx, s);
  l.Ky = ceil_div(g.Ky, s);
  l.acts.assign(static_cast<size_t>(l.X * l.Y * C2), 0);
  for (int64_t y = 0; y < Yp; ++y) {
    for (int64_t x = 0; x < Xp; ++x) {
      for (int64_t c = 0; c < 3; ++c) {
        l.acts[((y / s) * l.X + x / s) * C2 + (y % s) * s * 3 + (x % s) * 3 + c] = padded(c, y, x);
      }
    }
  }
  return l;
}

void set_precision(SimLayer& l, const FixedPointFormat& af, int act_bits, const FixedPointFormat& wf, int wgt_bits,
                   bool act_negative, bool wgt_negative) {
  l.act_format = af;
  l.wgt_format = wf;
  l.act_bits = act_bits;
  l.wgt_bits = wgt_bits;
  l.act_signed = act_negative;
  l.wgt_signed = wgt_negative;
}

}  // namespace

SimWeights make_sim_weights(const LayerGeometry& g, const float* wgts, const SimLayerOptions& o) {
  validate_geometry(g);
  const int64_t nw = g.kind == "fc" ? g.Ni * g.Nf : g.Nf * (g.Ni / std::max<int64_t>(1, g.groups)) * g.Ky * g.Kx;
  const LayerTransform* t = o.transform;
  Quantized qw = quantize(wgts, nw, t ? &t->weights : nullptr, 0.0f);
  SimWeights w;
  w.format = qw.format;
  w.bits = qw.bits;
  w.negative = qw.negative;
  w.codes = layout_weights(g, std::move(qw.codes), o);
  return w;
}

SimLayer make_sim_layer(const LayerGeometry& g, const float* acts, SimWeights&& w, const SimLayerOptions& o) {
  validate_geometry(g);
  const int64_t na = g.kind == "fc" ? g.Ni : g.Ni * g.Ny * g.Nx;
  const LayerTransform* t = o.transform;
  const Quantized qa = quantize(acts, na, t ? &t->activations : nullptr, t ? t->prune_threshold : 0.0f);
  SimLayer l = assemble(g, qa.codes.data(), o);
  l.wgts = std::move(w.codes);
  set_precision(l, qa.format, qa.bits, w.format, w.bits, qa.negative, w.negative);
  return l;
}

SimLayer make_sim_layer(const LayerGeometry& g, const float* acts, const float* wgts, const SimLayerOptions& o) {
  return make_sim_layer(g, acts, make_sim_weights(g, wgts, o), o);
}

namespace {
// Integer codes are the values (step 1): the engine's rule |v| < t -> 0 applies directly.
void prune_codes(std::vector<int16_t>& acts, float t) {
  if (t <= 0) return;
  for (int16_t& a : acts) a = std::fabs(static_cast<float>(a)) < t ? int16_t{0} : a;
}
}  // namespace

SimLayer make_sim_layer_from_codes(const LayerGeometry& g, std::vector<int16_t> acts, std::vector<int16_t> wgts,
                                   int act_bits, int wgt_bits, const SimLayerOptions& o) {
  if (o.transform) prune_codes(acts, o.transform->prune_threshold);
  validate_geometry(g);
  const bool act_negative = std::any_of(acts.begin(), acts.end(), [](int16_t a) { return a < 0; });
  const bool wgt_negative = std::any_of(wgts.begin(), wgts.end(), [](int16_t w) { return w < 0; });
  SimLayer l = assemble(g, acts.data(), o);
  l.wgts = layout_weights(g, std::move(wgts), o);
  // The codes are the values: integer formats (step 1).
  const FixedPointFormat integer_codes{16, 0};
  set_precision(l, integer_codes, act_bits, integer_codes, wgt_bits, act_negative, wgt_negative);
  return l;
}

// ---- (a) live capture --------------------------------------------------------------------------

void CaptureSimulator::on_layer(const LayerInfo& layer, const Tensor& activations, const Tensor& weights,
                                const Tensor& output) {
  const LayerGeometry model_g = layer_geometry(graph_, layer, activations.shape(), weights.shape(), output.shape());
  ++layers_seen_;
  if (model_g.kind != "conv" && model_g.kind != "fc") return;  // deconvolutions are not modelled (docs/simulator.md)
  // An FC layer over several rows per image is simulated as a 1x1 convolution over them
  // (sim/fc_rows.h): its activations and outputs [rows][C] are transposed to channel-major.
  validate_geometry(model_g);
  const int64_t rows = fc_rows(model_g);
  const bool row_fc = model_g.kind == "fc" && rows > 1;
  const LayerGeometry g = simulated_geometry(model_g);
  // A quantized model's layer: the designs see its integer codes, code - zero point
  // (engine/quantized_layers.h), at the width the 8-bit codes and zero points need. The
  // --check-values reference is the exact integer sums of those codes (sim/code_sums.h).
  const LayerQuantization q = layer_quantization(graph_, layer);
  if (!q.present && (activations.dtype() != DType::kFloat32 || weights.dtype() != DType::kFloat32)) {
    fail<UnsupportedError>("layer '{}': the simulator reads float32 operands", layer.name);
  }
  const int64_t batch = std::max<int64_t>(1, activations.dim(0));
  const int64_t per_image = activations.numel() / batch;
  if (row_fc && per_image != rows * g.Ni) {
    fail<ShapeError>("layer '{}': input {} is not {} rows of {} per image", layer.name, shape_str(activations.shape()),
                     rows, g.Ni);
  }
  SimLayerOptions o;
  o.first_layer = layer.index == 0;
  o.space_to_depth = space_to_depth_;
  o.fc_over_rows = row_fc;
  const Node& node = graph_.nodes[layer.node];
  o.fc_weights_in_by_out = layer.op == "MatMul" || layer.op == "QLinearMatMul" || layer.op == "MatMulInteger" ||
                           (layer.op == "Gemm" && node.attr_int("transB", 0) == 0);
  o.wgts_input_major_offchip = o.fc_weights_in_by_out;
  auto it = transforms_.find(layer.name);
  o.transform = it == transforms_.end() ? nullptr : &it->second;
  if (q.present) {
    std::vector<int16_t> wgt_codes = weight_codes(q, weights);
    if (row_fc && o.fc_weights_in_by_out) wgt_codes = transposed(wgt_codes.data(), g.Ni, g.Nf);
    if (row_fc) o.fc_weights_in_by_out = false;  // [Nf][Ni] now, the convolution's [Nf][Ni][1][1]
    for (int64_t i = 0; i < batch; ++i) {
      o.image = first_image_ + static_cast<int>(i);
      std::vector<int16_t> act_codes = activation_codes(q, activations, i * per_image, per_image);
      if (row_fc) act_codes = transposed(act_codes.data(), rows, g.Ni);
      std::vector<int64_t> sums;
      if (keep_outputs_) {  // from the codes the designs get: after the threshold, as below
        std::vector<int16_t> kept = act_codes;
        if (o.transform) prune_codes(kept, o.transform->prune_threshold);
        sums = code_sums(g, kept.data(), wgt_codes, o.fc_weights_in_by_out);
      }
      SimLayer l = make_sim_layer_from_codes(g, std::move(act_codes), wgt_codes, q.act_bits, q.wgt_bits, o);
      l.reference_sums = std::move(sums);
      run_.simulate(l);
    }
    return;
  }
  std::vector<float> bias;
  if (layer.bias != kNoValue && graph_.is_constant(layer.bias)) {
    bias = graph_.constant(layer.bias).cast(DType::kFloat32).to_f32_vector();
    if (static_cast<int64_t>(bias.size()) != g.Nf) bias.clear();
  }
  const int64_t out_per_image = output.numel() / batch;
  // The weights are quantized once for all images of this batch (and, with keep_weights_, of the
  // run): each image's layer borrows them and gives them back.
  const bool keep = keep_weights_ && layer.weights != kNoValue && graph_.is_constant(layer.weights);
  SimWeights w;
  if (auto it = weights_.find(layer.index); keep && it != weights_.end()) {
    w = std::move(it->second);
  } else {
    // The FC geometry lays FC weights out as [Nf][Ni], which is the 1x1 convolution's layout too.
    w = make_sim_weights(model_g, weights.data<float>(), o);
  }
  for (int64_t i = 0; i < batch; ++i) {
    o.image = first_image_ + static_cast<int>(i);
    const float* acts = activations.data<float>() + i * per_image;
    std::vector<float> channel_major;
    if (row_fc) channel_major = transposed(acts, rows, g.Ni);
    SimLayer l = make_sim_layer(g, row_fc ? channel_major.data() : acts, std::move(w), o);
    l.bias = bias;
    // A HardSwish or Swish folded into the layer is not recomputed, nor a residual Add (runs that
    // this observer watches keep the Adds apart where the model can be loaded again): its output
    // stays unchecked.
    const bool checkable =
        layer.fused_activation != "HardSwish" && layer.fused_activation != "Swish" && !layer.fused_residual_add;
    if (keep_outputs_ && checkable && output.dtype() == DType::kFloat32 && out_per_image == l.K * l.windows()) {
      const float* out = output.data<float>() + i * out_per_image;
      if (row_fc) {
        l.reference_output = transposed(out, rows, g.Nf);
      } else {
        l.reference_output.assign(out, out + out_per_image);
      }
      l.reference_bias = bias;
      l.reference_relu = layer.fused_activation == "Relu";
      l.reference_clip = layer.fused_activation == "Clip";
      l.reference_min = layer.activation_min;
      l.reference_max = layer.activation_max;
    }
    run_.simulate(l);
    w.codes = std::move(l.wgts);  // only the codes moved into the layer
  }
  if (keep) weights_[layer.index] = std::move(w);
}

// ---- (b) traces --------------------------------------------------------------------------------

namespace {

int64_t field_int(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || !j[key].is_number_integer()) fail<TraceError>("{}.{}: missing or not an integer", where, key);
  return j[key].get<int64_t>();
}
std::string field_str(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || !j[key].is_string()) fail<TraceError>("{}.{}: missing or not a string", where, key);
  return j[key].get<std::string>();
}
std::vector<int64_t> field_ints(const nlohmann::json& j, const char* key, size_t n, const std::string& where) {
  if (!j.contains(key) || !j[key].is_array() || j[key].size() != n) {
    fail<TraceError>("{}.{}: missing or not a list of {} integers", where, key, n);
  }
  std::vector<int64_t> v;
  for (const auto& x : j[key]) {
    if (!x.is_number_integer()) fail<TraceError>("{}.{}: not a list of {} integers", where, key, n);
    v.push_back(x.get<int64_t>());
  }
  return v;
}

nlohmann::json read_manifest_json(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "manifest.json").string();
  std::string text;
  try {
    text = read_file(path, 64 << 20);
  } catch (const DataError& e) {
    fail<TraceError>("{}: missing or unreadable (an incomplete trace has no manifest)", path);
  }
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail<TraceError>("{}: not valid JSON ({})", path, e.what());
  }
  if (!m.is_object() || m.value("format", "") != "effectual-trace") {
    fail<TraceError>("{}: format: not an effectual trace manifest", path);
  }
  if (!m.contains("version") || m["version"] != 1) fail<TraceError>("{}: version: only version 1 is understood", path);
  if (!m.contains("layers") || !m["layers"].is_array()) fail<TraceError>("{}: layers: missing or not a list", path);
  return m;
}

LayerGeometry geometry_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) fail<TraceError>("{}: not an object", where);
  LayerGeometry g;
  g.index = static_cast<int>(field_int(j, "index", where));
  g.name = field_str(j, "name", where);
  g.op = field_str(j, "op", where);
  g.kind = field_str(j, "kind", where);
  g.Nx = field_int(j, "Nx", where);
  g.Ny = field_int(j, "Ny", where);
  g.Ni = field_int(j, "Ni", where);
  g.Kx = field_int(j, "Kx", where);
  g.Ky = field_int(j, "Ky", where);
  g.Nf = field_int(j, "Nf", where);
  g.Ox = field_int(j, "Ox", where);
  g.Oy = field_int(j, "Oy", where);
  g.groups = field_int(j, "groups", where);
  g.macs = field_int(j, "macs", where);
  const auto st = field_ints(j, "stride", 2, where), pad = field_ints(j, "pad", 4, where),
             dil = field_ints(j, "dilation", 2, where);
  g.stride_y = st[0];
  g.stride_x = st[1];
  g.pad_top = pad[0];
  g.pad_left = pad[1];
  g.pad_bottom = pad[2];
  g.pad_right = pad[3];
  g.dilation_y = dil[0];
  g.dilation_x = dil[1];
  const int64_t limit = int64_t{1} << 24;
  for (int64_t v :
       {g.Nx, g.Ny, g.Ni, g.Kx, g.Ky, g.Nf, g.Ox, g.Oy, g.groups, g.stride_x, g.stride_y, g.dilation_x, g.dilation_y}) {
    if (v < 1 || v > limit) fail<TraceError>("{}: geometry value {} is out of range [1, {}]", where, v, limit);
  }
  for (int64_t v : pad) {
    if (v < 0 || v > limit) fail<TraceError>("{}.pad: {} is out of range", where, v);
  }
  return g;
}

OperandSpec operand_from_json(const nlohmann::json& j, const std::string& where) {
  OperandSpec s;
  if (j.is_null()) return s;
  if (j.is_string()) {
    if (j == "uniform8") s.kind = OperandTransform::kUniform8;
    return s;
  }
  if (!j.is_object()) fail<TraceError>("{}: not null, a string or an object", where);
  s.kind = OperandTransform::kFixedPoint;
  s.fixed.int_bits = static_cast<int>(field_int(j, "int_bits", where));
  s.fixed.frac_bits = static_cast<int>(field_int(j, "frac_bits", where));
  s.sign_stated = j.contains("signed");
  if (s.sign_stated) {
    if (!j["signed"].is_boolean()) fail<TraceError>("{}.signed: not true or false", where);
    s.fixed.is_signed = j["signed"].get<bool>();
  }
  try {
    validate_fixed_point(s.fixed, where);
  } catch (const ConfigError& e) {
    throw TraceError(e.what());
  }
  return s;
}

std::string trace_file_path(const std::string& dir, const nlohmann::json& entry, const char* key,
                            const std::string& where) {
  if (!entry.contains(key) || !entry[key].is_object()) fail<TraceError>("{}.{}: missing", where, key);
  const std::string file = field_str(entry[key], "file", where + "." + key);
  if (file.find("..") != std::string::npos || (!file.empty() && file[0] == '/')) {
    fail<TraceError>("{}.{}.file: '{}' leaves the trace directory", where, key, file);
  }
  return (std::filesystem::path(dir) / file).string();
}

Tensor read_trace_npy(const std::string& dir, const nlohmann::json& entry, const char* key, const std::string& where) {
  const std::string path = trace_file_path(dir, entry, key, where);
  Tensor t;
  try {
    t = read_npy(path);
  } catch (const DataError& e) {
    throw TraceError(e.what());
  }
  if (t.dtype() != DType::kFloat32) t = t.cast(DType::kFloat32);
  return t;
}

// Integer codes read back from a trace file (stored as integers, read as float32: exact).
std::vector<int16_t> trace_codes(const float* v, int64_t n, int bits, const std::string& where) {
  const float hi = static_cast<float>((1 << (bits - 1)) - 1), lo = -hi - 1;
  std::vector<int16_t> codes(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (!(v[i] >= lo && v[i] <= hi) || v[i] != std::nearbyint(v[i])) {
      fail<TraceError>("{}: value {} is not an integer code of {} bits", where, v[i], bits);
    }
    codes[i] = static_cast<int16_t>(v[i]);
  }
  return codes;
}

struct QuantizedTrace {
  bool present = false;
  int act_bits = 16, wgt_bits = 16;
  std::vector<int16_t> wgt_codes;
};

QuantizedTrace quantized_trace(const nlohmann::json& j, const Tensor& wgts, const std::string& where) {
  if (!j.is_object() || j.value("format", "") != "code-zero_point") {
    fail<TraceError>("{}.format: only \"code-zero_point\" is understood", where);
  }
  QuantizedTrace q;
  q.present = true;
  q.act_bits = static_cast<int>(field_int(j, "act_bits", where));
  q.wgt_bits = static_cast<int>(field_int(j, "wgt_bits", where));
  for (int b : {q.act_bits, q.wgt_bits}) {
    if (b < 2 || b > 16) fail<TraceError>("{}: a code width of {} bits is outside [2, 16]", where, b);
  }
  q.wgt_codes = trace_codes(wgts.data<float>(), wgts.numel(), q.wgt_bits, where + " (weights)");
  return q;
}

}  // namespace

std::vector<LayerGeometry> read_trace_manifest(const std::string& dir) {
  const nlohmann::json m = read_manifest_json(dir);
  const std::string file = (std::filesystem::path(dir) / "manifest.json").string();
  std::vector<LayerGeometry> out;
  for (size_t i = 0; i < m["layers"].size(); ++i) {
    out.push_back(geometry_from_json(m["layers"][i], fmt::format("{}: layers[{}]", file, i)));
  }
  return out;
}

int simulate_trace_dir(const std::string& dir, SimRun& run, const TraceOptions& o) {
  const nlohmann::json m = read_manifest_json(dir);
  const std::string file = (std::filesystem::path(dir) / "manifest.json").string();
  int images_done = 0;
  for (size_t i = 0; i < m["layers"].size(); ++i) {
    const nlohmann::json& e = m["layers"][i];
    const std::string where = fmt::format("{}: layers[{}]", file, i);
    const LayerGeometry g = geometry_from_json(e, where);
    if (g.kind != "conv" && g.kind != "fc") continue;
    LayerTransform t;
    if (e.contains("transform") && e["transform"].is_object()) {
      const auto& tj = e["transform"];
      if (tj.contains("activations"))
        t.activations = operand_from_json(tj["activations"], where + ".transform.activations");
      if (tj.contains("weights")) t.weights = operand_from_json(tj["weights"], where + ".transform.weights");
      if (tj.contains("prune_threshold") && tj["prune_threshold"].is_number())
        t.prune_threshold = tj["prune_threshold"];
    }
    if (auto it = o.transforms.find(g.name); it != o.transforms.end()) {
      if (it->second.activations.kind != OperandTransform::kNone) t.activations = it->second.activations;
      if (it->second.weights.kind != OperandTransform::kNone) t.weights = it->second.weights;
      t.prune_threshold = std::max(t.prune_threshold, it->second.prune_threshold);
    }
    // Activations stream a slab of images at a time (memory: one slab, not the layer's file);
    // weights are read whole, once per layer.
    std::optional<NpySlabReader> acts;
    try {
      acts.emplace(trace_file_path(dir, e, "input", where));
    } catch (const DataError& ex) {
      throw TraceError(ex.what());
    }
    const Tensor wgts = read_trace_npy(dir, e, "weights", where);
    const bool fc = g.kind == "fc";
    // An FC layer over several rows per image (sim/fc_rows.h): a 1x1 convolution over the rows.
    const int64_t rows = fc_rows(g);
    if (rows == 0)
      fail<TraceError>("{}: macs {} is not a whole number of rows of Ni {} x Nf {}", where, g.macs, g.Ni, g.Nf);
    const bool row_fc = fc && rows > 1;
    const LayerGeometry gs = simulated_geometry(g);
    try {
      check_layer_size(gs);
    } catch (const std::exception& ex) {
      fail<TraceError>("{}: {}", where, ex.what());
    }
    const int64_t per_image = fc ? rows * g.Ni : g.Ni * g.Ny * g.Nx;
    const int64_t wcount = fc ? g.Ni * g.Nf : g.Nf * (g.Ni / g.groups) * g.Ky * g.Kx;
    const Shape& ashape = acts->shape();
    int64_t row_elems = 1;
    for (size_t d = 1; d < ashape.size(); ++d) row_elems *= ashape[d];
    if (ashape.size() < 2 || row_elems != per_image) {
      fail<TraceError>("{}: input shape {} does not match the geometry (Ni {}, Ny {}, Nx {}{})", where,
                       shape_str(ashape), g.Ni, g.Ny, g.Nx, row_fc ? fmt::format(", {} rows", rows) : "");
    }
    if (wgts.numel() != wcount) {
      fail<TraceError>("{}: weights shape {} does not match the geometry ({} weights)", where, shape_str(wgts.shape()),
                       wcount);
    }
    const int64_t n = ashape[0];
    const int64_t first = std::min(o.first, n);
    const int64_t count = o.images > 0 ? std::min(o.images, n - first) : n - first;
    SimLayerOptions so;
    so.first_layer = g.index == 0;
    so.space_to_depth = o.space_to_depth;
    so.transform = &t;
    so.fc_over_rows = row_fc;
    // FC weights: MatMul stores [Ni, Nf]; Gemm as exported by PyTorch [Nf, Ni] (transB = 1).
    so.fc_weights_in_by_out = fc && (g.op == "MatMul" || g.op == "MatMulInteger" || g.op == "QLinearMatMul" ||
                                     (wgts.rank() == 2 && wgts.dim(0) == g.Ni && wgts.dim(1) == g.Nf && g.Ni != g.Nf));
    so.wgts_input_major_offchip = so.fc_weights_in_by_out;
    // A quantized model's layer: the files hold the integer codes (code - zero point) the live run
    // gives the designs, at the widths the manifest states.
    QuantizedTrace quant;
    if (e.contains("quantization")) quant = quantized_trace(e["quantization"], wgts, where + ".quantization");
    if (quant.present && row_fc && so.fc_weights_in_by_out)
      quant.wgt_codes = transposed(quant.wgt_codes.data(), g.Ni, g.Nf);
    // Weights are quantized once per layer; each image of a slab gets its own copy (images run in
    // parallel, and a copy is cheaper than quantizing again).
    SimWeights wq;
    if (count > 0 && !quant.present) {
      try {
        wq = make_sim_weights(g, wgts.data<float>(), so);
      } catch (const std::exception& ex) {
        fail<TraceError>("{}: {}", where, ex.what());
      }
    }
    const int64_t slab = std::max(1, o.threads);
    for (int64_t s0 = first; s0 < first + count; s0 += slab) {
      const int64_t in_slab = std::min(slab, first + count - s0);
      Tensor part;
      try {
        part = acts->read(s0, in_slab);
      } catch (const DataError& ex) {
        throw TraceError(ex.what());
      }
      if (part.dtype() != DType::kFloat32) part = part.cast(DType::kFloat32);
      const float* a = part.data<float>();
      std::string error;
#pragma omp parallel for schedule(dynamic, 1) num_threads(o.threads) if (in_slab > 1 && o.threads > 1)
      for (int64_t k = 0; k < in_slab; ++k) {
        try {
          SimLayerOptions mine = so;
          mine.image = static_cast<int>(s0 + k);
          const float* image = a + k * per_image;
          std::vector<float> channel_major;
          if (row_fc) {
            channel_major = transposed(image, rows, g.Ni);
            image = channel_major.data();
          }
          if (quant.present) {
            run.simulate(make_sim_layer_from_codes(gs, trace_codes(image, per_image, quant.act_bits, where),
                                                   quant.wgt_codes, quant.act_bits, quant.wgt_bits, mine));
            continue;
          }
          SimWeights copy = wq;
          run.simulate(make_sim_layer(gs, image, std::move(copy), mine));
        } catch (const std::exception& ex) {
#pragma omp critical(eff_sim_trace_error)
          if (error.empty()) error = ex.what();
        }
      }
      if (!error.empty()) fail<TraceError>("{}: {}", where, error);
    }
    images_done = static_cast<int>(count);
    if (o.on_layer_done) o.on_layer_done();
  }
  return images_done;
}

}  // namespace eff::sim
