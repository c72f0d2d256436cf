// The DeftLayer kernel (registered in engine/ops/registry.cpp) and the im2row it runs on.
#include "deft/deft_layer.h"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <numeric>

#include "core/error.h"
#include "deft/conv_amx.h"
#include "deft/conv_small.h"
#include "deft/gemm.h"
#include "deft/int8_direct_conv.h"
#include "deft/int8_layer.h"
#include "deft/int8_small_conv.h"
#include "engine/blocked_layout.h"
#include "engine/kernel.h"
#include "graph/passes.h"

namespace eff::deft {

void im2row(const float* x, const ConvShape& s, const std::vector<int32_t>& synapses, int64_t p0, int64_t count,
            float* out, int64_t ldo) {
  const int64_t taps = s.kh * s.kw;
  struct Tap {
    int64_t channel_offset, dy, dx;
  };
  std::vector<Tap> taps_of(synapses.size());
  for (size_t q = 0; q < synapses.size(); ++q) {
    const int64_t k = synapses[q], c = k / taps, t = k % taps;
    taps_of[q] = {c * s.h * s.w, (t / s.kw) * s.dh - s.pad_top, (t % s.kw) * s.dw - s.pad_left};
  }
  for (int64_t r = 0; r < count; ++r) {
    const int64_t p = p0 + r, oy = p / s.ow, ox = p % s.ow;
    const int64_t y0 = oy * s.sh, x0 = ox * s.sw;
    float* row = out + r * ldo;
    for (size_t q = 0; q < taps_of.size(); ++q) {
      const Tap& t = taps_of[q];
      const int64_t iy = y0 + t.dy, ix = x0 + t.dx;
      row[q] = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w ? x[t.channel_offset + iy * s.w + ix] : 0.f;
    }
  }
}

void im2col(const float* x, const ConvShape& s, const std::vector<int32_t>& synapses, float* out) {
  const int64_t taps = s.kh * s.kw, pixels = s.pixels();
  for (size_t q = 0; q < synapses.size(); ++q) {
    const int64_t k = synapses[q], c = k / taps, t = k % taps;
    const int64_t dy = (t / s.kw) * s.dh - s.pad_top, dx = (t % s.kw) * s.dw - s.pad_left;
    const float* plane = x + c * s.h * s.w;
    float* row = out + static_cast<int64_t>(q) * pixels;
    // Output columns whose input column lies inside the image: [ox0, ox1).
    int64_t ox0 = 0, ox1 = s.ow;
    while (ox0 < s.ow && ox0 * s.sw + dx < 0) ++ox0;
    while (ox1 > ox0 && (ox1 - 1) * s.sw + dx >= s.w) --ox1;
    for (int64_t oy = 0; oy < s.oh; ++oy) {
      float* dst = row + oy * s.ow;
      const int64_t iy = oy * s.sh + dy;
      if (iy < 0 || iy >= s.h) {
        std::fill(dst, dst + s.ow, 0.f);
        continue;
      }
      const float* src = plane + iy * s.w + dx;
      std::fill(dst, dst + ox0, 0.f);
      if (s.sw == 1) {
        std::copy(src + ox0, src + ox1, dst + ox0);
      } else {
        for (int64_t ox = ox0; ox < ox1; ++ox) dst[ox] = src[ox * s.sw];
      }
      std::fill(dst + ox1, dst + s.ow, 0.f);
    }
  }
}

namespace {

class DeftPairKernel;

class DeftLayerKernel final : public Kernel {
  friend class DeftPairKernel;

