#include "deft/deft_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "data/dataset.h"
#include "deft/conv_small.h"
#include "deft/deft_layer.h"
#include "engine/executor.h"
#include "graph/pass_support.h"

namespace eff::deft {

namespace {

constexpr int64_t kMaxSamples = 4096;  // calibration rows per layer (pixels x images, strided)

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

// The layer's weights as M x K row-major and its bias (zeros when absent).
void layer_matrix(const Graph& g, const Node& n, std::vector<float>& w, std::vector<float>& bias, int64_t& m,
                  int64_t& k) {
  const Tensor& t = g.constant(n.input(1));
  const float* src = t.data<float>();
  if (n.op == "Conv") {
    m = t.shape()[0];
    k = t.numel() / m;
    w.assign(src, src + m * k);
  } else {
    const bool trans_b = n.attr_int("transB", 0) != 0;
    m = trans_b ? t.shape()[0] : t.shape()[1];
    k = trans_b ? t.shape()[1] : t.shape()[0];
    w.resize(static_cast<size_t>(m * k));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < k; ++j) w[i * k + j] = trans_b ? src[i * k + j] : src[j * m + i];
  }
  bias.assign(static_cast<size_t>(m), 0.f);
  if (n.input(2) != kNoValue) {
    const Tensor& b = g.constant(n.input(2));
    for (int64_t i = 0; i < m; ++i) bias[i] = b.numel() == 1 ? b.data<float>()[0] : b.data<float>()[i];
  }
}

ConvShape conv_shape(const Node& n, const Graph& g, const Shape& x) {
  const Tensor& w = g.constant(n.input(1));
  ConvShape s;
  const auto st = n.attr_ints("strides", {1, 1}), pads = n.attr_ints("pads", {0, 0, 0, 0}),
             dil = n.attr_ints("dilations", {1, 1});
  s.c = x[1], s.h = x[2], s.w = x[3];
  s.kh = w.shape()[2], s.kw = w.shape()[3];
  s.sh = st[0], s.sw = st[1], s.pad_top = pads[0], s.pad_left = pads[1], s.dh = dil[0], s.dw = dil[1];
  s.oh = (s.h + pads[0] + pads[2] - (s.kh - 1) * s.dh - 1) / s.sh + 1;
  s.ow = (s.w + pads[1] + pads[3] - (s.kw - 1) * s.dw - 1) / s.sw + 1;
  return s;
}

// Collects each planned layer's synapse-vector samples (im2row rows / FC input rows) as the fp32
// graph runs the calibration images.
class SampleCollector final : public LayerObserver {
 public:
  SampleCollector(const Graph& g, std::map<std::string, std::vector<float>>& samples, int64_t images)
      : g_(g), samples_(samples), images_(images) {}
  void on_layer(const LayerInfo& layer, const Tensor& x, const Tensor&, const Tensor&) override {
    auto it = samples_.find(layer.name);
    if (it == samples_.end()) return;
    const Node& n = g_.nodes[layer.node];
    std::vector<float>& out = it->second;
    if (n.op == "Gemm") {
      const int64_t k = x.shape()[1];
      for (int64_t r = 0; r < x.shape()[0]; ++r)
        out.insert(out.end(), x.data<float>() + r * k, x.data<float>() + (r + 1) * k);
      return;
    }
    const ConvShape s = conv_shape(n, g_, x.shape());
    std::vector<int32_t> all(static_cast<size_t>(s.depth()));
    for (int64_t q = 0; q < s.depth(); ++q) all[q] = static_cast<int32_t>(q);
    const int64_t stride = std::max<int64_t>(1, s.pixels() * images_ / kMaxSamples);
    for (int64_t img = 0; img < x.shape()[0]; ++img) {
      const float* xi = x.data<float>() + img * s.c * s.h * s.w;
      for (int64_t p = (img * 7) % stride; p < s.pixels(); p += stride) {
        const size_t at = out.size();
        out.resize(at + static_cast<size_t>(s.depth()));
        im2row(xi, s, all, p, 1, out.data() + at, s.depth());
      }
    }
  }

