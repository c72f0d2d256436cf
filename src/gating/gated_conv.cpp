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
#include "gating/gates_file.h"

// GCC 12's AVX-512 intrinsics pass _mm512_undefined_ps() as their mask source, which trips
// -Wmaybe-uninitialized once inlined (a false positive: the mask is all ones).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

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

constexpr int64_t kLanes = 16;  // floats per SIMD vector (AVX-512); conditional channels are padded to it
constexpr int64_t kPixels = 8;  // gated-on outputs of one filter computed together (sharing weight loads)
// The conditional path of one gated-on output costs about this many times the same MACs in oneDNN's
// dense conv (a dot product per output against blocked GEMM / Winograd kernels, measured with
// bench/bench_gate.cpp): above 1 / kSparseCost of the gates on, the kernel runs the whole conv
// densely in oneDNN and selects per output instead.
constexpr double kSparseCost = 3.0;

// A Conv node over `x`'s channels with the given weights, run by the engine's own kernel.
struct InnerConv {
  Graph graph;
  Node node;
  std::unique_ptr<Kernel> kernel;
  BufferPool pool;
  std::vector<Tensor> out = std::vector<Tensor>(1);

  void build(const Node& gated, const Graph& outer, Tensor w, const std::vector<float>& bias, const std::string& suffix,
             int64_t group) {
    graph.source = outer.source;
    const ValueId x = graph.add_value(gated.name + suffix + "_input");
    graph.value(x).has_type = true;
    const ValueId wv = graph.add_value(gated.name + suffix + "_weights");
    const int64_t m = w.dim(0);
    graph.value(wv).hold_constant(std::move(w));
    const ValueId bv = graph.add_value(gated.name + suffix + "_bias");
    graph.value(bv).hold_constant(Tensor::from<float>({m}, bias));
    const ValueId y = graph.add_value(gated.name + suffix);
    node.op = "Conv";
    node.name = gated.name + suffix;
    node.inputs = {x, wv, bv};
    node.outputs = {y};
    for (const char* key : {"strides", "pads", "dilations", "kernel_shape"}) {
      node.attrs[key].kind = Attribute::Kind::kInts;
      node.attrs[key].ints = gated.attr_ints(key, {});
    }
    node.attrs["group"].i = group;
    const OpEntry* conv = find_op("Conv");
    if (!conv) fail<ModelError>("{}: no Conv kernel for the inner conv", outer.where(gated));
    kernel = conv->make(node, graph);
  }