 public:
  DeftLayerKernel(const Node& node, const Graph& graph) {
    const std::string where = graph.where(node);
    conv_ = node.attr_string("kind", "") == "conv";
    if (!conv_ && node.attr_string("kind", "") != "fc") fail<ModelError>("{}: kind must be conv or fc", where);
    Format f;
    if (!parse_format(node.attr_string("format", ""), f)) fail<ModelError>("{}: unknown format", where);
    if (!graph.is_constant(node.input(1)) || !graph.is_constant(node.input(2)))
      fail<ModelError>("{}: weights and bias must be constants", where);
    const Tensor& w = graph.constant(node.input(1));
    const Tensor& b = graph.constant(node.input(2));
    if (w.shape().size() != 2 || w.dtype() != DType::kFloat32)
      fail<ModelError>("{}: weights must be M x K fp32", where);
    m_ = w.shape()[0];
    depth_ = node.attr_int("depth", w.shape()[1]);
    const auto syn = node.attr_ints("synapses");
    for (int64_t k : syn) synapses_.push_back(static_cast<int32_t>(k));
    if (synapses_.empty()) {
      synapses_.resize(static_cast<size_t>(w.shape()[1]));
      std::iota(synapses_.begin(), synapses_.end(), 0);
    }
    if (static_cast<int64_t>(synapses_.size()) != w.shape()[1] ||
        std::any_of(synapses_.begin(), synapses_.end(), [&](int32_t k) { return k < 0 || k >= depth_; }))
      fail<ModelError>("{}: synapses do not match the weights", where);
    identity_ = static_cast<int64_t>(synapses_.size()) == depth_;
    for (int64_t q = 0; identity_ && q < depth_; ++q) identity_ = synapses_[q] == q;
    if (b.numel() != m_) fail<ModelError>("{}: bias must have {} values", where, m_);
    bias_.assign(b.data<float>(), b.data<float>() + m_);
    relu_ = node.attr_string("activation", "") == "Relu";
    if (f == Format::kInt8) {
      init_int8(node, where, w);
      return;
    }
    Fp8Spec spec{static_cast<int>(node.attr_int("fp8_exp_bits", 4)), static_cast<int>(node.attr_int("fp8_bias", 7))};
    if (spec.exp_bits < 1 || spec.exp_bits > 7) fail<ModelError>("{}: fp8_exp_bits must be 1..7", where);
    packed_ = pack_weights(f, w.data<float>(), m_, w.shape()[1], w.shape()[1], f == Format::kFp8 ? &spec : nullptr);
    max_threads_ = node.attr_int("threads", 0);
    if (max_threads_ < 0 || max_threads_ > 4096) fail<ModelError>("{}: threads must be 0 (any) .. 4096", where);
    // A fused residual Add (deft_model.cpp): input 3 is added after the bias, before the Relu.
    if (node.inputs.size() != 3 && node.inputs.size() != 4)
      fail<ModelError>("{}: needs 3 inputs (X, W, bias) or 4 (and a residual)", where);
    residual_ = node.inputs.size() == 4;
    if (residual_ && !conv_) fail<ModelError>("{}: a residual input needs kind conv", where);
    if (conv_) read_conv_attrs(node, where);
    // bf16dot convs run on the tile unit where there is one: the same operands (Deft-16 weights,
    // bf16 activations), a direct conv instead of im2col + vdpbf16ps.
    std::string isa = isa_name(isa_for(f));
    ConvShape fits = shape_;
    fits.c = conv_ ? depth_ / (shape_.kh * shape_.kw) : 0;
    if (conv_ && small_conv_fits(fits)) {
      // Few input channels (first layers): a direct conv vectorised over pixels, any format.
      small_ = small_pack_conv(packed_, synapses_, shape_.kh, shape_.kw);
      use_small_ = true;
      small_isa_ = best_isa();
      isa = "direct-" + isa_name(small_isa_);
    } else if (pool_) {
      fail<ModelError>("{}: a fused MaxPool needs a stride-1 conv of at most {} input channels", where,
                       kSmallConvChannels);
    } else if (conv_ && f == Format::kBf16Dot && amx_conv_fits(shape_) && amx_available()) {
      amx_ = amx_pack_conv(w.data<float>(), m_, synapses_, depth_ / (shape_.kh * shape_.kw), shape_.kh, shape_.kw);
      use_amx_ = true;
      isa = "amx-bf16";
    }
    impl_ = "deft:" + format_name(f) + ":" + isa + (identity_ ? "" : ":sve") + (pool_ ? ":maxpool" : "") +
            (residual_ ? ":residual" : "");
  }

