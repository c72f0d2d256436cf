// Conv and ConvTranspose (1-D, 2-D and 3-D) on oneDNN. One plan (primitive, memory objects,
// argument map) per input shape and thread count, created on first use and kept; constant weights
// are reordered once into the layout the primitive prefers and kept. The primitive works on the
// channel-blocked layout (16 channels innermost) that oneDNN's fastest JIT kernels use, which
// beats the im2col kernels oneDNN offers for plain NCHW. Between two convs activations stay
// blocked where the graph pass allowed it (attributes blocked_input / blocked_output); elsewhere
// they are plain NCHW, with a reorder on the way in and out. 3x3 stride-1 layers use
// Winograd when they have 64+ channels or small maps. A fused Relu, Clip, HardSwish or Swish
// (attribute activation) runs as an eltwise post-op. A fused residual Add (attribute
// residual_add, the shortcut as input 3) runs as a sum post-op before it: the destination is
// preloaded with the shortcut, or is the shortcut's own buffer when no one reads it afterwards.
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <unordered_map>

#include "engine/blocked_layout.h"
#include "engine/buffer_pool.h"
#include "engine/ops/conv_transpose_direct.h"
#include "engine/ops/dnnl_common.h"
#include "graph/passes.h"

namespace eff {

namespace {
// Whether oneDNN takes its F(2x2, 3x3) Winograd kernel for `d` both at one thread and at as many
// threads as the machine has (oneDNN decides by the thread count it sees when the primitive is made).
bool wino_2x3_at_any_thread_count(const dnnl::convolution_forward::desc& d, const dnnl::primitive_attr& attr,
                                  const dnnl::engine& engine) {
  const int saved = omp_get_max_threads();
  bool offered = true;
  for (const int threads : {1, omp_get_num_procs()}) {
    omp_set_num_threads(threads);
    try {
      const dnnl::convolution_forward::primitive_desc pd(d, attr, engine);
      offered = offered && std::string(pd.impl_info_str()).find("wino_2x3") != std::string::npos;
    } catch (const dnnl::error&) {
      offered = false;
    }
  }
  omp_set_num_threads(saved);
  return offered;
}

using namespace ops;
using dnnl::memory;

// Conv and ConvTranspose plans kept per kernel; models see one or two input shapes (batch sizes),
// so a short list searched linearly is enough, and the bound keeps memory use finite when a
// caller keeps changing shapes.
constexpr size_t kMaxPlans = 8;

class ConvKernel final : public Kernel {
 public:
  ConvKernel(const Node& node, const Graph& graph, bool transpose) : transpose_(transpose) {
    const std::string where = graph.where(node);
    const int n_in = node.num_inputs();
    residual_ = node.attr_int(kResidualAddAttr, 0) != 0;
    if (residual_ && (transpose_ || n_in != 4 || node.input(3) == kNoValue)) {
      fail("internal error: {}: a fused residual Add needs a Conv with the shortcut as input 3", where);
    }
    if (!residual_ && (n_in < 2 || n_in > 3)) fail<ModelError>("{}: expects 2 or 3 inputs, got {}", where, n_in);
    for (int i = 0; i < n_in; ++i) require_f32_model(node, graph, i);
    group_ = node.attr_int("group", 1);
    if (group_ < 1) fail<ModelError>("{}: group={} must be positive", where, group_);
    activation_ = fused_activation(node, graph);
    blocked_in_ = node.attr_int(kBlockedInputAttr, 0) != 0;
    blocked_out_ = node.attr_int(kBlockedOutputAttr, 0) != 0;
    // Inputs holding NaN/Inf: no Winograd (its tiles spread NaN; graph/passes.h mark_non_finite_orders).
    direct_only_ = node.attr_int(kDirectConvAttr, 0) != 0;
    if (transpose_ && blocked_in_ != blocked_out_) {
      fail("internal error: {}: a blocked ConvTranspose reads and writes the blocked layout", where);
    }

    int spatial_hint = -1;
    if (graph.is_constant(node.inputs[1])) {
      const Tensor& w = graph.constant(node.inputs[1]);
      if (w.dtype() != DType::kFloat32) {
        fail<UnsupportedError>("{}: weights have type {}, only float32 is supported", where, dtype_name(w.dtype()));
      }
      if (w.rank() < 3 || w.rank() > 5) {
        fail<UnsupportedError>("{}: weights of rank {} (only 1-D, 2-D and 3-D convolutions are supported)", where,
                               w.rank());
      }
      spatial_hint = w.rank() - 2;
      // Dimension 0 is the output channels of Conv and the input channels of ConvTranspose.
      if (w.dim(0) % group_ != 0) {
        fail<ModelError>("{}: group={} does not divide {} {} channels", where, group_, w.dim(0),
                         transpose_ ? "input" : "output");
      }
      weights_.set_source(w);
    } else {
      const Value& x = graph.value(node.inputs[0]);
      if (x.has_shape && x.shape.size() >= 3) spatial_hint = static_cast<int>(x.shape.size()) - 2;
    }
    window_ = parse_window(node, graph, spatial_hint);
    if (weights_.defined() && !window_.kernel.empty()) {
      const Tensor& w = weights_.source();
      for (int i = 0; i < w.rank() - 2; ++i) {
        if (static_cast<int>(window_.kernel.size()) != w.rank() - 2 || window_.kernel[i] != w.dim(i + 2)) {
          fail<ModelError>("{}: kernel_shape {} disagrees with weights of shape {}", where,
                           shape_str(Shape(window_.kernel.begin(), window_.kernel.end())), shape_str(w.shape()));
        }
      }
    }

    if (transpose_) {
      output_padding_ = node.attr_ints("output_padding");
      output_shape_ = node.attr_ints("output_shape");
      for (int64_t p : output_padding_) {
        if (p < 0 || p > (int64_t{1} << 31)) fail<ModelError>("{}: output_padding {} is out of range", where, p);
      }
      for (int64_t d : output_shape_) {
        if (d < 0 || d > (int64_t{1} << 31)) fail<ModelError>("{}: output_shape value {} is out of range", where, d);
      }
    } else if (node.has_attr("output_padding") || node.has_attr("output_shape")) {
      fail<ModelError>("{}: output_padding/output_shape are ConvTranspose attributes", where);
    }
  }

