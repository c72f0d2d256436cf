#include "quant/quantize_model.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"
#include "engine/executor.h"
#include "graph/passes.h"
#include "onnx/loader.h"

namespace eff::quant {

void validate(const QuantOptions& o) {
  if (o.weight_bits < 2 || o.weight_bits > 8) {
    fail<UsageError>("--bits {}: give 2 to 8 (codes are stored as ONNX int8/uint8)", o.weight_bits);
  }
  if (o.act_bits != 0 && (o.act_bits < 2 || o.act_bits > 8)) {
    fail<UsageError>("--act-bits {}: give 2 to 8 (codes are stored as ONNX int8/uint8)", o.act_bits);
  }
  if (!(o.ocs_ratio >= 0 && o.ocs_ratio <= 1))
    fail<UsageError>("--ocs-ratio {}: give a fraction in [0, 1]", o.ocs_ratio);
}

namespace {

bool is_quantized_op(const std::string& op) {
  static const std::set<std::string> ops = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
                                            "QLinearConv",    "QLinearMatMul",    "ConvInteger",
                                            "MatMulInteger"};
  return ops.count(op) != 0;
}

}  // namespace

Graph load_float_graph(const std::string& path) {
  LoadOptions lo;
  lo.run_passes = false;
  Graph g = load_onnx(path, lo);
  for (const Node& n : g.nodes) {
    if (!(n.domain.empty() || n.domain == "ai.onnx")) {
      fail<UnsupportedError>("{}: quantize writes default-domain ONNX only; domain '{}' is not", g.where(n), n.domain);
    }
    if (is_quantized_op(n.op)) fail<ModelError>("{}: the model is already quantized; give a float model", g.where(n));
  }
  for (const Value& v : g.values) {
    if (v.has_type && v.dtype == DType::kFloat16) {
      fail<UnsupportedError>("{}: value '{}' is float16; quantize takes float32 models", path, v.name);
    }
  }
  if (g.opset < 10) fail<UnsupportedError>("{}: opset {}: QuantizeLinear needs opset 10 or newer", path, g.opset);
  remove_identity_and_dropout(g);
  fold_constants(g);
  fold_batchnorm(g);
  g.compact();
  return g;
}

std::vector<LayerSite> layer_sites(const Graph& g) {
  std::vector<LayerSite> sites;
  for (const LayerInfo& l : find_layers(g)) {
    const Node& n = g.nodes[l.node];
    const Tensor& w = g.constant(l.weights);
    LayerSite s;
    s.name = n.name;
    s.op = n.op;
    s.node = l.node;
    if (w.dtype() != DType::kFloat32)
      fail<UnsupportedError>("{}: weights are {}, not float32", g.where(n), dtype_name(w.dtype()));
    if (n.op == "Conv") {
      if (w.rank() < 3) fail<ModelError>("{}: weights of rank {}", g.where(n), w.rank());
      s.in_axis = 1, s.out_axis = 0, s.act_axis = 1;
      s.groups = n.attr_int("group", 1);
    } else if (n.op == "ConvTranspose") {
      // Weights [C_in, C_out / group, k...]: input channels on axis 0, output channels on axis 1
      // (per-channel scales along axis 1: with groups, output channel j of every group shares one).
      if (w.rank() < 3) fail<ModelError>("{}: weights of rank {}", g.where(n), w.rank());
      s.in_axis = 0, s.out_axis = 1, s.act_axis = 1;
      s.groups = n.attr_int("group", 1);
    } else if (n.op == "Gemm") {
      if (n.attr_int("transA", 0) != 0)
        fail<UnsupportedError>("{}: quantize takes Gemm with transA=0 only", g.where(n));
      if (w.rank() != 2) fail<ModelError>("{}: weights of rank {}", g.where(n), w.rank());
      const bool tb = n.attr_int("transB", 0) != 0;
      s.in_axis = tb ? 1 : 0, s.out_axis = tb ? 0 : 1, s.act_axis = 1;
    } else if (n.op == "MatMul") {
      if (w.rank() != 2) {
        fail<UnsupportedError>("{}: quantize takes MatMul with 2-D weights; these are {}-D", g.where(n), w.rank());
      }
      s.in_axis = 0, s.out_axis = 1, s.act_axis = -1;
    } else {
      fail<UnsupportedError>("{}: quantize handles Conv, ConvTranspose, Gemm and MatMul layers, not {}", g.where(n),
                             n.op);
    }
    sites.push_back(s);
  }
  return sites;
}