 private:
  const Graph& g_;
  std::map<std::string, std::vector<float>>& samples_;
  int64_t images_;
};

// The min and max of each named layer's input as the fp32 graph runs.
class RangeCollector final : public LayerObserver {
 public:
  explicit RangeCollector(InputRanges& ranges) : ranges_(ranges) {}
  void on_layer(const LayerInfo& layer, const Tensor& x, const Tensor&, const Tensor&) override {
    auto it = ranges_.find(layer.name);
    if (it == ranges_.end() || x.dtype() != DType::kFloat32) return;
    auto& [lo, hi] = it->second;
    const float* v = x.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i)
      if (std::isfinite(v[i])) lo = std::min(lo, v[i]), hi = std::max(hi, v[i]);
  }

 private:
  InputRanges& ranges_;
};

}  // namespace

DeftChoice parse_deft_choice(const std::string& spec, const std::string& flag) {
  DeftChoice c;
  const auto parts = split(spec, ',');
  if (!parse_format(parts[0], c.format))
    fail<UsageError>("{}: unknown format '{}' (fp32, deft16, deft16q, fp8, bf16dot, int8)", flag, parts[0]);
  for (size_t i = 1; i < parts.size(); ++i) {
    const auto kv = split(parts[i], '=');
    if (kv.size() != 2) fail<UsageError>("{}: '{}' is not key=value", flag, parts[i]);
    if (kv[0] == "alpha") {
      char* end = nullptr;
      c.alpha = std::strtod(kv[1].c_str(), &end);
      if (kv[1].empty() || *end || !(c.alpha >= -1.0 && c.alpha <= 2.0))
        fail<UsageError>("{}: alpha must be a number in [-1, 2], got '{}'", flag, kv[1]);
    } else if (kv[0] == "compensation") {
      if (!parse_compensation(kv[1], c.compensation))
        fail<UsageError>("{}: compensation must be none, scale or fold, got '{}'", flag, kv[1]);
    } else if (kv[0] == "layers") {
      if (kv[1] != "all" && kv[1] != "fc" && kv[1] != "conv")
        fail<UsageError>("{}: layers must be all, fc or conv, got '{}'", flag, kv[1]);
      c.layers = kv[1];
    } else if (kv[0] == "batch_split") {
      if (kv[1] != "0" && kv[1] != "1") fail<UsageError>("{}: batch_split must be 0 or 1, got '{}'", flag, kv[1]);
      c.batch_split = kv[1] == "1";
    } else {
      fail<UsageError>("{}: unknown key '{}' (alpha, compensation, layers, batch_split)", flag, kv[0]);
    }
  }
  if (c.format == Format::kInt8 && c.sve())
    fail<UsageError>("{}: int8 runs without synapse vector elimination (no alpha)", flag);
  return c;
}