  void run(OpContext& ctx) override {
    if (int8_) {
      run_int8(ctx);
      return;
    }
    const Tensor& x = ctx.input(0);
    const Tensor* r = residual_ ? &ctx.input(3) : nullptr;
    Tensor& y = ctx.output(0, DType::kFloat32, output_shape(x, r, ctx.where()));
    compute(x, r, y, threads_for(ctx.threads()));
  }

  // The run's threads under the plan's cap.
  int threads_for(int run_threads) const {
    return max_threads_ > 0 && (run_threads <= 0 || run_threads > max_threads_) ? static_cast<int>(max_threads_)
                                                                                : run_threads;
  }

  // The output's shape for input x (and residual r); ShapeError naming `where` if they do not fit.
  Shape output_shape(const Tensor& x, const Tensor* r, const std::string& where) const {
    if (!conv_) {
      // N x depth, or N x C x H x W read as N rows (a Flatten absorbed by apply_deft).
      int64_t row = x.shape().size() >= 2 ? 1 : 0;
      for (size_t d = 1; d < x.shape().size(); ++d) row *= x.shape()[d];
      if (row != depth_) fail<ShapeError>("{}: input must be N x {}", where, depth_);
      return {x.shape()[0], m_};
    }
    if (x.shape().size() != 4 || x.shape()[1] * shape_.kh * shape_.kw != depth_)
      fail<ShapeError>("{}: input must be N x C x H x W with C * Kh * Kw = {}", where, depth_);
    const ConvShape s = conv_shape(x);
    if (s.oh <= 0 || s.ow <= 0) fail<ShapeError>("{}: the kernel is larger than the padded input", where);
    const int64_t n = x.shape()[0];
    if (r && (r->dtype() != DType::kFloat32 || r->shape() != Shape{n, m_, s.oh, s.ow}))
      fail<ShapeError>("{}: the residual input must be float32 {} x {} x {} x {}, as the output", where, n, m_, s.oh,
                       s.ow);
    if (pool_ && (s.oh < 2 || s.ow < 2)) fail<ShapeError>("{}: the conv output is smaller than its 2 x 2 pool", where);
    return {n, m_, pool_ ? s.oh / 2 : s.oh, pool_ ? s.ow / 2 : s.ow};
  }

  // y: allocated with output_shape(x, r).
  void compute(const Tensor& x, const Tensor* r, Tensor& y, int threads) {
    const Epilogue e{bias_.data(), relu_};
    // Kernels without a residual epilogue: bias only, then add_residual adds it and the Relu, in
    // the order the AMX epilogue and the unfused Add and Relu nodes use.
    const Epilogue unfused{bias_.data(), relu_ && !residual_};
    const int64_t kept = static_cast<int64_t>(synapses_.size());
    const int64_t n = x.shape()[0];
    if (!conv_) {
      if (identity_) {
        gemm(packed_, x.data<float>(), n, depth_, y.data<float>(), m_, e, Isa::kAuto, threads);
      } else {
        // The kept inputs (the input tensor may be read by other nodes: not swapped in place).
        gemm_columns(packed_, x.data<float>(), n, depth_, synapses_.data(), y.data<float>(), m_, rows_, e, Isa::kAuto,
                     threads);
      }
      return;
    }
    const ConvShape s = conv_shape(x);
    const int64_t pixels = s.pixels();
    // The direct and AMX convs add the shortcut in their epilogue (a residual never comes with a
    // fused pool: fuse_residuals skips those).
    const Epilogue fused{bias_.data(), relu_, r ? r->data<float>() : nullptr};
    if (use_small_) {
      small_conv(small_, x.data<float>(), n, s, pad_bottom_, pad_right_, fused, y.data<float>(), small_scratch_,
                 small_isa_, threads, pool_);
      return;
    }
    if (use_amx_) {
      amx_conv(amx_, x.data<float>(), n, s, pad_bottom_, pad_right_, fused, y.data<float>(), amx_scratch_, threads);
      return;
    }
    rows_.resize(static_cast<size_t>(pixels * kept));
    tile_.resize(static_cast<size_t>(pixels * m_));
    for (int64_t img = 0; img < n; ++img) {
      im2col(x.data<float>() + img * s.c * s.h * s.w, s, synapses_, rows_.data());
      gemm_strided(packed_, rows_.data(), pixels, 1, pixels, tile_.data(), m_, unfused, Isa::kAuto, threads);
      float* out = y.data<float>() + img * m_ * pixels;
      for (int64_t p = 0; p < pixels; ++p)
        for (int64_t i = 0; i < m_; ++i) out[i * pixels + p] = tile_[p * m_ + i];
    }
    add_residual(r, y);
  }