namespace {

struct AxisView {
  int64_t outer = 1, channels = 1, inner = 1;
};

AxisView axis_view(const Shape& s, int axis) {
  if (axis < 0) axis += static_cast<int>(s.size());
  AxisView v;
  if (axis < 0 || axis >= static_cast<int>(s.size())) return v;
  for (int i = 0; i < axis; ++i) v.outer *= s[i];
  v.channels = s[axis];
  for (size_t i = static_cast<size_t>(axis) + 1; i < s.size(); ++i) v.inner *= s[i];
  return v;
}

class ChannelObserver : public LayerObserver {
 public:
  ChannelObserver(const std::vector<LayerSite>& sites, Calibration& cal) : cal_(cal) {
    for (const LayerSite& s : sites) axis_[s.name] = s.act_axis;
  }
  void on_layer(const LayerInfo& layer, const Tensor& acts, const Tensor&, const Tensor&) override {
    auto it = axis_.find(layer.name);
    if (it == axis_.end() || acts.dtype() != DType::kFloat32) return;
    const AxisView v = axis_view(acts.shape(), it->second);
    ActCalibration& c = cal_[layer.name];
    if (c.channel_max.empty()) {
      c.channel_max.assign(static_cast<size_t>(v.channels), 0.0f);
      c.channel_sum_abs.assign(static_cast<size_t>(v.channels), 0.0);
      c.channel_sum_sq.assign(static_cast<size_t>(v.channels), 0.0);
      c.channel_count.assign(static_cast<size_t>(v.channels), 0);
    }
    if (static_cast<int64_t>(c.channel_max.size()) != v.channels) return;
    const float* x = acts.data<float>();
    for (int64_t o = 0; o < v.outer; ++o) {
      for (int64_t ch = 0; ch < v.channels; ++ch) {
        const float* p = x + (o * v.channels + ch) * v.inner;
        float m = c.channel_max[ch], lo = c.min_value;
        double s1 = 0, s2 = 0;
        for (int64_t i = 0; i < v.inner; ++i) {
          const float a = std::fabs(p[i]);
          m = std::max(m, a);
          lo = std::min(lo, p[i]);
          s1 += a;
          s2 += static_cast<double>(a) * a;
        }
        c.channel_max[ch] = m;
        c.min_value = lo;
        c.channel_sum_abs[ch] += s1;
        c.channel_sum_sq[ch] += s2;
        c.channel_count[ch] += v.inner;
      }
    }
  }

 private:
  Calibration& cal_;
  std::map<std::string, int> axis_;
};

class HistogramObserver : public LayerObserver {
 public:
  HistogramObserver(const std::vector<LayerSite>& sites, const std::map<std::string, ChannelSplit>& splits,
                    Calibration& cal)
      : cal_(cal) {
    for (const LayerSite& s : sites) {
      auto& f = factors_[s.name];
      f.axis = s.act_axis;
      const ChannelSplit& sp = splits.at(s.name);
      f.of_channel.resize(static_cast<size_t>(sp.channels));
      for (size_t j = 0; j < sp.source.size(); ++j) f.of_channel[sp.source[j]].push_back(sp.act_factor[j]);
    }
  }
  void on_layer(const LayerInfo& layer, const Tensor& acts, const Tensor&, const Tensor&) override {
    auto it = factors_.find(layer.name);
    if (it == factors_.end() || acts.dtype() != DType::kFloat32) return;
    const AxisView v = axis_view(acts.shape(), it->second.axis);
    const auto& of = it->second.of_channel;
    if (static_cast<int64_t>(of.size()) != v.channels) return;
    MagnitudeStats& h = cal_.at(layer.name).expanded;
    const double inv = h.max_abs > 0 ? static_cast<double>(h.bins.size()) / h.max_abs : 0;
    const int64_t last = static_cast<int64_t>(h.bins.size()) - 1;
    const float* x = acts.data<float>();
    for (int64_t o = 0; o < v.outer; ++o) {
      for (int64_t ch = 0; ch < v.channels; ++ch) {
        const float* p = x + (o * v.channels + ch) * v.inner;
        for (float f : of[ch]) {
          const double k = inv * f;
          for (int64_t i = 0; i < v.inner; ++i) {
            if (p[i] != 0)
              h.bins[std::min(static_cast<int64_t>(std::fabs(p[i]) * k), last)] += 1;  // as MagnitudeStats::add
          }
        }
      }
    }
  }