bool deft_eligible(const Graph& g, const Node& n, std::string* why) {
  auto no = [&](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
  if (n.op != "Conv" && n.op != "Gemm") return no("not a Conv or Gemm");
  if (n.inputs.size() < 2 || !g.is_constant(n.input(1)) || g.is_constant(n.input(0))) return no("weights not constant");
  if (n.input(2) != kNoValue && !g.is_constant(n.input(2))) return no("bias not constant");
  if (g.constant(n.input(1)).dtype() != DType::kFloat32) return no("weights not float32");
  const std::string act = n.attr_string("activation", "");
  if (!act.empty() && act != "Relu") return no("fused " + act);
  // (blocked_* attributes are the layout pass's, which runs after the rewrite.)
  for (const auto& [key, attr] : n.attrs)
    if (key.rfind("eff.quant.", 0) == 0) return no("quantized");
  if (n.op == "Conv") {
    const Tensor& w = g.constant(n.input(1));
    if (w.shape().size() != 4) return no("not a 2-D conv");
    if (n.attr_int("group", 1) != 1) return no("grouped conv");
    const std::string pad = n.attr_string("auto_pad", "NOTSET");
    if (pad != "NOTSET" && pad != "VALID") return no("auto_pad " + pad);
    if (n.input(2) != kNoValue && g.constant(n.input(2)).numel() != w.shape()[0]) return no("bias shape");
    return true;
  }
  if (n.attr_int("transA", 0) != 0 || n.attr_float("alpha", 1.f) != 1.f || n.attr_float("beta", 1.f) != 1.f)
    return no("transA, alpha or beta");
  const Tensor& w = g.constant(n.input(1));
  if (w.shape().size() != 2) return no("weights not 2-D");
  const int64_t m = n.attr_int("transB", 0) ? w.shape()[0] : w.shape()[1];
  if (n.input(2) != kNoValue) {
    const int64_t nb = g.constant(n.input(2)).numel();
    if (nb != m && nb != 1) return no("bias shape");
  }
  return true;
}

CalibrationSamples collect_calibration_samples(const Graph& g, const std::vector<std::string>& layers,
                                               const Dataset& calibration, int64_t images, int threads) {
  CalibrationSamples samples;
  for (const std::string& name : layers) samples[name];
  images = std::min(images, calibration.size());
  if (images < 2) fail<UsageError>("synapse vector elimination needs at least 2 calibration images");
  ExecutorOptions eo;
  eo.threads = threads;
  SampleCollector collector(g, samples, images);
  eo.observer = &collector;
  Executor ex(g, eo);
  for (int64_t at = 0; at < images; at += 32) ex.run(calibration.inputs(at, std::min<int64_t>(32, images - at)));
  return samples;
}

InputRanges collect_input_ranges(const Graph& g, const std::vector<std::string>& layers, const Dataset& calibration,
                                 int64_t images, int threads) {
  InputRanges ranges;
  for (const std::string& name : layers) ranges[name] = {0.f, 0.f};
  images = std::min(images, calibration.size());
  if (images < 1) fail<UsageError>("int8 needs at least 1 calibration image");
  ExecutorOptions eo;
  eo.threads = threads;
  RangeCollector collector(ranges);
  eo.observer = &collector;
  Executor ex(g, eo);
  for (int64_t at = 0; at < images; at += 32) ex.run(calibration.inputs(at, std::min<int64_t>(32, images - at)));
  return ranges;
}

SvePlan plan_sve(const Graph& g, const std::string& layer, double alpha, const CalibrationSamples* samples,
                 int threads) {
  const Node* n = g.find_node(layer);
  if (!n) fail<ModelError>("{}: no layer '{}'", g.source, layer);
  const Tensor& t = g.constant(n->input(1));
  const int64_t k =
      n->op == "Conv" ? t.numel() / t.shape()[0] : (n->attr_int("transB", 0) != 0 ? t.shape()[1] : t.shape()[0]);
  if (alpha > 1.0) return sve_identity(k);
  if (!samples || !samples->count(layer)) fail<UsageError>("synapse vector elimination needs calibration data");
  const std::vector<float>& s = samples->at(layer);
  return sve_select(s.data(), static_cast<int64_t>(s.size()) / k, k, k, alpha, threads);
}

DeftLayerPlan plan_layer(const Graph& g, const std::string& layer, Format format, const SvePlan& sve,
                         Compensation compensation, const Int8Input* int8) {
  const Node* n = g.find_node(layer);
  if (!n) fail<ModelError>("{}: no layer '{}'", g.source, layer);
  if (format == Format::kInt8 && !int8) fail<UsageError>("{}: int8 needs calibration data (its input range)", layer);
  if (format == Format::kInt8 && sve.kept() != sve.depth)
    fail<UsageError>("{}: int8 runs without synapse vector elimination", layer);
  DeftLayerPlan p;
  p.name = layer;
  p.conv = n->op == "Conv";
  p.format = format;
  p.compensation = sve.kept() == sve.depth ? Compensation::kNone : compensation;
  std::vector<float> w, bias;
  int64_t m = 0, k = 0;
  layer_matrix(g, *n, w, bias, m, k);
  p.depth = k;
  p.sve = sve;
  p.weights = sve_weights(p.sve, w.data(), m, k, bias.data(), p.compensation);
  if (p.format == Format::kFp8) p.fp8 = choose_fp8_spec(p.weights.weights);
  if (p.format == Format::kInt8) p.int8 = *int8;
  return p;
}

DeftModelPlan plan_deft(const Graph& g, const DeftChoice& choice, const Dataset* calibration, int64_t images,
                        int threads) {
  DeftModelPlan plan;
  plan.batch_split = choice.batch_split;
  std::vector<std::string> names;
  for (const LayerInfo& l : find_layers(g)) {
    const Node& n = g.nodes[l.node];
    if (choice.layers != "all" && (n.op == "Conv" ? "conv" : "fc") != choice.layers) continue;
    std::string why;
    if (!deft_eligible(g, n, &why)) {
      plan.skipped.push_back(l.name + ": " + why);
      continue;
    }
    names.push_back(n.name);
  }
  CalibrationSamples samples;
  if (choice.sve()) {
    if (!calibration) fail<UsageError>("synapse vector elimination needs calibration data");
    samples = collect_calibration_samples(g, names, *calibration, images, threads);
    plan.calibration_images = std::min(images, calibration->size());
  }
  InputRanges ranges;
  if (choice.format == Format::kInt8) {
    if (!calibration) fail<UsageError>("int8 needs calibration data (each layer's input range)");
    ranges = collect_input_ranges(g, names, *calibration, images, threads);
    plan.calibration_images = std::min(images, calibration->size());
  }
  for (const std::string& name : names) {
    const SvePlan sve = plan_sve(g, name, choice.alpha, choice.sve() ? &samples : nullptr, threads);
    Int8Input q;
    if (choice.format == Format::kInt8) q = choose_int8_input(ranges.at(name).first, ranges.at(name).second);
    plan.layers.push_back(plan_layer(g, name, choice.format, sve, choice.compensation, &q));
  }
  return plan;
}

namespace {

// A DeftLayer conv on a small-channel direct conv (deft/conv_small.h), or any int8 conv, whose only reader is a
// 2 x 2, stride 2 MaxPool (no padding, floor, no indices) takes the pool into its epilogue: the
// conv's full-size output is never written nor read back (lenet5: both pools, 2 nodes of 8).
void fuse_pools(Graph& g) {
  using namespace pass_support;
  std::vector<char> dead(g.nodes.size(), 0);
  const Uses uses(g);
  for (Node& n : g.nodes) {
    if (n.op != kDeftLayerOp || n.attr_string("kind", "") != "conv" || n.outputs.size() != 1) continue;
    const auto k = n.attr_ints("kernel_shape"), st = n.attr_ints("strides", {1, 1});
    ConvShape s;
    s.c = k.size() == 2 ? n.attr_int("depth", 0) / (k[0] * k[1]) : 0;
    s.sh = st.size() == 2 ? st[0] : 0, s.sw = st.size() == 2 ? st[1] : 0;
    // int8: every conv pools in its epilogue (not with a residual: fuse_residuals skips pooled convs).
    const bool fits = n.attr_string("format", "") == "int8" ? n.inputs.size() == 3 : small_conv_fits(s);
    if (!fits || !uses.internal(n.outputs[0])) continue;
    const int pool_index = uses.consumers[n.outputs[0]][0];
    Node& pool = g.nodes[static_cast<size_t>(pool_index)];
    const bool indices = pool.outputs.size() > 1 && pool.outputs[1] != kNoValue && uses.used(pool.outputs[1]);
    const auto pads = pool.attr_ints("pads", {0, 0, 0, 0}), dil = pool.attr_ints("dilations", {1, 1});
    if (!is_op(pool, "MaxPool") || indices || pool.attr_ints("kernel_shape") != std::vector<int64_t>{2, 2} ||
        pool.attr_ints("strides", {1, 1}) != std::vector<int64_t>{2, 2} ||
        std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p != 0; }) || dil != std::vector<int64_t>{1, 1} ||
        pool.attr_int("ceil_mode", 0) != 0 || pool.attr_string("auto_pad", "NOTSET") != "NOTSET" ||
        pool.attr_int("storage_order", 0) != 0)
      continue;
    n.attrs["pool"].kind = Attribute::Kind::kInts;
    n.attrs["pool"].ints = {2, 2};
    n.outputs = {pool.outputs[0]};
    append_origin(n, pool);
    kill(pool, dead, static_cast<size_t>(pool_index));
  }
  erase_dead(g, dead);
}