  void run(OpContext& ctx) override {
    const Tensor& x = f32_input(ctx, 0);
    const Tensor& w = f32_input(ctx, 1);
    const Tensor* b = ctx.has_input(2) ? &f32_input(ctx, 2) : nullptr;
    Plan& plan = plan_for(ctx, x, w, b != nullptr);
    const Tensor* shortcut = residual_ ? &f32_input(ctx, 3) : nullptr;
    if (shortcut && shortcut->shape() != plan.y_shape) {
      fail<ShapeError>("{}: residual operand of shape {} does not match the convolution's output {}", ctx.where(),
                       shape_str(shortcut->shape()), shape_str(plan.y_shape));
    }
    // The sum post-op adds to what the destination holds: write into the shortcut's buffer when
    // the executor says nothing reads it later and no view shares it.
    const bool in_place =
        shortcut && !plan.dst_reorder && ctx.input_reusable(3) && shortcut->storage().use_count() == 1;
    if (in_place) ctx.set_output(0, *shortcut);
    Tensor y = in_place       ? *shortcut
               : blocked_out_ ? blocked_output(ctx, 0, plan.y_shape)
                              : ctx.output(0, DType::kFloat32, plan.y_shape);
    if (y.numel() == 0) return;
    if (shortcut && plan.x_empty_fill) {
      fail<UnsupportedError>("{}: a residual Add fused into a convolution without input channels", ctx.where());
    }
    if (plan.x_empty_fill) {
      if (blocked_out_) {
        Tensor plain(DType::kFloat32, y.shape());
        fill_bias_only(plain, b);
        const Tensor blocked = blocked_copy(plain, pool_of_one_);
        std::copy_n(blocked.data<float>(), shape_numel(blocked_storage_shape(y.shape())), y.data<float>());
      } else {
        fill_bias_only(y, b);
      }
      return;
    }
    if (plan.patches) {
      // The layout pass blocks a ConvTranspose only in and out together, and only where its
      // kernel equals its stride (graph/layout_pass.cpp), i.e. here.
      (blocked_in_ ? conv_transpose_patches_blocked : conv_transpose_patches)(
          x.data<float>(), w.data<float>(), b ? b->data<float>() : nullptr, y.data<float>(), plan.patch_geometry,
          activation_);
      return;
    }
    plan.src.set_data_handle(mutable_data(x));
    plan.dst.set_data_handle(plan.partial.defined() ? plan.partial.raw() : y.raw());
    if (b) plan.bias.set_data_handle(mutable_data(*b));
    dnnl::stream& stream = ctx.dnnl().stream;
    if (!plan.weights_prepacked) {
      plan.wei_user.set_data_handle(mutable_data(w));
      if (plan.wei_reorder) plan.wei_reorder.execute(stream, plan.wei_user, plan.wei);
    }
    if (plan.src_reorder) plan.src_reorder.execute(stream, plan.src, plan.src_inner);
    if (shortcut && !in_place) {
      if (plan.dst_reorder) {  // into the primitive's own destination layout
        plan.shortcut.set_data_handle(mutable_data(*shortcut));
        plan.shortcut_reorder.execute(stream, plan.shortcut, plan.dst_inner);
      } else {  // same layout (blocked storage includes the padding channels)
        std::memcpy(y.raw(), shortcut->raw(), plan.dst.get_desc().get_size());
      }
    }
    bind_scratchpad(plan.args, ctx.dnnl());
    plan.prim.execute(stream, plan.args);
    if (plan.dst_reorder) plan.dst_reorder.execute(stream, plan.dst_inner, plan.dst);
    stream.wait();
    if (plan.partial.defined()) {
      fill_bias_only(y, b);
      copy_into_corner(plan.partial, y);
    }
  }