  std::string impl() const override {
    if (!int8_) return impl_;
    const std::string kernel = use_small_int8_
                                   ? std::string(int8_small_conv_has_vnni() ? "direct-vnni" : "direct-scalar")
                               : use_direct_int8_ ? std::string("direct-vnni-channels")
                               : conv_            ? int8_conv_.impl()
                                                  : int8_fc_.impl();
    return "deft:int8:" + kernel + (pool_ ? ":maxpool" : "") + (residual_ ? ":residual" : "") +
           (blocked_in_ ? ":blocked-in" : "") + (blocked_out_ ? ":blocked-out" : "");
  }

 private:
  // A conv's geometry and its fused pool (residual_ already read: the two do not go together).
  void read_conv_attrs(const Node& node, const std::string& where) {
    const auto k = node.attr_ints("kernel_shape"), st = node.attr_ints("strides", {1, 1});
    const auto pads = node.attr_ints("pads", {0, 0, 0, 0}), dil = node.attr_ints("dilations", {1, 1});
    if (k.size() != 2 || st.size() != 2 || pads.size() != 4 || dil.size() != 2)
      fail<ModelError>("{}: a 2-D conv needs kernel_shape, strides, pads and dilations", where);
    shape_.kh = k[0], shape_.kw = k[1], shape_.sh = st[0], shape_.sw = st[1];
    shape_.pad_top = pads[0], shape_.pad_left = pads[1], shape_.dh = dil[0], shape_.dw = dil[1];
    pad_bottom_ = pads[2], pad_right_ = pads[3];
    const auto pool = node.attr_ints("pool");
    if (!pool.empty() && pool != std::vector<int64_t>{2, 2})
      fail<ModelError>("{}: pool must be 2, 2 (a fused 2 x 2 MaxPool) or absent", where);
    pool_ = !pool.empty();
    if (pool_ && residual_) fail<ModelError>("{}: a fused MaxPool and a residual input do not go together", where);
  }