// A Flatten (axis 1) between a DeftLayer and the FC DeftLayer that alone reads it goes: the FC
// reads the N x C x H x W tensor as N rows of C*H*W (a DeftLayer writes plain row-major NCHW, so
// the bytes are the Flatten's). One node fewer per run (lenet5: conv2 -> Flatten -> fc1).
void absorb_flattens(Graph& g) {
  using namespace pass_support;
  std::vector<char> dead(g.nodes.size(), 0);
  const Uses uses(g);
  for (Node& n : g.nodes) {
    if (n.op != kDeftLayerOp || n.attr_string("kind", "") != "fc" || n.inputs.empty()) continue;
    const int flat_index = uses.producer[n.inputs[0]];
    if (flat_index < 0 || !uses.internal(n.inputs[0])) continue;
    Node& flat = g.nodes[static_cast<size_t>(flat_index)];
    if (!is_op(flat, "Flatten") || flat.attr_int("axis", 1) != 1 || flat.inputs.size() != 1) continue;
    const int from = uses.producer[flat.inputs[0]];
    if (from < 0 || g.nodes[static_cast<size_t>(from)].op != kDeftLayerOp) continue;
    n.inputs[0] = flat.inputs[0];
    append_origin(n, flat);
    kill(flat, dead, static_cast<size_t>(flat_index));
  }
  erase_dead(g, dead);
}