  std::string impl() const override { return last_impl_.empty() ? "dnnl" : last_impl_; }

 private:
  struct Plan {
    Shape x_shape, w_shape;
    bool has_bias = false;
    int threads = 0;
    Shape y_shape;
    std::string impl = "dnnl";
    bool x_empty_fill = false;  // zero-sized reduction: the output is the bias alone
    bool patches = false;       // ConvTranspose with kernel = stride: conv_transpose_patches
    PatchGeometry patch_geometry;
    Tensor partial;  // ConvTranspose output computed by oneDNN when smaller than y
    dnnl::primitive prim;
    memory src, dst, bias, wei_user, wei;
    dnnl::reorder wei_reorder;
    // The primitive's own activation layouts when it prefers blocked ones, and the reorders
    // between them and the plain tensors the graph passes around.
    memory src_inner, dst_inner;
    dnnl::reorder src_reorder, dst_reorder;
    memory shortcut;  // a fused residual's operand, reordered into dst_inner when that differs
    dnnl::reorder shortcut_reorder;
    bool weights_prepacked = false;
    std::unordered_map<int, memory> args;
  };

  Plan& plan_for(OpContext& ctx, const Tensor& x, const Tensor& w, bool has_bias) {
    const int threads = current_threads();
    auto matches = [&](const Plan& p) {
      return p.threads == threads && p.has_bias == has_bias && p.x_shape == x.shape() && p.w_shape == w.shape();
    };
    if (last_ && matches(*last_)) return *last_;
    for (auto& p : plans_) {
      if (matches(*p)) {
        last_ = p.get();
        last_impl_ = p->impl;
        return *p;
      }
    }
    auto plan = make_plan(ctx, x, w, has_bias, threads);
    if (plans_.size() >= kMaxPlans) plans_.erase(plans_.begin());
    plans_.push_back(std::move(plan));
    last_ = plans_.back().get();
    last_impl_ = last_->impl;
    return *last_;
  }