 private:
  struct Factors {
    int axis = 1;
    std::vector<std::vector<float>> of_channel;
  };
  Calibration& cal_;
  std::map<std::string, Factors> factors_;
};

void run_all(const Graph& g, LayerObserver& obs, const std::vector<std::vector<Tensor>>& batches, int threads) {
  ExecutorOptions eo;
  eo.threads = threads;
  eo.observer = &obs;
  Executor ex(g, eo);
  for (const auto& b : batches) ex.run(b);
}

}  // namespace

Calibration calibrate_channels(const Graph& g, const std::vector<LayerSite>& sites,
                               const std::vector<std::vector<Tensor>>& batches, int threads) {
  Calibration cal;
  ChannelObserver obs(sites, cal);
  run_all(g, obs, batches, threads);
  for (const LayerSite& s : sites) {
    if (!cal.count(s.name)) fail<DataError>("calibration: layer '{}' never ran on the calibration inputs", s.name);
  }
  return cal;
}

void expanded_moments(const ChannelSplit& split, ActCalibration& c) {
  MagnitudeStats& e = c.expanded;
  e = MagnitudeStats{};
  for (size_t j = 0; j < split.source.size(); ++j) {
    const int64_t src = split.source[j];
    const double f = split.act_factor[j];
    e.max_abs = std::max(e.max_abs, c.channel_max[src] * f);
    e.sum_abs += c.channel_sum_abs[src] * f;
    e.sum_sq += c.channel_sum_sq[src] * f * f;
    e.count += c.channel_count[src];
  }
  c.has_histogram = false;
}

void calibrate_histograms(const Graph& g, const std::vector<LayerSite>& sites,
                          const std::map<std::string, ChannelSplit>& splits,
                          const std::vector<std::vector<Tensor>>& batches, int threads, Calibration& cal) {
  for (const LayerSite& s : sites) {
    ActCalibration& c = cal.at(s.name);
    expanded_moments(splits.at(s.name), c);
    c.expanded.bins.assign(kHistogramBins, 0.0);
  }
  HistogramObserver obs(sites, splits, cal);
  run_all(g, obs, batches, threads);
  for (const LayerSite& s : sites) cal.at(s.name).has_histogram = true;
}

std::map<std::string, ChannelSplit> plan_splits(const Graph& g, const std::vector<LayerSite>& sites,
                                                const QuantOptions& o, const Calibration* cal) {
  std::map<std::string, ChannelSplit> out;
  for (const LayerSite& s : sites) {
    const Tensor& w = g.constant(g.nodes[s.node].inputs[1]);
    // Input channels of the layer (all groups) and of one group: a grouped Conv's weights hold
    // C/g, a grouped ConvTranspose's all C.
    const int64_t groups = std::max<int64_t>(s.groups, 1);
    if (groups > 1 && w.dim(0) % groups != 0) {
      fail<ModelError>("{}: {} weight rows do not divide into {} groups", g.where(g.nodes[s.node]), w.dim(0), groups);
    }
    const int64_t channels = s.in_axis == 0 ? w.dim(0) : w.dim(s.in_axis) * groups;
    const int64_t per_group = channels / groups;
    const int64_t ws = split_count(o.ocs_ratio, per_group);
    const int64_t as = o.act_bits > 0 ? split_count(o.ocs_ratio, per_group) : 0;
    std::vector<float> act_max;
    if (as > 0) {
      if (!cal) fail("internal error: activation splitting needs calibration");
      act_max = cal->at(s.name).channel_max;
      if (static_cast<int64_t>(act_max.size()) != channels) {
        fail<ShapeError>("layer '{}': {} input channels in the activations, {} in the weights", s.name, act_max.size(),
                         channels);
      }
    }
    out.emplace(s.name, plan_grouped_split(w, s.in_axis, groups, ws, act_max, as));
  }
  return out;
}