  // An int8 layer (deft/int8_layer.h): no synapse vector elimination; a conv may take a fused 2 x 2
  // MaxPool or
  // a residual block's shortcut (input 3, laid out as its output) and reads and writes the
  // channel-blocked layout where the layout pass says so.
  void init_int8(const Node& node, const std::string& where, const Tensor& w) {
    if (!identity_) fail<ModelError>("{}: int8 runs without synapse vector elimination (no synapses attribute)", where);
    const Int8Input in{node.attr_float("int8_scale", 0.f), static_cast<int32_t>(node.attr_int("int8_zero", -1))};
    if (!valid_int8_input(in))
      fail<ModelError>("{}: int8_scale ({}) must be a positive finite number and int8_zero ({}) 0..255", where,
                       in.scale, in.zero);
    if (node.inputs.size() != 3 && !(conv_ && node.inputs.size() == 4))
      fail<ModelError>("{}: an int8 layer takes 3 inputs (X, W, bias), a conv 4 with a residual", where);
    residual_ = node.inputs.size() == 4;
    max_threads_ = node.attr_int("threads", 0);
    if (max_threads_ < 0 || max_threads_ > 4096) fail<ModelError>("{}: threads must be 0 (any) .. 4096", where);
    if (conv_) {
      read_conv_attrs(node, where);
      if (depth_ % (shape_.kh * shape_.kw) != 0) fail<ModelError>("{}: depth is not C x kernel_shape", where);
      ConvShape fits = shape_;
      fits.c = depth_ / (shape_.kh * shape_.kw);
      // Few input channels: the direct VNNI conv (deft/int8_small_conv.h).
      use_small_int8_ = int8_small_conv_fits(fits) && !residual_;
      // The others, on a CPU with VNNI and no AMX-INT8: our conv over channel groups
      // (deft/int8_direct_conv.h); elsewhere oneDNN's.
      use_direct_int8_ = !use_small_int8_ && int8_direct_conv_fits(fits) && int8_direct_conv_preferred();
    }
    blocked_in_ = reads_blocked(node);
    blocked_out_ = writes_blocked(node);
    if ((blocked_in_ || blocked_out_) && !conv_)
      fail<ModelError>("{}: only an int8 conv reads or writes blocked", where);
    try {
      int8_ = std::make_unique<Int8Layer>(make_int8_layer(w.data<float>(), m_, depth_, bias_.data(), in, relu_));
      if (use_small_int8_)
        small_int8_ = int8_small_pack(*int8_, depth_ / (shape_.kh * shape_.kw), shape_.kh, shape_.kw);
      if (use_direct_int8_)
        direct_int8_ = int8_direct_pack(*int8_, depth_ / (shape_.kh * shape_.kw), shape_.kh, shape_.kw);
    } catch (const ShapeError& e) {
      fail<ModelError>("{}: {}", where, e.what());
    }
  }

  bool direct_int8() const { return use_direct_int8_; }

  // The int8 layer's output `out` of ctx for input x (output 0 alone; 0 or 1 in a pair), in its layout.
  Tensor int8_output(OpContext& ctx, int out, const Tensor& x, const Tensor* r, const std::string& where) const {
    const Shape shape = output_shape(x, r, where);
    return blocked_out_ ? blocked_output(ctx, out, shape) : ctx.output(out, DType::kFloat32, shape);
  }

  // This layer on the int8 direct conv, for input x and output y (DeftPairKernel runs two in one call).
  Int8DirectConvCall direct_int8_call(const Tensor& x, Tensor& y) const {
    return {int8_.get(),
            &direct_int8_,
            conv_shape(x),
            pad_bottom_,
            pad_right_,
            y.data<float>(),
            blocked_out_ ? ActLayout::kBlocked : ActLayout::kPlain,
            nullptr,
            pool_};
  }
  ActLayout input_layout() const { return blocked_in_ ? ActLayout::kBlocked : ActLayout::kPlain; }
  std::vector<uint8_t>& int8_scratch() { return small_int8_planes_; }