  // Output-side spatial geometry of ConvTranspose: output size and begin/end pads (end pads may be
  // negative: output positions past the full result, covered by bias only, as output_padding).
  // `computed` is how much of the output oneDNN produces: it accepts end padding down to
  // -(stride - 1) only, so positions further past the full result are filled with the bias here.
  void transpose_geometry(const dnnl_dims& in, const dnnl_dims& kernel, const OpContext& ctx, dnnl_dims& strides,
                          dnnl_dims& dilations, dnnl_dims& pad_begin, dnnl_dims& pad_end, dnnl_dims& out,
                          dnnl_dims& computed) const {
    const size_t n = in.size();
    strides.assign(n, 1);
    dilations.assign(n, 1);
    pad_begin.assign(n, 0);
    pad_end.assign(n, 0);
    out.assign(n, 0);
    computed.assign(n, 0);
    const bool has_out_shape = !output_shape_.empty();
    if (has_out_shape && output_shape_.size() != n && output_shape_.size() != n + 2) {
      fail<ShapeError>("{}: output_shape has {} values for {} spatial dimensions", ctx.where(), output_shape_.size(),
                       n);
    }
    if (!output_padding_.empty() && output_padding_.size() != n) {
      fail<ShapeError>("{}: output_padding has {} values for {} spatial dimensions", ctx.where(),
                       output_padding_.size(), n);
    }
    for (size_t i = 0; i < n; ++i) {
      if (!window_.strides.empty()) strides[i] = window_.strides[i];
      if (!window_.dilations.empty()) dilations[i] = window_.dilations[i];
      const int64_t s = strides[i];
      const int64_t extent = (kernel[i] - 1) * dilations[i] + 1;
      const int64_t adj = output_padding_.empty() ? 0 : output_padding_[i];
      if (in[i] - 1 > (int64_t{1} << 40) / s) {
        fail<ShapeError>("{}: output size along spatial axis {} is too large", ctx.where(), i);
      }
      const int64_t full = s * (in[i] - 1) + adj + extent;
      int64_t pb = 0, pe = 0, o = 0;
      const bool same = window_.auto_pad == AutoPad::kSameUpper || window_.auto_pad == AutoPad::kSameLower;
      if (has_out_shape || same) {
        o = has_out_shape ? output_shape_[output_shape_.size() - n + i] : in[i] * s;
        const int64_t total = full - o;
        if (total < 0) {
          pe = total;  // the result is shorter than asked: the tail holds bias only
        } else if (window_.auto_pad == AutoPad::kSameUpper) {
          pb = total / 2;
          pe = total - pb;
        } else {
          pe = total / 2;
          pb = total - pe;
        }
      } else if (window_.auto_pad == AutoPad::kValid) {
        o = full;
      } else {
        if (!window_.pads.empty()) {
          pb = window_.pads[i];
          pe = window_.pads[i + n];
        }
        o = full - pb - pe;
      }
      if (o <= 0) fail<ShapeError>("{}: output size {} along spatial axis {} is not positive", ctx.where(), o, i);
      // oneDNN's end padding covers output_padding as a negative pad.
      pad_begin[i] = pb;
      pad_end[i] = pe - adj;
      out[i] = o;
      computed[i] = o;
      if (pad_end[i] < -(s - 1)) {
        computed[i] = o + pad_end[i] + (s - 1);
        pad_end[i] = -(s - 1);
      }
    }
  }

