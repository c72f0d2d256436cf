// The GatedConv kernel (registered in engine/ops/registry.cpp).
#include "gating/gated_conv.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "core/error.h"
#include "engine/buffer_pool.h"
#include "engine/kernel.h"

namespace eff::gating {

float PrecisionSplit::split(float x, float& low) const {
  const double scale = std::ldexp(1.0, frac_bits);
  const double lo = is_signed ? -std::ldexp(1.0, bits - 1) : 0.0;
  const double hi = is_signed ? std::ldexp(1.0, bits - 1) - 1 : std::ldexp(1.0, bits) - 1;
  double code = std::round(double(x) * scale);  // std::round: ties away from zero
  if (!(code >= lo)) code = lo;                 // NaN saturates low rather than spreading
  if (code > hi) code = hi;
  const double unit = std::ldexp(1.0, bits - high_bits);
  const double high = std::floor(code / unit) * unit;
  low = static_cast<float>((code - high) / scale);
  return static_cast<float>(high / scale);
}

namespace {

// Where conditional input q of a group reads: channel plane offset and the tap's displacement.
struct Tap {
  int64_t channel_offset, dy, dx;
};

class GatedConvKernel final : public Kernel {
 public:
  GatedConvKernel(const Node& node, const Graph& graph) {
    const std::string where = graph.where(node);
    const std::string mode = node.attr_string("mode", "");
    if (mode != "channel" && mode != "precision") fail<ModelError>("{}: mode must be channel or precision", where);
    precision_ = mode == "precision";
    if (node.num_inputs() < 2 || !graph.is_constant(node.input(1)))
      fail<ModelError>("{}: weights must be a constant", where);
    const Tensor& w = graph.constant(node.input(1));
    if (w.dtype() != DType::kFloat32 || w.rank() != 4) fail<ModelError>("{}: weights must be fp32 [M, C, kh, kw]", where);
    m_ = w.dim(0), cg_ = w.dim(1), kh_ = w.dim(2), kw_ = w.dim(3);
    group_ = node.attr_int("group", 1);
    if (group_ < 1 || m_ % group_ != 0) fail<ModelError>("{}: group {} does not divide {} filters", where, group_, m_);
    std::vector<float> bias(static_cast<size_t>(m_), 0.f);
    if (node.input(2) != kNoValue) {
      if (!graph.is_constant(node.input(2))) fail<ModelError>("{}: bias must be a constant", where);
      const Tensor& b = graph.constant(node.input(2));
      if (b.dtype() != DType::kFloat32 || b.numel() != m_) fail<ModelError>("{}: bias must be fp32 [{}]", where, m_);
      std::copy(b.data<float>(), b.data<float>() + m_, bias.begin());
    }
    threshold_ = node.attr_float("threshold", -std::numeric_limits<float>::infinity());
    const std::string act = node.attr_string("activation", "");
    if (act == "Relu") {
      act_lo_ = 0.f;
    } else if (act == "Clip") {
      act_lo_ = node.attr_float("activation_min", 0.f);
      act_hi_ = node.attr_float("activation_max", 0.f);
    } else if (!act.empty()) {
      fail<ModelError>("{}: fused {} is not supported (Relu, Clip)", where, act);
    }
    const auto st = node.attr_ints("strides", {1, 1}), pads = node.attr_ints("pads", {0, 0, 0, 0}),
               dil = node.attr_ints("dilations", {1, 1});
    if (st.size() != 2 || pads.size() != 4 || dil.size() != 2)
      fail<ModelError>("{}: a 2-D conv needs strides, pads and dilations of 2, 4 and 2 values", where);
    sh_ = st[0], sw_ = st[1], pad_top_ = pads[0], pad_left_ = pads[1], dh_ = dil[0], dw_ = dil[1];
    const int64_t taps = kh_ * kw_;
    if (precision_) {
      split_.bits = static_cast<int>(node.attr_int("bits", 8));
      split_.high_bits = static_cast<int>(node.attr_int("high_bits", 4));
      split_.frac_bits = static_cast<int>(node.attr_int("frac_bits", 0));
      split_.is_signed = node.attr_int("signed", 0) != 0;
      if (split_.bits < 2 || split_.bits > 16 || split_.high_bits < 1 || split_.high_bits >= split_.bits ||
          std::abs(split_.frac_bits) > 64)
        fail<ModelError>("{}: precision gating needs 1 <= high_bits < bits <= 16 and |frac_bits| <= 64", where);
      base_channels_ = cg_;
      cond_first_ = 0;
    } else {
      base_channels_ = node.attr_int("base_channels", cg_);
      if (base_channels_ < 1 || base_channels_ > cg_)
        fail<ModelError>("{}: base_channels {} must be in [1, {}]", where, base_channels_, cg_);
      cond_first_ = base_channels_;
    }
    cond_depth_ = (cg_ - cond_first_) * taps;
    // Conditional weights, one contiguous row per filter.
    cond_w_.resize(static_cast<size_t>(m_ * cond_depth_));
    for (int64_t m = 0; m < m_; ++m)
      std::copy(w.data<float>() + (m * cg_ + cond_first_) * taps, w.data<float>() + (m + 1) * cg_ * taps,
                cond_w_.begin() + m * cond_depth_);
    // The base path: a plain Conv node over the base inputs, run by the engine's own kernel.
    Tensor base_w(DType::kFloat32, {m_, base_channels_, kh_, kw_});
    for (int64_t m = 0; m < m_; ++m)
      std::copy(w.data<float>() + m * cg_ * taps, w.data<float>() + (m * cg_ + base_channels_) * taps,
                base_w.data<float>() + m * base_channels_ * taps);
    inner_.source = graph.source;
    const ValueId x = inner_.add_value(node.name + "/base_input");
    inner_.value(x).has_type = true;
    const ValueId wv = inner_.add_value(node.name + "/base_weights");
    inner_.value(wv).hold_constant(std::move(base_w));
    const ValueId bv = inner_.add_value(node.name + "/bias");
    inner_.value(bv).hold_constant(Tensor::from<float>({m_}, bias));
    const ValueId y = inner_.add_value(node.name + "/base");
    base_node_.op = "Conv";
    base_node_.name = node.name + "/base";
    base_node_.inputs = {x, wv, bv};
    base_node_.outputs = {y};
    auto set_ints = [&](const char* key, std::vector<int64_t> v) {
      base_node_.attrs[key].kind = Attribute::Kind::kInts;
      base_node_.attrs[key].ints = std::move(v);
    };
    set_ints("strides", st);
    set_ints("pads", pads);
    set_ints("dilations", dil);
    set_ints("kernel_shape", {kh_, kw_});
    base_node_.attrs["group"].i = group_;
    const OpEntry* conv = find_op("Conv");
    if (!conv) fail<ModelError>("{}: no Conv kernel for the base path", where);
    base_ = conv->make(base_node_, inner_);
  }

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kFloat32 || x.rank() != 4 || x.dim(1) != cg_ * group_)
      fail<ShapeError>("{}: input must be fp32 N x {} x H x W", ctx.where(), cg_ * group_);
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3), plane = h * wd;
    // Base and conditional inputs.
    const Tensor* base_in = &x;
    const float* cond_in = x.data<float>();
    if (precision_) {
      if (!high_.defined() || high_.shape() != x.shape()) high_ = Tensor(DType::kFloat32, x.shape());
      low_.resize(static_cast<size_t>(x.numel()));
      const float* src = x.data<float>();
      float* hi = high_.data<float>();
      for (int64_t i = 0; i < x.numel(); ++i) hi[i] = split_.split(src[i], low_[i]);
      base_in = &high_;
      cond_in = low_.data();
    } else if (base_channels_ < cg_) {
      const Shape shape{n, group_ * base_channels_, h, wd};
      if (!base_x_.defined() || base_x_.shape() != shape) base_x_ = Tensor(DType::kFloat32, shape);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t g = 0; g < group_; ++g)
          std::copy_n(x.data<float>() + (i * c + g * cg_) * plane, base_channels_ * plane,
                      base_x_.data<float>() + (i * group_ + g) * base_channels_ * plane);
      base_in = &base_x_;
    }
    const Tensor* inputs[] = {base_in, &inner_.constant(base_node_.inputs[1]), &inner_.constant(base_node_.inputs[2])};
    OpContext inner(base_node_, inner_, inputs, base_out_, pool_, ctx.dnnl(), ctx.threads());
    base_->run(inner);
    const Tensor& base = base_out_.at(0);
    const int64_t oh = base.dim(2), ow = base.dim(3), pixels = oh * ow;
    Tensor& y = ctx.output(0, DType::kFloat32, {n, m_, oh, ow});
    int64_t* counts = nullptr;
    if (ctx.num_outputs() > 1) counts = ctx.output(1, DType::kInt64, {n}).data<int64_t>();
    if (counts) std::fill(counts, counts + n, 0);

    // Conditional taps of each group (channel offsets within one image).
    const int64_t taps = kh_ * kw_;
    taps_.resize(static_cast<size_t>(group_ * cond_depth_));
    for (int64_t g = 0; g < group_; ++g)
      for (int64_t q = 0; q < cond_depth_; ++q) {
        const int64_t ch = g * cg_ + cond_first_ + q / taps, t = q % taps;
        taps_[g * cond_depth_ + q] = {ch * plane, (t / kw_) * dh_ - pad_top_, (t % kw_) * dw_ - pad_left_};
      }
    const int64_t mg = m_ / group_, depth = cond_depth_;
    const float thr = threshold_, lo = act_lo_, hi = act_hi_;
    const float* bp = base.data<float>();
    float* yp = y.data<float>();
    const int threads = std::max(1, ctx.threads());
    const int64_t tasks = n * group_ * pixels;