// Both float32 4-D values of one shape, static but for a batch both name alike (the epilogue
// adds element by element, no broadcast; the kernel checks the run-time shapes again).
bool same_activation_shape(const Graph& g, ValueId a, ValueId b) {
  const Value& va = g.value(a);
  const Value& vb = g.value(b);
  if (!va.has_shape || !vb.has_shape || va.shape != vb.shape || va.shape.size() != 4) return false;
  if (!va.has_type || !vb.has_type || va.dtype != DType::kFloat32 || vb.dtype != DType::kFloat32) return false;
  if (va.shape[0] < 0 &&
      (va.dim_names.empty() || vb.dim_names.empty() || va.dim_names[0].empty() || va.dim_names[0] != vb.dim_names[0]))
    return false;
  return std::all_of(va.shape.begin() + 1, va.shape.end(), [](int64_t d) { return d > 0; });
}

// A residual block's Add (and the Relu read only from it) into the DeftLayer conv that produces
// one of its operands, as the engine fuses them into its oneDNN conv (graph/residual_pass.cpp's
// sum post-op, which runs after this rewrite and only sees Conv nodes): the conv's epilogue adds
// the other operand (`residual` input 3) after the bias, then the Relu. Without this, every
// DeftLayer conv that ends a block left an Add and a Relu node behind (resnet: 1.6-4.3 us each
// at batch 1) against an engine that pays neither. Operand 0 first, as the engine's pass.
void fuse_residuals(Graph& g) {
  pass_support::fold_residual_adds(
      g,
      [&g](const Node& conv, ValueId operand, ValueId shortcut) {
        return conv.op == kDeftLayerOp && conv.attr_string("kind", "") == "conv" && conv.inputs.size() == 3 &&
               !conv.has_attr("activation") && !conv.has_attr("pool") && conv.outputs.size() == 1 &&
               same_activation_shape(g, operand, shortcut);
      },
      [](Node& fused, ValueId shortcut) { fused.inputs.push_back(shortcut); });
}