namespace {

// New values and nodes with names unused in the graph.
class GraphEditor {
 public:
  explicit GraphEditor(Graph& g) : g_(g) {
    for (const Value& v : g.values) names_.insert(v.name);
    for (const Node& n : g.nodes) names_.insert(n.name);
  }
  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int k = 1; names_.count(name); ++k) name = base + "_" + std::to_string(k);
    names_.insert(name);
    return name;
  }
  ValueId constant(const std::string& base, Tensor t) {
    const ValueId v = g_.add_value(fresh(base));
    g_.value(v).hold_constant(std::move(t));
    return v;
  }
  ValueId value(const std::string& base) { return g_.add_value(fresh(base)); }
  // A node before node `before`; returns its (single) output.
  ValueId node(int before, const std::string& op, const std::string& base, std::vector<ValueId> inputs,
               std::map<std::string, Attribute> attrs = {}) {
    Node n;
    n.op = op;
    n.name = fresh(base);
    n.inputs = std::move(inputs);
    n.attrs = std::move(attrs);
    n.origin = {n.name};
    const ValueId out = value(base + "_out");
    n.outputs = {out};
    inserted_[before].push_back(std::move(n));
    return out;
  }
  void commit() {
    std::vector<Node> nodes;
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      auto it = inserted_.find(static_cast<int>(i));
      if (it != inserted_.end()) {
        for (Node& n : it->second) nodes.push_back(std::move(n));
      }
      nodes.push_back(std::move(g_.nodes[i]));
    }
    g_.nodes = std::move(nodes);
    inserted_.clear();
  }

 private:
  Graph& g_;
  std::set<std::string> names_;
  std::map<int, std::vector<Node>> inserted_;
};

Attribute int_attr(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}

// x -> Gather(source) [-> Mul(act_factor)] along the layer's input-channel axis.
ValueId expand_input(GraphEditor& ed, const Graph& g, const LayerSite& s, ValueId x, const ChannelSplit& split) {
  const int64_t n = static_cast<int64_t>(split.source.size());
  const ValueId idx = ed.constant(s.name + "_ocs_channels", Tensor::from<int64_t>({n}, split.source));
  const ValueId gathered =
      ed.node(s.node, "Gather", s.name + "_ocs_gather", {x, idx}, {{"axis", int_attr(s.act_axis)}});
  if (!split.act_scaled()) return gathered;
  // Broadcast shape: [C', 1, ...] for NC... inputs, [C'] when channels are last.
  Shape shape = {n};
  if (s.act_axis >= 0) {
    const Value& xv = g.value(x);
    const int rank =
        xv.has_shape ? static_cast<int>(xv.shape.size()) : (s.op == "Conv" || s.op == "ConvTranspose" ? 4 : 2);
    for (int i = s.act_axis + 1; i < rank; ++i) shape.push_back(1);
  }
  const ValueId f = ed.constant(s.name + "_ocs_act_factor", Tensor::from<float>(shape, split.act_factor));
  return ed.node(s.node, "Mul", s.name + "_ocs_scale", {gathered, f});
}

struct Grid {
  float scale = 1;
  int32_t zero = 0;
  int32_t qmin = 0, qmax = 0;
  bool is_unsigned = false;
  double alpha = 0;
};

// The grid for data with magnitudes clipped at alpha (levels per side from signedness).
Grid grid_for(double alpha, double lo_data, double hi_data, int bits, bool asymmetric) {
  Grid gr;
  gr.alpha = alpha;
  const bool negative = lo_data < 0;
  if (!asymmetric) {
    if (negative) {
      gr.qmax = (1 << (bits - 1)) - 1, gr.qmin = -gr.qmax;
    } else {
      gr.is_unsigned = true, gr.qmin = 0, gr.qmax = (1 << bits) - 1;
    }
    gr.scale = alpha > 0 ? static_cast<float>(alpha / gr.qmax) : 1.0f;
    return gr;
  }
  gr.is_unsigned = true;
  gr.qmin = 0, gr.qmax = (1 << bits) - 1;
  const double lo = std::min(0.0, std::max(lo_data, -alpha)), hi = std::max(0.0, std::min(hi_data, alpha));
  gr.scale = hi > lo ? static_cast<float>((hi - lo) / gr.qmax) : 1.0f;
  gr.zero = static_cast<int32_t>(std::clamp(std::nearbyint(-lo / gr.scale), 0.0, static_cast<double>(gr.qmax)));
  return gr;
}