  const Tensor& run(const Tensor& x, OpContext& ctx) {
    const Tensor* inputs[] = {&x, &graph.constant(node.inputs[1]), &graph.constant(node.inputs[2])};
    OpContext inner(node, graph, inputs, out, pool, ctx.dnnl(), ctx.threads());
    kernel->run(inner);
    return out.at(0);
  }
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
    thresholds_ = node.attr_floats("thresholds", {});
    if (thresholds_.empty()) {
      thresholds_.assign(static_cast<size_t>(m_),
                         node.attr_float("threshold", -std::numeric_limits<float>::infinity()));
    } else if (static_cast<int64_t>(thresholds_.size()) != m_) {
      fail<ModelError>("{}: {} per-channel thresholds for {} filters", where, thresholds_.size(), m_);
    }
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
      const std::string grouping = node.attr_string("grouping", "first");
      if (!parse_grouping(grouping, grouping_))
        fail<ModelError>("{}: grouping '{}' is not first, contiguous or shuffle", where, grouping);
      if (grouping_ != Grouping::kFirst) {
        gate_groups_ = node.attr_int("gate_groups", 1);
        const int64_t mg = m_ / group_;
        if (gate_groups_ < 1 || cg_ % gate_groups_ != 0 || mg % gate_groups_ != 0 ||
            base_channels_ != cg_ / gate_groups_)
          fail<ModelError>(
              "{}: gate_groups {} must divide {} input and {} output channels per group, base_channels = {}", where,
              gate_groups_, cg_, mg, cg_ / std::max<int64_t>(1, gate_groups_));
      }
      cond_first_ = base_channels_;
    }
    cond_channels_ = cg_ - cond_first_;
    cond_padded_ = (cond_channels_ + kLanes - 1) / kLanes * kLanes;
    const int64_t mg = m_ / group_;
    // The transposed conditional inputs (transpose()): per pixel a row of row_ floats whose slot q
    // holds channel slot_channel_[q]. First and precision: the conditional channels, one block.
    // Grouped: every channel, input set by input set, then sets 0 .. G-2 again, so that filter
    // block k's conditional channels (sets k+1, ..., G-1, 0, ..., k-1) are the consecutive slots
    // from (k + 1) x base: one transpose serves every block and each block multiplies only its own.
    blocks_ = grouping_ == Grouping::kFirst ? 1 : gate_groups_;
    const int64_t per_block = mg / blocks_;
    slot_channel_.clear();
    if (blocks_ == 1) {
      for (int64_t c = cond_first_; c < cg_; ++c) slot_channel_.push_back(static_cast<int32_t>(c));
    } else {
      for (int64_t k = 0; k < blocks_; ++k)
        for (int64_t c = 0; c < cg_; ++c)
          if (on_base_path(grouping_, gate_groups_, base_channels_, cg_, mg, c, k * per_block))
            slot_channel_.push_back(static_cast<int32_t>(c));
    }
    const int64_t slots = static_cast<int64_t>(slot_channel_.size());
    row_ = blocks_ == 1 ? cond_padded_ : (blocks_ * base_channels_ + cond_padded_ + kLanes - 1) / kLanes * kLanes;
    // Conditional weights as [filter][tap][channel, padded with zeros]: a tap's channels are one
    // or a few vectors, matching the filter's block's slots.
    cond_w_.assign(static_cast<size_t>(m_ * taps * cond_padded_), 0.f);
    for (int64_t m = 0; m < m_; ++m) {
      const int64_t first_slot = block_offset((m % mg) / per_block);
      for (int64_t c = 0; c < cond_channels_; ++c) {
        const int64_t channel = slot_channel_[static_cast<size_t>((first_slot + c) % slots)];
        for (int64_t t = 0; t < taps; ++t)
          cond_w_[static_cast<size_t>((m * taps + t) * cond_padded_ + c)] =
              w.data<float>()[((m * cg_) + channel) * taps + t];
      }
    }
    // The base path: each filter's base channels in the order base_input() lays them out (first:
    // the first base_channels of each group; grouped: a conv of group x gate_groups groups, input
    // set k of a group being its base channels in increasing order); the dense fallback: every channel.
    Tensor base_w(DType::kFloat32, {m_, base_channels_, kh_, kw_});
    for (int64_t m = 0; m < m_; ++m) {
      float* dst = base_w.data<float>() + m * base_channels_ * taps;
      for (int64_t c = 0; c < cg_; ++c) {
        if (!on_base_path(grouping_, gate_groups_, base_channels_, cg_, mg, c, m % mg)) continue;
        std::copy_n(w.data<float>() + (m * cg_ + c) * taps, taps, dst);
        dst += taps;
      }
    }
    base_.build(node, graph, std::move(base_w), bias, "/base", group_ * gate_groups_);
    if (cond_channels_ > 0) {
      Tensor full_w(DType::kFloat32, w.shape());
      std::copy(w.data<float>(), w.data<float>() + w.numel(), full_w.data<float>());
      full_.build(node, graph, std::move(full_w), bias, "/full", group_);
    }
  }

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kFloat32 || x.rank() != 4 || x.dim(1) != cg_ * group_)
      fail<ShapeError>("{}: input must be fp32 N x {} x H x W", ctx.where(), cg_ * group_);
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3), plane = h * wd;
    // Base and conditional inputs.
    const Tensor* base_in = &x;
    const Tensor* full_in = &x;
    const float* cond_in = x.data<float>();
    if (precision_) {
      if (!high_.defined() || high_.shape() != x.shape()) high_ = Tensor(DType::kFloat32, x.shape());
      if (!low_.defined() || low_.shape() != x.shape()) low_ = Tensor(DType::kFloat32, x.shape());
      const float* src = x.data<float>();
      float* hi = high_.data<float>();
      float* lo = low_.data<float>();
      for (int64_t i = 0; i < x.numel(); ++i) hi[i] = split_.split(src[i], lo[i]);
      base_in = &high_;
      cond_in = lo;
    } else if (grouping_ == Grouping::kShuffle && gate_groups_ > 1) {
      // Input set k of each group ({c : c mod G = k}) gathered as one consecutive block.
      if (!base_x_.defined() || base_x_.shape() != x.shape()) base_x_ = Tensor(DType::kFloat32, x.shape());
      const int64_t per_set = cg_ / gate_groups_;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t g = 0; g < group_; ++g)
          for (int64_t k = 0; k < gate_groups_; ++k)
            for (int64_t j = 0; j < per_set; ++j)
              std::copy_n(x.data<float>() + (i * c + g * cg_ + j * gate_groups_ + k) * plane, plane,
                          base_x_.data<float>() + (i * c + g * cg_ + k * per_set + j) * plane);
      base_in = &base_x_;
    } else if (grouping_ == Grouping::kFirst && base_channels_ < cg_) {
      const Shape shape{n, group_ * base_channels_, h, wd};
      if (!base_x_.defined() || base_x_.shape() != shape) base_x_ = Tensor(DType::kFloat32, shape);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t g = 0; g < group_; ++g)
          std::copy_n(x.data<float>() + (i * c + g * cg_) * plane, base_channels_ * plane,
                      base_x_.data<float>() + (i * group_ + g) * base_channels_ * plane);
      base_in = &base_x_;
    }
    const Tensor& base = base_.run(*base_in, ctx);
    const int64_t oh = base.dim(2), ow = base.dim(3), pixels = oh * ow;
    Tensor& y = ctx.output(0, DType::kFloat32, {n, m_, oh, ow});
    int64_t* counts = nullptr;
    if (ctx.num_outputs() > 1) counts = ctx.output(1, DType::kInt64, {n}).data<int64_t>();
    const int threads = std::max(1, ctx.threads());
    const float* b = base.data<float>();
    float* out = y.data<float>();

    // Gates on per image; their total picks the sparse or the dense conditional path.
    std::vector<int64_t> on(static_cast<size_t>(n), 0);
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (int64_t img = 0; img < n; ++img) {
      int64_t k = 0;
      for (int64_t m = 0; m < m_; ++m) k += count_above(b + (img * m_ + m) * pixels, pixels, thresholds_[size_t(m)]);
      on[static_cast<size_t>(img)] = k;
    }
    if (cond_channels_ == 0) std::fill(on.begin(), on.end(), 0);  // nothing conditional: no gate opens work
    int64_t total_on = 0;
    for (int64_t k : on) total_on += k;
    if (counts) std::copy(on.begin(), on.end(), counts);
    const double cells = double(n * m_ * pixels);
    const double sparse_work = double(total_on) * double(cond_padded_) / double(std::max<int64_t>(1, cond_channels_));
    if (cond_channels_ > 0 && total_on > 0 && kSparseCost * sparse_work > cells) {
      // Dense: the whole conv in oneDNN (on the B-bit values for precision gating), then per
      // output the full or the base result.
      if (precision_) {
        if (!quantized_.defined() || quantized_.shape() != x.shape()) quantized_ = Tensor(DType::kFloat32, x.shape());
        float* q = quantized_.data<float>();
        for (int64_t i = 0; i < x.numel(); ++i) q[i] = high_.data<float>()[i] + low_.data<float>()[i];
        full_in = &quantized_;
      }
      const float* f = full_.run(*full_in, ctx).data<float>();
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
      for (int64_t row = 0; row < n * m_; ++row) {
        const float thr = thresholds_[static_cast<size_t>(row % m_)];
        for (int64_t p = row * pixels; p < (row + 1) * pixels; ++p) out[p] = activate(b[p] > thr ? f[p] : b[p]);
      }
      return;
    }
    // Sparse: per (image, group), the conditional inputs transposed to [pixel][channel] (padded),
    // then per filter a dot product for each gated-on output. Many images: threads take whole
    // (image, group) tasks; few: they share one task's filters.
    deft::ConvShape s;
    s.c = cg_, s.h = h, s.w = wd, s.kh = kh_, s.kw = kw_, s.sh = sh_, s.sw = sw_;
    s.pad_top = pad_top_, s.pad_left = pad_left_, s.dh = dh_, s.dw = dw_, s.oh = oh, s.ow = ow;
    const int64_t hp = std::max(pad_top_ + h, (oh - 1) * sh_ + (kh_ - 1) * dh_ + 1);
    const int64_t wp = std::max(pad_left_ + wd, (ow - 1) * sw_ + (kw_ - 1) * dw_ + 1);
    const Work work{pixels, c * plane, hp, wp, cond_in, b, out};
    const int64_t tasks = n * group_, mg = m_ / group_;
    const bool by_task = tasks >= threads;
    const size_t padded_size = static_cast<size_t>(hp * wp * row_);
    if (!by_task) shared_.assign(padded_size, 0.f);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
      std::vector<float> own(by_task ? padded_size : 0, 0.f);
      std::vector<int32_t> list;
      if (by_task) {
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < tasks; ++task) {
          const int64_t img = task / group_, g = task % group_;
          if (on[static_cast<size_t>(img)] > 0) transpose(work, s, img, g, own.data());
          for (int64_t k = 0; k < mg; ++k) filter_outputs(work, s, img, g * mg + k, own.data(), list);
        }
      } else {
        for (int64_t task = 0; task < tasks; ++task) {
          const int64_t img = task / group_, g = task % group_;
#pragma omp single
          {
            if (on[static_cast<size_t>(img)] > 0) transpose(work, s, img, g, shared_.data());
          }
#pragma omp for schedule(static)
          for (int64_t k = 0; k < mg; ++k) filter_outputs(work, s, img, g * mg + k, shared_.data(), list);
        }
      }
    }
  }

  std::string impl() const override {
    return std::string("gated:") + (precision_ ? "precision" : "channel");
  }

 private:
  struct Work {
    int64_t pixels, image_size, hp, wp;  // hp x wp: the padded input plane
    const float* cond_in;
    const float* base;
    float* y;
  };

  // The conditional input channels of one image and group as padded[(iy + pad_top) * wp + ix +
  // pad_left][channel], channels padded to kLanes; the padding stays zero (never written).
  void transpose(const Work& w, const deft::ConvShape& s, int64_t img, int64_t g, float* padded) const {
    const float* x = w.cond_in + img * w.image_size + g * cg_ * s.h * s.w;
    const int64_t slots = static_cast<int64_t>(slot_channel_.size());
    for (int64_t c = 0; c < slots; ++c) {
      const float* plane = x + slot_channel_[static_cast<size_t>(c)] * s.h * s.w;
      for (int64_t iy = 0; iy < s.h; ++iy) {
        float* row = padded + ((iy + s.pad_top) * w.wp + s.pad_left) * row_ + c;
        for (int64_t ix = 0; ix < s.w; ++ix) row[ix * row_] = plane[iy * s.w + ix];
      }
    }
    if (blocks_ == 1) return;
    // Grouped: sets 0 .. G-2 again after the last set (contiguous copies per pixel).
    const int64_t again = (blocks_ - 1) * base_channels_;
    for (int64_t iy = 0; iy < s.h; ++iy) {
      float* row = padded + ((iy + s.pad_top) * w.wp + s.pad_left) * row_;
      for (int64_t ix = 0; ix < s.w; ++ix) std::copy_n(row + ix * row_, again, row + ix * row_ + slots);
    }
  }

  // Filter block k's first conditional slot in a transposed row.
  int64_t block_offset(int64_t k) const {
    return blocks_ == 1 ? 0 : (k + 1) * base_channels_;
  }

  // Filter m of one image: every output written (the base result, activated), and the gated-on
  // ones with the conditional path added, kPixels at a time. Each output's sum has a fixed order.
  void filter_outputs(const Work& w, const deft::ConvShape& s, int64_t img, int64_t m, const float* padded,
                      std::vector<int32_t>& list) const {
    const float thr = thresholds_[static_cast<size_t>(m)];
    const float* b = w.base + (img * m_ + m) * w.pixels;
    float* out = w.y + (img * m_ + m) * w.pixels;
    list.resize(static_cast<size_t>(w.pixels + kLanes));
    const int64_t listed = activate_and_list(b, out, w.pixels, thr, list.data());
    if (listed == 0 || cond_channels_ == 0) return;
    const int64_t taps = kh_ * kw_;
    // Offsets (in floats) into `padded`: of each output's first tap and of each tap from it.
    int64_t tap_at[64];
    std::vector<int64_t> tap_heap;
    int64_t* tap = tap_at;
    if (taps > 64) {
      tap_heap.resize(static_cast<size_t>(taps));
      tap = tap_heap.data();
    }
    for (int64_t t = 0; t < taps; ++t) tap[t] = ((t / s.kw) * s.dh * w.wp + (t % s.kw) * s.dw) * row_;
    const int64_t mg = m_ / group_;
    const float* block_start = padded + block_offset((m % mg) / (mg / blocks_));
    const float* wm = cond_w_.data() + m * taps * cond_padded_;
    float sums[kPixels];
    for (int64_t i = 0; i < listed; i += kPixels) {
      const int64_t count = std::min<int64_t>(kPixels, listed - i);
      const float* at[kPixels];
      for (int64_t j = 0; j < kPixels; ++j) {
        const int64_t p = list[i + std::min(j, count - 1)];
        at[j] = block_start + ((p / s.ow) * s.sh * w.wp + (p % s.ow) * s.sw) * row_;
      }
      dots(wm, at, tap, taps, sums);
      for (int64_t j = 0; j < count; ++j) {
        const int64_t p = list[i + j];
        out[p] = activate(b[p] + sums[j]);
      }
    }
  }

  // sums[j] = the conditional sum of the output whose first tap is at[j]: over taps, then channel
  // vectors, lane-wise, and the lanes added in a fixed order.
  void dots(const float* wm, const float* const* at, const int64_t* tap, int64_t taps, float (&sums)[kPixels]) const {
    const int64_t vectors = cond_padded_ / kLanes;
#if defined(__AVX512F__)
    __m512 acc[kPixels];
    for (int64_t j = 0; j < kPixels; ++j) acc[j] = _mm512_setzero_ps();
    for (int64_t t = 0; t < taps; ++t) {
      const float* wt = wm + t * cond_padded_;
      const int64_t off = tap[t];
      for (int64_t v = 0; v < vectors; ++v) {
        const __m512 wv = _mm512_loadu_ps(wt + v * kLanes);
        for (int64_t j = 0; j < kPixels; ++j)
          acc[j] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(at[j] + off + v * kLanes), acc[j]);
      }
    }
    for (int64_t j = 0; j < kPixels; ++j) {
      // Halves added down to 4 lanes, then those in a fixed order.
      // (The masked extracts: GCC 12's unmasked ones trip -Wmaybe-uninitialized.)
      const __m512d a = _mm512_castps_pd(acc[j]);
      const __m256 eight =
          _mm256_add_ps(_mm256_castpd_ps(_mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xff, a, 0)),
                        _mm256_castpd_ps(_mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xff, a, 1)));
      const __m128 four = _mm_add_ps(_mm256_castps256_ps128(eight), _mm256_extractf128_ps(eight, 1));
      const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
      sums[j] = _mm_cvtss_f32(_mm_add_ss(two, _mm_shuffle_ps(two, two, 1)));
    }
