// The GatedConv kernel (registered in engine/ops/registry.cpp).
#include "gating/gated_conv.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "core/error.h"
#include "deft/deft_layer.h"  // ConvShape
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

constexpr int64_t kBlock = 16;   // output pixels whose conditional paths run together in SIMD lanes
constexpr size_t kFilters = 16;  // filters whose conditional paths run together

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
    if (w.dtype() != DType::kFloat32 || w.rank() != 4)
      fail<ModelError>("{}: weights must be fp32 [M, C, kh, kw]", where);
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
    for (int64_t q = 0; q < cond_depth_; ++q) synapses_.push_back(static_cast<int32_t>(cond_first_ * taps + q));
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

    // The conditional path, one (image, group) at a time: its conditional inputs unrolled once
    // (im2col: cols[q][pixel], q the conditional synapse) when any of its gates is on, then the
    // blocks of pixels. Many images: threads take whole (image, group) tasks, each with its own
    // cols; few: the threads share one task's blocks.
    deft::ConvShape shape;
    shape.c = cg_, shape.h = h, shape.w = wd, shape.kh = kh_, shape.kw = kw_, shape.sh = sh_, shape.sw = sw_;
    shape.pad_top = pad_top_, shape.pad_left = pad_left_, shape.dh = dh_, shape.dw = dw_, shape.oh = oh, shape.ow = ow;
    const int64_t blocks = (pixels + kBlock - 1) / kBlock, tasks = n * group_;
    const size_t cols_size = static_cast<size_t>(cond_depth_ * pixels + kBlock);  // + one block read past the end
    const int threads = std::max(1, ctx.threads());
    const bool by_task = tasks >= threads;
    const Work work{pixels, c * plane, cond_in, base.data<float>(), y.data<float>()};
    if (!by_task) shared_cols_.resize(cols_size);
    float* shared_cols = shared_cols_.data();
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
      std::vector<float> own_cols(by_task ? cols_size : 0);
      std::vector<int64_t> active;
      std::vector<float> rows(static_cast<size_t>(cond_depth_ * kBlock));
      if (by_task) {
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < tasks; ++task) {
          const int64_t img = task / group_, g = task % group_;
          const int64_t busy = busy_blocks(work, img, g, blocks);
          const bool dense = cond_depth_ > 0 && 2 * busy >= blocks;
          if (dense) unroll(work, shape, img, g, own_cols.data());
          int64_t on = 0;
          for (int64_t blk = 0; blk < blocks; ++blk)
            on += conditional_block(work, shape, img, g, blk, busy > 0, dense ? own_cols.data() : nullptr, rows.data(),
                                    active);
          if (counts && on) {
#pragma omp atomic
            counts[img] += on;
          }
        }
      } else {
        for (int64_t task = 0; task < tasks; ++task) {
          const int64_t img = task / group_, g = task % group_;
          const int64_t busy = busy_blocks(work, img, g, blocks);
          const bool dense = cond_depth_ > 0 && 2 * busy >= blocks;
#pragma omp single
          {
            if (dense) unroll(work, shape, img, g, shared_cols);
          }
#pragma omp for schedule(static)
          for (int64_t blk = 0; blk < blocks; ++blk) {
            const int64_t on = conditional_block(work, shape, img, g, blk, busy > 0, dense ? shared_cols : nullptr,
                                                 rows.data(), active);
            if (counts && on) {
#pragma omp atomic
              counts[img] += on;
            }
          }
        }
      }
    }
  }

  std::string impl() const override {
    return std::string("gated:") + (precision_ ? "precision" : "channel");
  }

 private:
  struct Work {
    int64_t pixels, image_size;
    const float* cond_in;
    const float* base;
    float* y;
  };

  // Blocks of pixels of one image and group with at least one gate on: with many, the
  // conditional inputs are unrolled for the whole image at once (im2col, fast copies), with few,
  // gathered block by block (only where needed).
  int64_t busy_blocks(const Work& w, int64_t img, int64_t g, int64_t blocks) const {
    const int64_t mg = m_ / group_;
    const float* b = w.base + (img * m_ + g * mg) * w.pixels;
    int64_t busy = 0;
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t p0 = blk * kBlock, p1 = std::min(w.pixels, p0 + kBlock);
      int any = 0;
      for (int64_t k = 0; k < mg && !any; ++k)
        for (int64_t p = p0; p < p1; ++p) any |= b[k * w.pixels + p] > threshold_;
      busy += any;
    }
    return busy;
  }

  // The conditional inputs of pixels [p0, p0 + 16) of one image and group: rows[q][j].
  void gather(const Work& w, const deft::ConvShape& s, int64_t img, int64_t g, int64_t p0, float* rows) const {
    const float* x = w.cond_in + img * w.image_size + g * cg_ * s.h * s.w;
    const int64_t taps = s.kh * s.kw, last = w.pixels - 1;
    int64_t y0[kBlock], x0[kBlock];
    for (int64_t j = 0; j < kBlock; ++j) {
      const int64_t p = std::min(p0 + j, last);
      y0[j] = (p / s.ow) * s.sh - s.pad_top;
      x0[j] = (p % s.ow) * s.sw - s.pad_left;
    }
    for (int64_t q = 0; q < cond_depth_; ++q) {
      const int64_t k = synapses_[q], t = k % taps;
      const float* plane = x + (k / taps) * s.h * s.w;
      const int64_t dy = (t / s.kw) * s.dh, dx = (t % s.kw) * s.dw;
      float* r = rows + q * kBlock;
      for (int64_t j = 0; j < kBlock; ++j) {
        const int64_t iy = y0[j] + dy, ix = x0[j] + dx;
        r[j] = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w ? plane[iy * s.w + ix] : 0.f;
      }
    }
  }

  void unroll(const Work& w, const deft::ConvShape& shape, int64_t img, int64_t g, float* cols) const {
    deft::im2col(w.cond_in + img * w.image_size + g * cg_ * shape.h * shape.w, shape, synapses_, cols);
  }

  // Block `blk` of pixels of one image and group: every filter's outputs, the conditional path added
  // where the gate is on. The path runs for the filters with at least one gate on in the block,
  // sixteen at a time over the block's 16 pixels in SIMD lanes, and is kept only where the gate is
  // on. Each output's sum runs over q in order, whatever the grouping or the thread count.
  // `cols`: the image's unrolled inputs, or null to gather the block's into `rows`.
  int64_t conditional_block(const Work& w, const deft::ConvShape& shape, int64_t img, int64_t g, int64_t blk,
                            bool any_on, const float* cols, float* rows, std::vector<int64_t>& active) const {
    const int64_t mg = m_ / group_, depth = cond_depth_, p0 = blk * kBlock;
    const int64_t count = std::min(kBlock, w.pixels - p0);
    const float thr = threshold_;
    active.clear();
    for (int64_t k = 0; k < mg; ++k) {
      const int64_t m = g * mg + k;
      const float* b = w.base + (img * m_ + m) * w.pixels + p0;
      float* out = w.y + (img * m_ + m) * w.pixels + p0;
      int any = 0;
      for (int64_t j = 0; j < count; ++j) {
        any |= b[j] > thr;
        out[j] = activate(b[j]);
      }
      if (any && any_on && depth > 0) active.push_back(m);
    }
    if (active.empty()) return 0;
    const float* src = cols ? cols + p0 : rows;
    const int64_t stride = cols ? w.pixels : kBlock;
    if (!cols) gather(w, shape, img, g, p0, rows);
    int64_t on = 0;
    float acc[kFilters][kBlock];
    for (size_t a = 0; a < active.size(); a += kFilters) {
      const float* wr[kFilters];
      for (size_t f = 0; f < kFilters; ++f) wr[f] = cond_w_.data() + active[std::min(a + f, active.size() - 1)] * depth;
      block_sums(src, stride, depth, wr, acc);
      for (size_t f = 0; f < kFilters && a + f < active.size(); ++f) {
        const int64_t m = active[a + f];
        const float* b = w.base + (img * m_ + m) * w.pixels + p0;
        float* out = w.y + (img * m_ + m) * w.pixels + p0;
        for (int64_t j = 0; j < count; ++j) {
          if (!(b[j] > thr)) continue;
          out[j] = activate(b[j] + acc[f][j]);
          ++on;
        }
      }
    }
    return on;
  }

  // acc[f][j] = the sum over q in order of wr[f][q] x cols[q * stride + j], j < 16.
  static void block_sums(const float* cols, int64_t stride, int64_t depth, const float* const* wr,
                         float (&acc)[kFilters][kBlock]) {
#if defined(__AVX512F__)
    __m512 a[kFilters];
    for (size_t f = 0; f < kFilters; ++f) a[f] = _mm512_setzero_ps();
    for (int64_t q = 0; q < depth; ++q) {
      const __m512 r = _mm512_loadu_ps(cols + q * stride);
      for (size_t f = 0; f < kFilters; ++f) a[f] = _mm512_fmadd_ps(_mm512_set1_ps(wr[f][q]), r, a[f]);
    }
    for (size_t f = 0; f < kFilters; ++f) _mm512_storeu_ps(acc[f], a[f]);
#else
    for (size_t f = 0; f < kFilters; ++f)
      for (int64_t j = 0; j < kBlock; ++j) acc[f][j] = 0.f;
    for (int64_t q = 0; q < depth; ++q) {
      const float* r = cols + q * stride;
      for (size_t f = 0; f < kFilters; ++f) {
        const float wq = wr[f][q];
        for (int64_t j = 0; j < kBlock; ++j) acc[f][j] = std::fma(wq, r[j], acc[f][j]);
      }
    }
#endif
  }

  float activate(float v) const {
    if (v < act_lo_) v = act_lo_;  // NaN passes through, as oneDNN's eltwise leaves it
    if (v > act_hi_) v = act_hi_;
    return v;
  }

  bool precision_ = false;
  int64_t m_ = 0, cg_ = 0, kh_ = 1, kw_ = 1, group_ = 1;
  int64_t sh_ = 1, sw_ = 1, pad_top_ = 0, pad_left_ = 0, dh_ = 1, dw_ = 1;
  int64_t base_channels_ = 0, cond_first_ = 0, cond_depth_ = 0;
  float threshold_ = 0;
  float act_lo_ = -std::numeric_limits<float>::infinity(), act_hi_ = std::numeric_limits<float>::infinity();
  PrecisionSplit split_;
  std::vector<float> cond_w_, low_;
  std::vector<int32_t> synapses_;  // conditional synapses of a group: (c * kh + ky) * kw + kx
  std::vector<float> shared_cols_;
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