// Levels per side the clipping methods see for this data.
int clip_levels(double lo_data, int bits, bool asymmetric) {
  (void)asymmetric;
  return lo_data < 0 ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
}

int32_t code_of(float x, const Grid& gr) {
  const float q = std::nearbyint(x / gr.scale) + static_cast<float>(gr.zero);
  return static_cast<int32_t>(std::clamp(q, static_cast<float>(gr.qmin), static_cast<float>(gr.qmax)));
}

struct WeightQuant {
  Tensor codes, scales, zeros;
  double alpha_max = 0, sse = 0;
  std::vector<float> dequantized;
};

// The largest sum of |w| over one output's weights.
double max_output_l1(const std::vector<float>& w, const Shape& shape, int out_axis) {
  const AxisView v = axis_view(shape, out_axis);
  std::vector<double> sums(static_cast<size_t>(v.channels), 0.0);
  for (int64_t a = 0; a < v.outer; ++a) {
    for (int64_t c = 0; c < v.channels; ++c) {
      for (int64_t i = 0; i < v.inner; ++i) sums[c] += std::fabs(w[(a * v.channels + c) * v.inner + i]);
    }
  }
  return sums.empty() ? 0 : *std::max_element(sums.begin(), sums.end());
}

WeightQuant quantize_weights(const Tensor& w, int out_axis, const QuantOptions& o) {
  const AxisView v = o.per_channel ? axis_view(w.shape(), out_axis) : AxisView{1, 1, w.numel()};
  const int64_t slices = v.channels;
  std::vector<Grid> grids(static_cast<size_t>(slices));
  const float* x = w.data<float>();
  // Per slice (one per output channel, or the whole tensor): gather, clip, choose the grid.
#pragma omp parallel for schedule(dynamic)
  for (int64_t c = 0; c < slices; ++c) {
    std::vector<float> buf(static_cast<size_t>(v.outer * v.inner));
    for (int64_t a = 0; a < v.outer; ++a) {
      std::copy_n(x + (a * v.channels + c) * v.inner, v.inner, buf.data() + a * v.inner);
    }
    const auto [lo, hi] = std::minmax_element(buf.begin(), buf.end());
    const double lo_v = buf.empty() ? 0 : *lo, hi_v = buf.empty() ? 0 : *hi;
    const int levels = clip_levels(lo_v, o.weight_bits, o.asymmetric);
    const double alpha = clip_threshold(o.weight_clip, buf.data(), static_cast<int64_t>(buf.size()), levels);
    grids[c] = grid_for(alpha, lo_v, hi_v, o.weight_bits, o.asymmetric);
  }
  // Symmetric grids of signed and non-negative slices differ: one code type per tensor. Signed
  // int8 unless every slice is non-negative (or asymmetric): then uint8.
  bool all_unsigned = true;
  for (const Grid& gr : grids) all_unsigned = all_unsigned && gr.is_unsigned;
  if (!all_unsigned) {
    for (Grid& gr : grids) {
      if (gr.is_unsigned) {  // a non-negative slice on the signed grid
        gr.is_unsigned = false;
        gr.qmax = (1 << (o.weight_bits - 1)) - 1, gr.qmin = -gr.qmax;
        gr.scale = gr.alpha > 0 ? static_cast<float>(gr.alpha / gr.qmax) : 1.0f;
      }
    }
  }
  WeightQuant q;
  const DType ct = all_unsigned ? DType::kUInt8 : DType::kInt8;
  q.codes = Tensor(ct, w.shape());
  q.scales = Tensor(DType::kFloat32, o.per_channel ? Shape{slices} : Shape{});
  q.zeros = Tensor(ct, o.per_channel ? Shape{slices} : Shape{});
  for (int64_t c = 0; c < slices; ++c) {
    q.scales.data<float>()[c] = grids[c].scale;
    if (ct == DType::kUInt8) {
      q.zeros.data<uint8_t>()[c] = static_cast<uint8_t>(grids[c].zero);
    } else {
      q.zeros.data<int8_t>()[c] = static_cast<int8_t>(grids[c].zero);
    }
    q.alpha_max = std::max(q.alpha_max, grids[c].alpha);
  }
  double sse = 0;
  q.dequantized.resize(static_cast<size_t>(w.numel()));
  for (int64_t a = 0; a < v.outer; ++a) {
    for (int64_t c = 0; c < slices; ++c) {
      const Grid& gr = grids[c];
      for (int64_t i = 0; i < v.inner; ++i) {
        const int64_t k = (a * v.channels + c) * v.inner + i;
        const int32_t code = code_of(x[k], gr);
        if (ct == DType::kUInt8) {
          q.codes.data<uint8_t>()[k] = static_cast<uint8_t>(code);
        } else {
          q.codes.data<int8_t>()[k] = static_cast<int8_t>(code);
        }
        const float deq = static_cast<float>(code - gr.zero) * gr.scale;
        const double d = static_cast<double>(deq) - x[k];
        sse += d * d;
        q.dequantized[k] = deq;
      }
    }
  }
  q.sse = sse;
  return q;
}