// Two DeftLayer convs that read the same input and otherwise only their constants (resnet: a
// stage's first 3x3 conv and its 1x1 stride-2 shortcut, 17 + 9 and 14 + 7 us at batch 1) become one
// node with two outputs (deft_layer.cpp's DeftPairKernel), at the first one's place: on a team
// whose layers optimize capped at one thread, the two then run at once, one per core (measured:
// 34 -> 20 and 24 -> 14 us) instead of one after the other while the other core waits. Two int8
// convs pair when they quantize the input alike (calibration on one tensor gives that): they then
// share one quantization and one split over the team (deft/int8_direct_conv.h). The second
// layer keeps its attributes under "pair." and its name in "pair.name"; the node's name and origin
// stay the first's, so optimize times the pair as the first layer (the second's DeftNN option then
// costs nothing: moving both saves what the two engine layers took less the pair's time).
void pair_siblings(Graph& g) {
  using namespace pass_support;
  auto single = [](const Node& n) {
    return n.op == kDeftLayerOp && n.attr_string("kind", "") == "conv" && n.inputs.size() == 3 &&
           n.outputs.size() == 1 && !n.has_attr("pair.name");
  };
  auto int8 = [](const Node& n) { return n.attr_string("format", "") == "int8"; };
  // Two int8 layers share one quantization of their input (deft/int8_direct_conv.h), so they pair
  // when it is the same; an int8 layer and one of another format do not.
  auto partners = [&](const Node& a, const Node& b) {
    if (int8(a) != int8(b)) return false;
    return !int8(a) || (a.attr_float("int8_scale", 0.f) == b.attr_float("int8_scale", 0.f) &&
                        a.attr_int("int8_zero", -1) == b.attr_int("int8_zero", -1));
  };
  std::vector<char> dead(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (dead[i] || !single(g.nodes[i])) continue;
    for (size_t j = i + 1; j < g.nodes.size(); ++j) {
      Node& b = g.nodes[j];
      if (dead[j] || !single(b) || b.inputs[0] != g.nodes[i].inputs[0] || !partners(g.nodes[i], b)) continue;
      Node& a = g.nodes[i];
      a.inputs.push_back(b.inputs[1]);
      a.inputs.push_back(b.inputs[2]);
      a.outputs.push_back(b.outputs[0]);
      for (const auto& [key, attr] : b.attrs) a.attrs["pair." + key] = attr;
      a.attrs["pair.name"].kind = Attribute::Kind::kString;
      a.attrs["pair.name"].s = b.name;
      kill(b, dead, j);
      break;
    }
  }
  erase_dead(g, dead);
}

}  // namespace