  std::unique_ptr<Plan> make_plan(OpContext& ctx, const Tensor& x, const Tensor& w, bool has_bias, int threads) {
    auto plan = std::make_unique<Plan>();
    plan->x_shape = x.shape();
    plan->w_shape = w.shape();
    plan->has_bias = has_bias;
    plan->threads = threads;

    const int rank = x.rank();
    if (rank < 3 || rank > 5) {
      fail<ShapeError>("{}: input of shape {} (expected rank 3 to 5)", ctx.where(), shape_str(x.shape()));
    }
    if (w.rank() != rank) {
      fail<ShapeError>("{}: weights of shape {} do not match input of shape {}", ctx.where(), shape_str(w.shape()),
                       shape_str(x.shape()));
    }
    const int spatial = rank - 2;
    if ((!window_.strides.empty() && static_cast<int>(window_.strides.size()) != spatial) ||
        (!window_.dilations.empty() && static_cast<int>(window_.dilations.size()) != spatial) ||
        (!window_.pads.empty() && static_cast<int>(window_.pads.size()) != 2 * spatial) ||
        (!window_.kernel.empty() && static_cast<int>(window_.kernel.size()) != spatial)) {
      fail<ShapeError>("{}: window attributes do not fit a rank-{} input", ctx.where(), rank);
    }
    const int64_t n = x.dim(0), c = x.dim(1);
    int64_t m = 0;  // output channels
    if (transpose_) {
      if (w.dim(0) != c) {
        fail<ShapeError>("{}: input has {} channels but weights of shape {} expect {}", ctx.where(), c,
                         shape_str(w.shape()), w.dim(0));
      }
      if (c % group_ != 0) {
        fail<ShapeError>("{}: group={} does not divide {} input channels", ctx.where(), group_, c);
      }
      m = w.dim(1) * group_;
    } else {
      if (w.dim(1) * group_ != c) {
        fail<ShapeError>("{}: input has {} channels but weights of shape {} with group={} expect {}", ctx.where(), c,
                         shape_str(w.shape()), group_, w.dim(1) * group_);
      }
      m = w.dim(0);
      if (m % group_ != 0) {
        fail<ShapeError>("{}: group={} does not divide {} output channels", ctx.where(), group_, m);
      }
    }
    if (has_bias) {
      const Tensor& b = ctx.input(2);
      if (b.rank() != 1 || b.dim(0) != m) {
        fail<ShapeError>("{}: bias of shape {} does not match {} output channels", ctx.where(), shape_str(b.shape()),
                         m);
      }
    }
    dnnl_dims in_sp(x.shape().begin() + 2, x.shape().end());
    dnnl_dims kernel(w.shape().begin() + 2, w.shape().end());
    for (int i = 0; i < spatial; ++i) {
      if (!window_.kernel.empty() && window_.kernel[i] != kernel[i]) {
        fail<ShapeError>("{}: kernel_shape disagrees with weights of shape {}", ctx.where(), shape_str(w.shape()));
      }
    }

    dnnl_dims strides, dilations, pad_begin, pad_end, out_sp, computed_sp;
    if (transpose_) {
      transpose_geometry(in_sp, kernel, ctx, strides, dilations, pad_begin, pad_end, out_sp, computed_sp);
    } else {
      WindowGeometry g = window_geometry(window_, in_sp, kernel, ctx);
      strides = g.strides;
      dilations = g.dilations;
      pad_begin = g.pad_begin;
      pad_end = g.pad_end;
      out_sp = g.out;
      computed_sp = g.out;
    }
    plan->y_shape = {n, m};
    plan->y_shape.insert(plan->y_shape.end(), out_sp.begin(), out_sp.end());
    shape_numel(plan->y_shape);  // refuses overflowing shapes before anything is sized from them
    if (shape_numel(plan->y_shape) == 0) return plan;
    Shape dst_shape{n, m};
    dst_shape.insert(dst_shape.end(), computed_sp.begin(), computed_sp.end());
    if (dst_shape != plan->y_shape) plan->partial = Tensor(DType::kFloat32, dst_shape);
    // Nothing to accumulate (no input channels or an empty kernel): the output is the bias.
    const int64_t reduce = (transpose_ ? c / group_ : w.dim(1)) * shape_numel(Shape(kernel.begin(), kernel.end()));
    if (reduce == 0 || shape_numel(x.shape()) == 0) {
      plan->x_empty_fill = true;
      return plan;
    }
    if (transpose_ && group_ == 1 && spatial == 2 && !plan->partial.defined()) {
      bool patch = true;
      for (int i = 0; i < 2; ++i) {
        patch = patch && kernel[i] == strides[i] && dilations[i] == 1 && pad_begin[i] == 0 && pad_end[i] == 0 &&
                out_sp[i] == in_sp[i] * kernel[i];
      }
      if (patch) {
        plan->patches = true;
        plan->patch_geometry = {n, c, in_sp[0], in_sp[1], m, kernel[0], kernel[1]};
        plan->impl = "loop:conv_transpose_patches";
        return plan;
      }
    }

    // Weights as oneDNN sees them: [G,] O, I, spatial... with strides over the ONNX layout.
    const int64_t ksize = shape_numel(Shape(kernel.begin(), kernel.end()));
    dnnl_dims wdims, wstrides;
    const int64_t o_per_g = m / group_;
    const int64_t i_per_g = c / group_;
    if (group_ > 1) wdims.push_back(group_);
    wdims.push_back(o_per_g);
    wdims.push_back(i_per_g);
    wdims.insert(wdims.end(), kernel.begin(), kernel.end());
    {
      dnnl_dims sp_strides(spatial, 1);
      for (int i = spatial - 2; i >= 0; --i) sp_strides[i] = sp_strides[i + 1] * kernel[i + 1];
      if (transpose_) {  // ONNX [C, M/G, k...] = [G, I, O, k...]
        if (group_ > 1) wstrides.push_back(i_per_g * o_per_g * ksize);
        wstrides.push_back(ksize);
        wstrides.push_back(o_per_g * ksize);
      } else {  // ONNX [M, C/G, k...] = [G, O, I, k...]
        if (group_ > 1) wstrides.push_back(o_per_g * i_per_g * ksize);
        wstrides.push_back(i_per_g * ksize);
        wstrides.push_back(ksize);
      }
      wstrides.insert(wstrides.end(), sp_strides.begin(), sp_strides.end());
    }
    const memory::desc wei_user_md(wdims, memory::data_type::f32, wstrides);
    const memory::desc wei_any_md(wdims, memory::data_type::f32, memory::format_tag::any);
    // How the graph hands activations over: plain NCHW, or channel-blocked between convs
    // (graph/passes.h assign_blocked_layouts).
    if ((blocked_in_ || blocked_out_) && (rank != 4 || transpose_)) {
      fail("internal error: {}: blocked layout for input {}", ctx.where(), shape_str(x.shape()));
    }
    const memory::desc src_md =
        blocked_in_ ? memory::desc(to_dnnl_dims(x.shape()), memory::data_type::f32, memory::format_tag::nChw16c)
                    : plain_desc(to_dnnl_dims(x.shape()));
    const memory::desc dst_md =
        blocked_out_ ? memory::desc(to_dnnl_dims(dst_shape), memory::data_type::f32, memory::format_tag::nChw16c)
                     : plain_desc(to_dnnl_dims(dst_shape));
    const memory::desc bias_md = has_bias ? plain_desc({m}) : memory::desc();

    dnnl::primitive_attr attr = user_scratchpad_attr();
    if (activation_.any() || residual_) {
      dnnl::post_ops ops;
      if (residual_) ops.append_sum(1.f);
      activation_.append_to(ops);
      attr.set_post_ops(ops);
    }
    const dnnl::engine& engine = ctx.dnnl().engine;
    const dnnl_dims dnnl_dil = dnnl_dilations(dilations);
    dnnl::convolution_forward::primitive_desc conv_pd;
    dnnl::deconvolution_forward::primitive_desc deconv_pd;
    dnnl::primitive_desc_base* pd_base = nullptr;
    std::string error;
    // Returns whether oneDNN has an implementation for these activation layouts, and whether it
    // is a fast one (not the reference loops nor im2col + GEMM).
    auto try_layouts = [&](const memory::desc& src_req, const memory::desc& dst_req, bool winograd) -> int {
      try {
        if (transpose_) {
          dnnl::deconvolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct,
                                              src_req, wei_any_md, bias_md, dst_req, strides, dnnl_dil, pad_begin,
                                              pad_end);
          deconv_pd = dnnl::deconvolution_forward::primitive_desc(d, attr, engine);
          pd_base = &deconv_pd;
        } else {
          dnnl::convolution_forward::desc d(
              dnnl::prop_kind::forward_inference,
              winograd ? dnnl::algorithm::convolution_winograd : dnnl::algorithm::convolution_direct, src_req,
              wei_any_md, bias_md, dst_req, strides, dnnl_dil, pad_begin, pad_end);
          conv_pd = dnnl::convolution_forward::primitive_desc(d, attr, engine);
          pd_base = &conv_pd;
          // oneDNN offers its F(2x2, 3x3) kernel depending on the thread count it sees (ResNet-18's
          // 56x56 layers on 2 cores: at 2 threads, not at 1, which takes F(4x4, 3x3)). The two
          // round differently, so the choice must not follow the thread count: F(2x2, 3x3) only
          // where oneDNN offers it at one thread and at every core, else F(4x4, 3x3).
          if (winograd) {
            const bool two_by_three = wino_2x3_at_any_thread_count(d, attr, engine);
            while (std::string(conv_pd.impl_info_str()).find(two_by_three ? "wino_2x3" : "wino_4x3") ==
                   std::string::npos) {
              if (!conv_pd.next_impl()) return 0;
            }
          }
        }
      } catch (const dnnl::error& e) {
        error = e.what();
        return 0;
      }
      const std::string impl = pd_base->impl_info_str();
      if (impl.find("ref") != std::string::npos) return 1;
      return impl.find("gemm") == std::string::npos ? 3 : 2;
    };
    // Layouts to try, best first. The JIT kernels for channel-blocked activations (16 channels
    // innermost) beat the NHWC and im2col ones on these small images, even counting the
    // reorders from and to the plain layout the graph uses; a layer with few input channels
    // (the first one) reads plain NCHW directly.
    const memory::desc src_blocked(to_dnnl_dims(x.shape()), memory::data_type::f32, blocked16_tag(rank));
    const memory::desc dst_blocked(to_dnnl_dims(dst_shape), memory::data_type::f32, blocked16_tag(rank));
    const memory::desc src_any(to_dnnl_dims(x.shape()), memory::data_type::f32, memory::format_tag::any);
    const memory::desc dst_any(to_dnnl_dims(dst_shape), memory::data_type::f32, memory::format_tag::any);
    struct Candidate {
      memory::desc src, dst;
      bool winograd;
      bool gemm_ok = false;  // a GEMM kernel is as good as a JIT one here
    };
    std::vector<Candidate> candidates;
    // Winograd F(4x4, 3x3) / F(2x2, 3x3) does 2-4x fewer multiplications for 3x3 stride-1 layers;
    // its rounding differs from direct convolution by about 1e-7 relative on the shipped models.
    // EFF_CONV_ALGO=direct turns it off (e.g. to compare values bit for bit with another engine).
    static const bool wino_enabled = [] {
      const char* env = std::getenv("EFF_CONV_ALGO");
      return env == nullptr || std::string(env) != "direct";
    }();
    // With few channels on a large image the input and output transforms, which stream the
    // whole feature map through memory, cost more than the multiplications they save (a
    // U-Net's 16- and 32-channel layers at 1024x1024 ran 2-3x slower than direct); small maps
    // (CIFAR ResNets' 16-channel 32x32 layers) stay in cache and gain.
    const bool wino_worth = std::min(c, m) >= 64 || shape_numel(Shape(out_sp.begin(), out_sp.end())) <= 64 * 64;
    const bool wino_shape = !transpose_ && group_ == 1 && spatial == 2 && kernel[0] == 3 && kernel[1] == 3 &&
                            strides[0] == 1 && strides[1] == 1 && dilations[0] == 1 && dilations[1] == 1 && c >= 16 &&
                            m >= 16 && wino_worth;
    // A pointwise conv between plain tensors (e.g. after a Resize, before a Concat) is one GEMM
    // over the NCHW planes as they are: reorders to and from the blocked layout would move the
    // whole feature map twice more (a U-Net's 64-channel 512x512 input: more than the conv).
    bool pointwise = !transpose_ && group_ == 1 && spatial == 2 && !blocked_in_ && !blocked_out_;
    for (int i = 0; i < spatial; ++i) {
      pointwise = pointwise && kernel[i] == 1 && strides[i] == 1 && pad_begin[i] == 0 && pad_end[i] == 0;
    }
    if (pointwise) candidates.push_back({src_md, dst_md, false, true});
    if (wino_enabled && wino_shape && !direct_only_) candidates.push_back({src_blocked, dst_blocked, true});
    if (i_per_g < 16 && group_ == 1) candidates.push_back({src_md, dst_blocked, false});
    candidates.push_back({src_blocked, dst_blocked, false});
    candidates.push_back({src_any, dst_any, false});
    candidates.push_back({src_md, dst_md, false});
    int chosen = -1;
    for (size_t i = 0; i < candidates.size() && chosen < 0; ++i) {
      const int score = try_layouts(candidates[i].src, candidates[i].dst, candidates[i].winograd);
      if (score == 3 || (score == 2 && candidates[i].gemm_ok)) chosen = static_cast<int>(i);
    }
    if (chosen < 0) {  // no fast kernel: take whatever runs, preferring the plain layout
      for (int i = static_cast<int>(candidates.size()) - 1; i >= 0 && chosen < 0; --i) {
        if (try_layouts(candidates[i].src, candidates[i].dst, candidates[i].winograd) > 0) chosen = i;
      }
    }
    if (chosen < 0) {
      fail<UnsupportedError>("{}: oneDNN cannot run this {} (input {}, weights {}): {}", ctx.where(),
                             transpose_ ? "transposed convolution" : "convolution", shape_str(x.shape()),
                             shape_str(w.shape()), error);
    }
    if (transpose_) {
      plan->prim = dnnl::deconvolution_forward(deconv_pd);
    } else {
      plan->prim = dnnl::convolution_forward(conv_pd);
    }
    plan->impl = dnnl_impl_name(*pd_base);
    scratchpad_.reserve(*pd_base, engine);