double percentile_abs(const Tensor& w, double p) {
  std::vector<float> a(static_cast<size_t>(w.numel()));
  const float* x = w.data<float>();
  for (size_t i = 0; i < a.size(); ++i) a[i] = std::fabs(x[i]);
  if (a.empty()) return 0;
  const size_t k = std::min(a.size() - 1, static_cast<size_t>(std::ceil(p * static_cast<double>(a.size()))) - 1);
  std::nth_element(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(k), a.end());
  return a[k];
}

// Upper edge of the bin where the cumulative count reaches fraction p.
double histogram_percentile(const MagnitudeStats& s, double p) {
  double total = 0;
  for (double b : s.bins) total += b;
  double acc = 0;
  for (size_t j = 0; j < s.bins.size(); ++j) {
    acc += s.bins[j];
    if (acc >= p * total) return s.bin_width() * static_cast<double>(j + 1);
  }
  return s.max_abs;
}

}  // namespace

double max_abs(const Tensor& w) {
  float m = 0;
  const float* x = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

int64_t count_parameters(const Graph& g) {
  int64_t n = 0;
  for (const Value& v : g.values) {
    if (v.constant && v.constant->dtype() == DType::kFloat32) n += v.constant->numel();
  }
  return n;
}

Graph split_graph(const Graph& g, const std::vector<LayerSite>& sites,
                  const std::map<std::string, ChannelSplit>& splits) {
  Graph out = g;
  GraphEditor ed(out);
  for (const LayerSite& s : sites) {
    const ChannelSplit& split = splits.at(s.name);
    if (split.identity()) continue;
    Node& n = out.nodes[s.node];
    const ValueId x = expand_input(ed, out, s, n.inputs[0], split);
    Tensor we = expand_weights(out.constant(n.inputs[1]), s.in_axis, split);
    const ValueId wv = ed.constant(s.name + "_ocs_weights", std::move(we));
    Node& m = out.nodes[s.node];  // the editor may have grown the value list, never the node list
    m.inputs[0] = x;
    m.inputs[1] = wv;
  }
  ed.commit();
  out.compact();
  return out;
}

QuantizedModel quantize_graph(const Graph& g, const std::vector<LayerSite>& sites, const QuantOptions& o,
                              const std::map<std::string, ChannelSplit>& splits, const Calibration* cal) {
  validate(o);
  if (o.per_channel && g.opset < 13) {
    fail<UnsupportedError>("{}: opset {}: per-channel scales need DequantizeLinear's axis (opset 13)", g.source,
                           g.opset);
  }
  QuantizedModel qm;
  qm.graph = g;
  Graph& q = qm.graph;
  qm.parameters = count_parameters(g);
  GraphEditor ed(q);
  for (const LayerSite& s : sites) {
    const ChannelSplit& split = splits.at(s.name);
    const Tensor w = q.constant(q.nodes[s.node].inputs[1]);
    LayerQuantReport r;
    r.name = s.name;
    r.op = s.op;
    r.in_channels = split.channels;
    r.expanded_channels = static_cast<int64_t>(split.source.size());
    r.weight_splits = split.weight_splits;
    r.act_splits = split.act_splits;
    r.weight_max = max_abs(w);
    r.weight_p999 = percentile_abs(w, 0.999);
    r.weights = w.numel();
    const Tensor we = split.identity() ? w : expand_weights(w, s.in_axis, split);
    r.weights_added = we.numel() - w.numel();
    r.weight_max_split = max_abs(we);

    ValueId x = q.nodes[s.node].inputs[0];
    if (!split.identity()) x = expand_input(ed, q, s, x, split);
    if (o.act_bits > 0) {
      if (!cal || !cal->count(s.name)) fail("internal error: layer '{}' has no calibration", s.name);
      ActCalibration c = cal->at(s.name);
      if (!c.has_histogram) {
        if (o.act_clip == ClipMethod::kMse || o.act_clip == ClipMethod::kKl) {
          fail("internal error: {} activation clipping needs histograms", clip_method_name(o.act_clip));
        }
        expanded_moments(split, c);
      }
      const double lo = c.min_value, hi = c.expanded.max_abs;
      const int levels = clip_levels(lo, o.act_bits, o.asymmetric);
      const double alpha = clip_threshold(o.act_clip, c.expanded, levels);
      const Grid gr = grid_for(alpha, std::max(lo, -hi), hi, o.act_bits, o.asymmetric);
      r.act_max = c.expanded.max_abs;
      if (c.has_histogram) r.act_p999 = histogram_percentile(c.expanded, 0.999);
      r.act_alpha = alpha;
      r.act_scale = gr.scale;
      r.act_zero = gr.zero;
      const DType ct = gr.is_unsigned ? DType::kUInt8 : DType::kInt8;
      Tensor zp(ct, Shape{});
      if (ct == DType::kUInt8) {
        zp.data<uint8_t>()[0] = static_cast<uint8_t>(gr.zero);
      } else {
        zp.data<int8_t>()[0] = static_cast<int8_t>(gr.zero);
      }
      const bool type_saturates = gr.is_unsigned ? gr.qmax == 255 : gr.qmax == 127;
      if (!type_saturates || gr.zero != 0) {
        // Fewer codes than the 8-bit type holds: the Clip keeps them within the grid.
        const float cl = static_cast<float>(gr.qmin - gr.zero) * gr.scale,
                    ch = static_cast<float>(gr.qmax - gr.zero) * gr.scale;
        if (q.opset >= 11) {
          const ValueId lo_v = ed.constant(s.name + "_act_clip_min", Tensor::scalar<float>(cl));
          const ValueId hi_v = ed.constant(s.name + "_act_clip_max", Tensor::scalar<float>(ch));
          x = ed.node(s.node, "Clip", s.name + "_act_clip", {x, lo_v, hi_v});
        } else {
          Attribute amin, amax;
          amin.kind = amax.kind = Attribute::Kind::kFloat;
          amin.f = cl, amax.f = ch;
          x = ed.node(s.node, "Clip", s.name + "_act_clip", {x}, {{"min", amin}, {"max", amax}});
        }
      }
      const ValueId sc = ed.constant(s.name + "_act_scale", Tensor::scalar<float>(gr.scale));
      const ValueId zv = ed.constant(s.name + "_act_zero_point", std::move(zp));
      const ValueId xq = ed.node(s.node, "QuantizeLinear", s.name + "_act_quantize", {x, sc, zv});
      x = ed.node(s.node, "DequantizeLinear", s.name + "_act_dequantize", {xq, sc, zv});
    }
    WeightQuant wq = quantize_weights(we, s.out_axis, o);
    r.weight_alpha = wq.alpha_max;
    r.weight_mse = we.numel() ? wq.sse / static_cast<double>(we.numel()) : 0;
    r.output_step = r.act_scale * max_output_l1(wq.dequantized, we.shape(), s.out_axis);
    const ValueId codes = ed.constant(s.name + "_weight_quantized", std::move(wq.codes));
    const ValueId scales = ed.constant(s.name + "_weight_scale", std::move(wq.scales));
    const ValueId zeros = ed.constant(s.name + "_weight_zero_point", std::move(wq.zeros));
    std::map<std::string, Attribute> attrs;
    if (o.per_channel) attrs["axis"] = int_attr(s.out_axis);
    const ValueId wd =
        ed.node(s.node, "DequantizeLinear", s.name + "_weight_dequantize", {codes, scales, zeros}, attrs);
    Node& n = q.nodes[s.node];
    n.inputs[0] = x;
    n.inputs[1] = wd;
    qm.added_parameters += r.weights_added;
    qm.layers.push_back(std::move(r));
  }
  ed.commit();
  q.compact();
  return qm;
}

}  // namespace eff::quant