void apply_deft(Graph& g, const DeftModelPlan& plan, bool fuse_residual_adds, bool pair_layers) {
  for (const DeftLayerPlan& p : plan.layers) {
    auto it = std::find_if(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.name == p.name; });
    if (it == g.nodes.end())
      fail<ModelError>("{}: DeftNN plan names node '{}', which the graph lacks", g.source, p.name);
    Node& n = *it;
    std::string why;
    if (!deft_eligible(g, n, &why)) fail<ModelError>("{}: cannot run as a DeftNN layer: {}", g.where(n), why);
    // A copy: adding the DeftLayer's constants below may move the graph's values (and so `n`'s
    // weights tensor); a small graph's value list reallocated under the reference.
    const Tensor wt = g.constant(n.input(1));
    const int64_t rows = n.op == "Conv" ? wt.shape()[0] : (n.attr_int("transB", 0) ? wt.shape()[0] : wt.shape()[1]);
    if (p.conv != (n.op == "Conv"))
      fail<ModelError>("{}: the DeftNN plan says {}, the node is a {}", g.where(n), p.conv ? "conv" : "fc", n.op);
    if (rows != p.weights.rows || wt.numel() / rows != p.depth || p.sve.kept() != p.weights.depth ||
        static_cast<int64_t>(p.weights.weights.size()) != p.weights.rows * p.weights.depth)
      fail<ModelError>("{}: the DeftNN plan is for a {} x {} layer, the graph's is {} x {}", g.where(n), p.weights.rows,
                       p.depth, rows, wt.numel() / rows);
    Node d;
    d.op = kDeftLayerOp;
    d.name = n.name;
    d.origin = n.origin;
    d.outputs = n.outputs;
    auto constant = [&](const std::string& suffix, Tensor t) {
      const ValueId id = g.add_value(n.name + suffix);
      g.value(id).constant = std::move(t);
      g.value(id).has_type = true;
      return id;
    };
    const ValueId w =
        constant("/deft_weights", Tensor::from<float>({p.weights.rows, p.weights.depth}, p.weights.weights));
    const ValueId b = constant("/deft_bias", Tensor::from<float>({p.weights.rows}, p.weights.bias));
    d.inputs = {n.input(0), w, b};
    auto set_int = [&](const std::string& key, int64_t v) { d.attrs[key].i = v; };
    auto set_ints = [&](const std::string& key, std::vector<int64_t> v) {
      d.attrs[key].kind = Attribute::Kind::kInts;
      d.attrs[key].ints = std::move(v);
    };
    auto set_string = [&](const std::string& key, std::string v) {
      d.attrs[key].kind = Attribute::Kind::kString;
      d.attrs[key].s = std::move(v);
    };
    set_string("kind", p.conv ? "conv" : "fc");
    set_string("format", format_name(p.format));
    if (n.attr_string("activation", "") == "Relu") set_string("activation", "Relu");
    set_int("depth", p.depth);
    set_int("fp8_exp_bits", p.fp8.exp_bits);
    set_int("fp8_bias", p.fp8.bias);
    if (p.format == Format::kInt8) {
      d.attrs["int8_scale"].kind = Attribute::Kind::kFloat;
      d.attrs["int8_scale"].f = p.int8.scale;
      set_int("int8_zero", p.int8.zero);
    }
    if (p.threads > 0) set_int("threads", p.threads);
    if (plan.batch_split) set_int(kBatchSplitAttr, 1);
    if (p.sve.kept() != p.depth) set_ints("synapses", std::vector<int64_t>(p.sve.order.begin(), p.sve.order.end()));
    if (p.conv) {
      set_ints("kernel_shape", {wt.shape()[2], wt.shape()[3]});
      set_ints("strides", n.attr_ints("strides", {1, 1}));
      set_ints("pads", n.attr_ints("pads", {0, 0, 0, 0}));
      set_ints("dilations", n.attr_ints("dilations", {1, 1}));
    }
    n = std::move(d);
  }
  fuse_pools(g);
  absorb_flattens(g);
  if (fuse_residual_adds) fuse_residuals(g);
  if (pair_layers && plan.pair_layers) pair_siblings(g);
}

std::string describe_plan(const DeftModelPlan& plan) {
  std::string s;
  for (const DeftLayerPlan& p : plan.layers) {
    const double bytes_per_weight = p.format == Format::kFp32                                 ? 4
                                    : (p.format == Format::kFp8 || p.format == Format::kInt8) ? 1
                                                                                              : 2;
    s += fmt::format("{:<32} {:<4} {:<8} K {:>6} -> {:>6} ({:5.1f}% kept) {:>9.0f} weight bytes\n", p.name,
                     p.conv ? "conv" : "fc", format_name(p.format), p.depth, p.sve.kept(),
                     100.0 * double(p.sve.kept()) / double(p.depth),
                     bytes_per_weight * double(p.weights.rows * p.weights.depth));
    if (p.format == Format::kInt8) {
      s.pop_back();
      s += fmt::format(", input scale {:g} zero point {}\n", p.int8.scale, p.int8.zero);
    }
  }
  for (const std::string& why : plan.skipped) s += "skipped " + why + "\n";
  return s;
}

}  // namespace eff::deft