#pragma omp parallel num_threads(threads) if (threads > 1 && tasks > 1)
    {
      std::vector<float> row(static_cast<size_t>(depth));
#pragma omp for schedule(static)
      for (int64_t task = 0; task < tasks; ++task) {
        const int64_t p = task % pixels, g = (task / pixels) % group_, img = task / (pixels * group_);
        const int64_t oy = p / ow, ox = p % ow;
        const float* xi = cond_in + img * c * plane;
        bool gathered = false;
        int64_t on = 0;
        for (int64_t k = 0; k < mg; ++k) {
          const int64_t m = g * mg + k;
          const int64_t at = (img * m_ + m) * pixels + p;
          float v = bp[at];
          if (depth > 0 && v > thr) {
            if (!gathered) {
              const Tap* tp = taps_.data() + g * depth;
              for (int64_t q = 0; q < depth; ++q) {
                const int64_t iy = oy * sh_ + tp[q].dy, ix = ox * sw_ + tp[q].dx;
                row[q] = iy >= 0 && iy < h && ix >= 0 && ix < wd ? xi[tp[q].channel_offset + iy * wd + ix] : 0.f;
              }
              gathered = true;
            }
            const float* wr = cond_w_.data() + m * depth;
            float s = 0.f;
#pragma omp simd reduction(+ : s)
            for (int64_t q = 0; q < depth; ++q) s += wr[q] * row[q];
            v += s;
            ++on;
          }
          if (v < lo) v = lo;  // NaN passes through, as oneDNN's eltwise leaves it
          if (v > hi) v = hi;
          yp[at] = v;
        }
        if (counts && on) {
#pragma omp atomic
          counts[img] += on;
        }
      }
    }
  }

  std::string impl() const override { return std::string("gated:") + (precision_ ? "precision" : "channel"); }

 private:
  bool precision_ = false;
  int64_t m_ = 0, cg_ = 0, kh_ = 1, kw_ = 1, group_ = 1;
  int64_t sh_ = 1, sw_ = 1, pad_top_ = 0, pad_left_ = 0, dh_ = 1, dw_ = 1;
  int64_t base_channels_ = 0, cond_first_ = 0, cond_depth_ = 0;
  float threshold_ = 0;
  float act_lo_ = -std::numeric_limits<float>::infinity(), act_hi_ = std::numeric_limits<float>::infinity();
  PrecisionSplit split_;
  std::vector<float> cond_w_, low_;
  std::vector<Tap> taps_;
  Graph inner_;
  Node base_node_;
  std::unique_ptr<Kernel> base_;
  BufferPool pool_;
  std::vector<Tensor> base_out_ = std::vector<Tensor>(1);
  Tensor base_x_, high_;
};

}  // namespace

}  // namespace eff::gating

namespace eff {
std::unique_ptr<Kernel> make_gated_conv(const Node& node, const Graph& graph) {
  return std::make_unique<gating::GatedConvKernel>(node, graph);
}
}  // namespace eff