    plan->src = memory(src_md, engine, nullptr);
    plan->dst = memory(dst_md, engine, nullptr);
    const memory::desc wei_md = pd_base->weights_desc();
    plan->wei_user = memory(wei_user_md, engine, nullptr);
    if (weights_.defined()) {
      plan->wei = weights_.get(wei_user_md, wei_md, ctx.dnnl());
      plan->weights_prepacked = true;
    } else if (wei_md == wei_user_md) {
      plan->wei = plan->wei_user;
    } else {
      plan->wei = memory(wei_md, engine);
      plan->wei_reorder = dnnl::reorder(plan->wei_user, plan->wei);
    }
    plan->src_inner = plan->src;
    plan->dst_inner = plan->dst;
    if (pd_base->src_desc() != src_md) {
      plan->src_inner = memory(pd_base->src_desc(), engine);
      plan->src_reorder = dnnl::reorder(plan->src, plan->src_inner);
    }
    if (pd_base->dst_desc() != dst_md) {
      plan->dst_inner = memory(pd_base->dst_desc(), engine);
      plan->dst_reorder = dnnl::reorder(plan->dst_inner, plan->dst);
      if (residual_) {
        plan->shortcut = memory(dst_md, engine, nullptr);
        plan->shortcut_reorder = dnnl::reorder(plan->shortcut, plan->dst_inner);
      }
    }
    plan->args = {{DNNL_ARG_SRC, plan->src_inner}, {DNNL_ARG_WEIGHTS, plan->wei}, {DNNL_ARG_DST, plan->dst_inner}};
    if (has_bias) {
      plan->bias = memory(bias_md, engine, nullptr);
      plan->args[DNNL_ARG_BIAS] = plan->bias;
    }
    if (!scratchpad_.empty()) plan->args[DNNL_ARG_SCRATCHPAD] = scratchpad_.memory();
    return plan;
  }