  void run_int8(OpContext& ctx, int out = 0, const std::string& where = "") {
    const Tensor& x = ctx.input(0);
    const Tensor* r = residual_ ? &ctx.input(3) : nullptr;
    Tensor y = int8_output(ctx, out, x, r, where.empty() ? ctx.where() : where);
    // oneDNN runs on the OpenMP thread count: the plan's cap applies to it too.
    const int threads = threads_for(ctx.threads()), before = omp_get_max_threads();
    if (threads > 0 && threads != before) omp_set_num_threads(threads);
    try {
      if (use_small_int8_) {
        int8_small_conv(*int8_, small_int8_, x.data<float>(), blocked_in_ ? ActLayout::kBlocked : ActLayout::kPlain,
                        x.shape()[0], conv_shape(x), pad_bottom_, pad_right_, y.data<float>(),
                        blocked_out_ ? ActLayout::kBlocked : ActLayout::kPlain, threads, pool_, small_int8_planes_);
      } else if (use_direct_int8_) {
        Int8DirectConvCall call = direct_int8_call(x, y);
        call.residual = r ? r->data<float>() : nullptr;
        int8_direct_convs(&call, 1, x.data<float>(), input_layout(), x.shape()[0], threads, small_int8_planes_);
      } else if (conv_) {
        int8_conv_.run(ctx.dnnl(), *int8_, x.data<float>(), blocked_in_ ? ActLayout::kBlocked : ActLayout::kPlain,
                       x.shape()[0], conv_shape(x), y.data<float>(),
                       blocked_out_ ? ActLayout::kBlocked : ActLayout::kPlain, threads, r ? r->data<float>() : nullptr,
                       pool_);
      } else {
        int8_fc_.run(ctx.dnnl(), *int8_, x.data<float>(), x.shape()[0], y.data<float>(), threads);
      }
    } catch (...) {
      if (threads > 0 && threads != before) omp_set_num_threads(before);
      throw;
    }
    if (threads > 0 && threads != before) omp_set_num_threads(before);
  }

  ConvShape conv_shape(const Tensor& x) const {
    ConvShape s = shape_;
    s.c = x.shape()[1], s.h = x.shape()[2], s.w = x.shape()[3];
    s.oh = (s.h + s.pad_top + pad_bottom_ - (s.kh - 1) * s.dh - 1) / s.sh + 1;
    s.ow = (s.w + s.pad_left + pad_right_ - (s.kw - 1) * s.dw - 1) / s.sw + 1;
    return s;
  }

  void add_residual(const Tensor* r, Tensor& y) const {
    if (!r) return;
    const float* a = r->data<float>();
    float* out = y.data<float>();
    const int64_t count = y.numel();
    for (int64_t i = 0; i < count; ++i) {
      const float v = out[i] + a[i];
      out[i] = relu_ ? (v > 0.f ? v : 0.f) : v;  // NaN becomes 0, as the vector max does
    }
  }

  bool conv_ = false, relu_ = false, identity_ = true, use_amx_ = false, use_small_ = false, pool_ = false,
       residual_ = false;
  int64_t m_ = 0, depth_ = 0, pad_bottom_ = 0, pad_right_ = 0, max_threads_ = 0;
  ConvShape shape_;
  std::vector<int32_t> synapses_;
  std::vector<float> bias_, rows_, tile_;
  PackedWeights packed_;
  AmxConvWeights amx_;
  SmallConvWeights small_;
  SmallConvScratch small_scratch_;
  Isa small_isa_ = Isa::kPortable;
  AmxConvScratch amx_scratch_;
  std::string impl_;
  std::unique_ptr<Int8Layer> int8_;
  Int8ConvKernel int8_conv_;
  bool use_small_int8_ = false, use_direct_int8_ = false;
  Int8SmallConvWeights small_int8_;
  Int8DirectConvWeights direct_int8_;
  std::vector<uint8_t> small_int8_planes_;
  Int8FcKernel int8_fc_;
  bool blocked_in_ = false, blocked_out_ = false;
};

// Two DeftLayers that read the same input (apply_deft's pair_siblings: resnet's stage conv1 and its
// 1x1 stride-2 shortcut) as one node: inputs X, W, bias, W', bias'; outputs Y, Y'; the second
// layer's attributes prefixed "pair." (its name in "pair.name"). When the run has a team and both
// layers are capped at one thread (optimize's choice where a team does not pay), each runs on a
// core of its own at the same time; otherwise one after the other, each as it would alone. Either
// way each output is what that layer computes alone, bit for bit.
class DeftPairKernel final : public Kernel {
 public:
  DeftPairKernel(const Node& node, const Graph& graph) {
    const std::string where = graph.where(node);
    if (node.inputs.size() != 5 || node.outputs.size() != 2 || node.attr_string("pair.name", "").empty())
      fail<ModelError>("{}: a DeftLayer pair needs 5 inputs, 2 outputs and pair.name", where);
    Node first = node, second;
    first.inputs.resize(3);
    first.outputs.resize(1);
    second.op = node.op;
    second.name = node.attr_string("pair.name", "");
    second.inputs = {node.inputs[0], node.inputs[3], node.inputs[4]};
    second.outputs = {node.outputs[1]};
    for (const auto& [key, attr] : node.attrs) {
      if (key.rfind("pair.", 0) != 0) continue;
      first.attrs.erase(key);
      if (key != "pair.name") second.attrs[key.substr(5)] = attr;
    }
    // The layout pass blocks a pair's input and both its outputs, or none of them.
    for (const char* layout : {kBlockedInputAttr, kBlockedOutputAttr})
      if (node.has_attr(layout)) second.attrs[layout] = node.attrs.at(layout);
    first_ = std::make_unique<DeftLayerKernel>(first, graph);
    second_ = std::make_unique<DeftLayerKernel>(second, graph);
    where_second_ = graph.where(second);
    impl_ = "pair(" + first_->impl() + ", " + second_->impl() + ")";
  }