#else
    float acc[kPixels][kLanes] = {};
    for (int64_t t = 0; t < taps; ++t) {
      const float* wt = wm + t * cond_padded_;
      for (int64_t v = 0; v < vectors; ++v)
        for (int64_t j = 0; j < kPixels; ++j)
          for (int64_t l = 0; l < kLanes; ++l)
            acc[j][l] = std::fma(wt[v * kLanes + l], at[j][tap[t] + v * kLanes + l], acc[j][l]);
    }
    for (int64_t j = 0; j < kPixels; ++j) {
      float sum = 0;
      for (int64_t l = 0; l < kLanes; ++l) sum += acc[j][l];
      sums[j] = sum;
    }
#endif
  }

  // How many of v[0, n) exceed thr.
  static int64_t count_above(const float* v, int64_t n, float thr) {
    int64_t k = 0, p = 0;
#if defined(__AVX512F__)
    const __m512 t = _mm512_set1_ps(thr);
    for (; p + kLanes <= n; p += kLanes)
      k += __builtin_popcount(_mm512_cmp_ps_mask(_mm512_loadu_ps(v + p), t, _CMP_GT_OQ));
#endif
    for (; p < n; ++p) k += v[p] > thr;
    return k;
  }

  // out[p] = activate(base[p]) for p < n; list gets the p whose base exceeds thr (room for n + kLanes),
  // returns how many.
  int64_t activate_and_list(const float* base, float* out, int64_t n, float thr, int32_t* list) const {
    int64_t listed = 0, p = 0;
#if defined(__AVX512F__)
    const __m512 t = _mm512_set1_ps(thr), lo = _mm512_set1_ps(act_lo_), hi = _mm512_set1_ps(act_hi_);
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; p + kLanes <= n; p += kLanes) {
      const __m512 v = _mm512_loadu_ps(base + p);
      // max/min return their second operand when one is NaN: NaN passes, as in activate().
      _mm512_storeu_ps(out + p, _mm512_min_ps(hi, _mm512_max_ps(lo, v)));
      const __mmask16 on = _mm512_cmp_ps_mask(v, t, _CMP_GT_OQ);
      if (!on) continue;
      _mm512_mask_compressstoreu_epi32(list + listed, on, _mm512_add_epi32(lanes, _mm512_set1_epi32(int32_t(p))));
      listed += __builtin_popcount(on);
    }