  // Copies `part` into the low-index corner of `y` (same N and C, spatial sizes no larger).
  static void copy_into_corner(const Tensor& part, Tensor& y) {
    const int sp = y.rank() - 2;
    int64_t po[3] = {1, 1, 1}, yo[3] = {1, 1, 1};
    for (int i = 0; i < sp; ++i) {
      po[3 - sp + i] = part.dim(2 + i);
      yo[3 - sp + i] = y.dim(2 + i);
    }
    const float* src = part.data<float>();
    float* dst = y.data<float>();
    const int64_t planes = y.dim(0) * y.dim(1);
    for (int64_t p = 0; p < planes; ++p) {
      for (int64_t d = 0; d < po[0]; ++d) {
        for (int64_t h = 0; h < po[1]; ++h) {
          std::copy_n(src + ((p * po[0] + d) * po[1] + h) * po[2], po[2], dst + ((p * yo[0] + d) * yo[1] + h) * yo[2]);
        }
      }
    }
  }

  void fill_bias_only(Tensor& y, const Tensor* b) const {
    float* out = y.data<float>();
    const int64_t n = y.dim(0), m = y.dim(1);
    const int64_t plane = m > 0 && n > 0 ? y.numel() / (n * m) : 0;
    const float* bias = b ? b->data<float>() : nullptr;
    for (int64_t i = 0; i < n * m; ++i) {
      float v = bias ? bias[i % m] : 0.f;
      v = activation_.apply(v);
      std::fill(out + i * plane, out + (i + 1) * plane, v);
    }
  }

  bool transpose_;
  bool residual_ = false;  // input 3 added before the activation (sum post-op)
  int64_t group_ = 1;
  FusedActivation activation_;
  BufferPool pool_of_one_;                         // for the rare blocked bias-only output
  bool blocked_in_ = false, blocked_out_ = false;  // activations in nChw16c between kernels
  bool direct_only_ = false;                       // never Winograd (kDirectConvAttr)
  WindowAttrs window_;
  std::vector<int64_t> output_padding_, output_shape_;
  PackedWeights weights_;  // constant weights (undefined when computed at run time)
  std::vector<std::unique_ptr<Plan>> plans_;
  Plan* last_ = nullptr;
  Scratchpad scratchpad_;
  std::string last_impl_;
};

}  // namespace

std::unique_ptr<Kernel> make_conv(const Node& node, const Graph& graph) {
  return std::make_unique<ConvKernel>(node, graph, false);
}

std::unique_ptr<Kernel> make_conv_transpose(const Node& node, const Graph& graph) {
  return std::make_unique<ConvKernel>(node, graph, true);
}

}  // namespace eff