  void run(OpContext& ctx) override {
    if (first_->int8_) {  // pair_siblings pairs int8 layers only with int8 layers of the same quantization
      run_int8(ctx);
      return;
    }
    const Tensor& x = ctx.input(0);
    Tensor& y0 = ctx.output(0, DType::kFloat32, first_->output_shape(x, nullptr, ctx.where()));
    Tensor& y1 = ctx.output(1, DType::kFloat32, second_->output_shape(x, nullptr, where_second_));
    const int t0 = first_->threads_for(ctx.threads()), t1 = second_->threads_for(ctx.threads());
    if (ctx.threads() == 1 || t0 != 1 || t1 != 1) {
      first_->compute(x, nullptr, y0, t0);
      second_->compute(x, nullptr, y1, t1);
      return;
    }
    std::exception_ptr failed[2];
#pragma omp parallel num_threads(2)
    {
      // A team of one (nested region, dynamic threads) runs both.
      const int me = omp_get_thread_num(), team = omp_get_num_threads();
      try {
        if (me == 0) first_->compute(x, nullptr, y0, 1);
        if (me == 1 || team == 1) second_->compute(x, nullptr, y1, 1);
      } catch (...) {
        failed[me] = std::current_exception();
      }
    }
    for (const std::exception_ptr& e : failed)
      if (e) std::rethrow_exception(e);
  }

  std::string impl() const override {
    return impl_;
  }

 private:
  // Both on the int8 direct conv: one call, the input quantized once (resnet at batch 1 on two
  // threads: a stage's shortcut 3.3 us alone). Otherwise one after the other.
  void run_int8(OpContext& ctx) {
    if (!first_->direct_int8() || !second_->direct_int8()) {
      first_->run_int8(ctx, 0);
      second_->run_int8(ctx, 1, where_second_);
      return;
    }
    const Tensor& x = ctx.input(0);
    Tensor y0 = first_->int8_output(ctx, 0, x, nullptr, ctx.where());
    Tensor y1 = second_->int8_output(ctx, 1, x, nullptr, where_second_);
    const Int8DirectConvCall calls[2] = {first_->direct_int8_call(x, y0), second_->direct_int8_call(x, y1)};
    int8_direct_convs(calls, 2, x.data<float>(), first_->input_layout(), x.shape()[0],
                      first_->threads_for(ctx.threads()), first_->int8_scratch());
  }

  std::unique_ptr<DeftLayerKernel> first_, second_;
  std::string where_second_, impl_;
};

}  // namespace

}  // namespace eff::deft

namespace eff {
std::unique_ptr<Kernel> make_deft_layer(const Node& node, const Graph& graph) {
  if (node.has_attr("pair.name")) return std::make_unique<deft::DeftPairKernel>(node, graph);
  return std::make_unique<deft::DeftLayerKernel>(node, graph);
}
}  // namespace eff