#endif
    for (; p < n; ++p) {
      out[p] = activate(base[p]);
      if (base[p] > thr) list[listed++] = static_cast<int32_t>(p);
    }
    return listed;
  }

  float activate(float v) const {
    if (v < act_lo_) v = act_lo_;  // NaN passes through, as oneDNN's eltwise leaves it
    if (v > act_hi_) v = act_hi_;
    return v;
  }

  bool precision_ = false;
  int64_t m_ = 0, cg_ = 0, kh_ = 1, kw_ = 1, group_ = 1;
  int64_t sh_ = 1, sw_ = 1, pad_top_ = 0, pad_left_ = 0, dh_ = 1, dw_ = 1;
  int64_t base_channels_ = 0, cond_first_ = 0, cond_channels_ = 0, cond_padded_ = 0;
  Grouping grouping_ = Grouping::kFirst;
  int64_t gate_groups_ = 1;            // grouped: G sets of base channels per conv group
  int64_t blocks_ = 1;                 // filter blocks with their own conditional channels
  std::vector<int32_t> slot_channel_;  // the channel in each slot of a transposed row (see the constructor)
  int64_t row_ = 0;                    // floats per pixel of the transposed inputs
  std::vector<float> thresholds_;      // per filter
  float act_lo_ = -std::numeric_limits<float>::infinity(), act_hi_ = std::numeric_limits<float>::infinity();
  PrecisionSplit split_;
  std::vector<float> cond_w_;  // [filter][tap][conditional channel, padded to kLanes]
  std::vector<float> shared_;
  InnerConv base_, full_;
  Tensor base_x_, high_, low_, quantized_;
};

}  // namespace

}  // namespace eff::gating

namespace eff {
std::unique_ptr<Kernel> make_gated_conv(const Node& node, const Graph& graph) {
  return std::make_unique<gating::GatedConvKernel>(node, graph);
}
}  // namespace eff
