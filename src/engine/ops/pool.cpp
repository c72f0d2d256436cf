// MaxPool and AveragePool (1-D to 3-D, dilations, auto_pad, ceil_mode) on oneDNN's pooling_v2,
// one primitive per input shape and thread count; a 2-D MaxPool between convs reads and writes
// their channel-blocked layout in a loop of ours (ops/blocked_max_pool.h). GlobalAveragePool and
// GlobalMaxPool as plain per-plane loops. MaxPool's optional Indices output (which oneDNN does not
// produce) takes a direct loop.
//
// oneDNN's "include padding" average counts every tap of the window, while ONNX (and ONNX
// Runtime) count the explicit pads but not the extra end positions ceil_mode adds; that one case
// runs the direct loop below.
#include <algorithm>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>

#include "engine/blocked_layout.h"
#include "engine/ops/blocked_max_pool.h"
#include "engine/ops/dnnl_common.h"
#include "engine/ops/max_pool_ort_order.h"
#include "graph/passes.h"

namespace eff {

namespace {

using namespace ops;
using dnnl::memory;

constexpr size_t kMaxPlans = 8;

memory::data_type dnnl_type(DType t) {
  switch (t) {
    case DType::kFloat32:
      return memory::data_type::f32;
    case DType::kUInt8:
      return memory::data_type::u8;
    case DType::kInt8:
      return memory::data_type::s8;
    default:
      return memory::data_type::undef;
  }
}

memory::desc typed_plain_desc(const Shape& shape, memory::data_type dt) {
  const dnnl_dims dims = to_dnnl_dims(shape);
  dnnl_dims strides(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * dims[i + 1];
  return memory::desc(dims, dt, strides);
}

// A 1-D to 3-D window as [D, H, W] (a missing leading axis: size 1, no pads), for the direct
// loops; pad_end is ONNX's explicit end pads (without what ceil_mode adds).
struct Window3d {
  int64_t in[3], out[3], kernel[3], strides[3], dilations[3], pad_begin[3], pad_end[3];
  explicit Window3d(const WindowGeometry& g) {
    const size_t n = g.in.size();
    auto fill = [n](int64_t* dst, const dnnl_dims& v, int64_t missing) {
      for (size_t back = 0; back < 3; ++back) dst[2 - back] = back < n ? v[n - 1 - back] : missing;
    };
    fill(in, g.in, 1);
    fill(out, g.out, 1);
    fill(kernel, g.kernel, 1);
    fill(strides, g.strides, 1);
    fill(dilations, g.dilations, 1);
    fill(pad_begin, g.pad_begin, 0);
    fill(pad_end, g.onnx_pad_end, 0);
  }
};

// AveragePool with count_include_pad where ceil_mode extends the window past the explicit end
// pads: taps in the explicit pads count, taps past them do not. Input viewed as [NC, D, H, W].
void average_pool_direct(const float* x, float* y, int64_t planes, const WindowGeometry& g) {
  const Window3d w(g);
  const auto &in = w.in, &out = w.out, &k = w.kernel, &s = w.strides, &d = w.dilations, &pb = w.pad_begin,
             &pe = w.pad_end;
  const int64_t in_plane = in[0] * in[1] * in[2];
  const int64_t out_plane = out[0] * out[1] * out[2];
#pragma omp parallel for schedule(static) if (planes * out_plane >= kParallelMin)
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * in_plane;
    float* yp = y + p * out_plane;
    for (int64_t od = 0; od < out[0]; ++od) {
      for (int64_t oh = 0; oh < out[1]; ++oh) {
        for (int64_t ow = 0; ow < out[2]; ++ow) {
          double sum = 0;
          int64_t count = 0;
          for (int64_t kd = 0; kd < k[0]; ++kd) {
            const int64_t id = od * s[0] - pb[0] + kd * d[0];
            if (id < -pb[0] || id >= in[0] + pe[0]) continue;
            for (int64_t kh = 0; kh < k[1]; ++kh) {
              const int64_t ih = oh * s[1] - pb[1] + kh * d[1];
              if (ih < -pb[1] || ih >= in[1] + pe[1]) continue;
              for (int64_t kw = 0; kw < k[2]; ++kw) {
                const int64_t iw = ow * s[2] - pb[2] + kw * d[2];
                if (iw < -pb[2] || iw >= in[2] + pe[2]) continue;
                ++count;
                if (id >= 0 && id < in[0] && ih >= 0 && ih < in[1] && iw >= 0 && iw < in[2]) {
                  sum += xp[(id * in[1] + ih) * in[2] + iw];
                }
              }
            }
          }
          yp[(od * out[1] + oh) * out[2] + ow] = count ? static_cast<float>(sum / count) : 0.f;
        }
      }
    }
  }
}

// MaxPool with its Indices output: the flat index (over N, C and the spatial axes, row-major, or
// column-major over the spatial axes when storage_order = 1) of each selected input element.
template <class T>
void max_pool_with_indices(const T* x, T* y, int64_t* indices, int64_t planes, const WindowGeometry& g,
                           bool column_major) {
  const Window3d w(g);
  const auto &in = w.in, &out = w.out, &k = w.kernel, &s = w.strides, &d = w.dilations, &pb = w.pad_begin;
  const int64_t in_plane = in[0] * in[1] * in[2];
  const int64_t out_plane = out[0] * out[1] * out[2];
#pragma omp parallel for schedule(static) if (planes * out_plane >= kParallelMin)
  for (int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * in_plane;
    for (int64_t od = 0; od < out[0]; ++od) {
      for (int64_t oh = 0; oh < out[1]; ++oh) {
        for (int64_t ow = 0; ow < out[2]; ++ow) {
          T best = std::numeric_limits<T>::lowest();
          int64_t best_at = -1;
          for (int64_t kd = 0; kd < k[0]; ++kd) {
            const int64_t id = od * s[0] - pb[0] + kd * d[0];
            if (id < 0 || id >= in[0]) continue;
            for (int64_t kh = 0; kh < k[1]; ++kh) {
              const int64_t ih = oh * s[1] - pb[1] + kh * d[1];
              if (ih < 0 || ih >= in[1]) continue;
              for (int64_t kw = 0; kw < k[2]; ++kw) {
                const int64_t iw = ow * s[2] - pb[2] + kw * d[2];
                if (iw < 0 || iw >= in[2]) continue;
                const T v = xp[(id * in[1] + ih) * in[2] + iw];
                if (best_at < 0 || v > best) {
                  best = v;
                  best_at = column_major ? (iw * in[1] + ih) * in[0] + id : (id * in[1] + ih) * in[2] + iw;
                }
              }
            }
          }
          const int64_t o = p * out_plane + (od * out[1] + oh) * out[2] + ow;
          y[o] = best;
          indices[o] = best_at < 0 ? -1 : p * in_plane + best_at;
        }
      }
    }
  }
}

class PoolKernel final : public Kernel {
 public:
  PoolKernel(const Node& node, const Graph& graph, bool max) : max_(max) {
    const std::string where = graph.where(node);
    if (node.num_inputs() != 1) fail<ModelError>("{}: expects 1 input, got {}", where, node.num_inputs());
    if (!node.has_attr("kernel_shape")) fail<ModelError>("{}: kernel_shape is required", where);
    if (max_) {
      if (node.outputs.size() > 2) fail<ModelError>("{}: expects at most 2 outputs", where);
      with_indices_ = node.outputs.size() == 2 && node.outputs[1] != kNoValue;
      const int64_t order = node.attr_int("storage_order", 0);
      if (order != 0 && order != 1) fail<ModelError>("{}: storage_order={} must be 0 or 1", where, order);
      column_major_ = order == 1;
      const Value& x = graph.value(node.inputs[0]);
      if (x.has_type && dnnl_type(x.dtype) == memory::data_type::undef) {
        fail<UnsupportedError>("{}: input type {} (float32, uint8 and int8 are supported)", where, dtype_name(x.dtype));
      }
    } else {
      require_f32_model(node, graph, 0);
      count_include_pad_ = node.attr_int("count_include_pad", 0) != 0;
    }
    window_ = parse_window(node, graph, -1);
    // Inputs holding NaN/Inf: ONNX Runtime's fold order (graph/passes.h mark_non_finite_orders).
    if (max_ && node.has_attr(kMaxPoolFoldAttr)) {
      fold_ = node.attr_int(kMaxPoolFoldAttr, 2) == 1 ? MaxPoolFoldOrder::kTaps : MaxPoolFoldOrder::kColumns;
      ort_order_ = true;
      lowest_ = node.attr_float(kMaxPoolLowestAttr, std::numeric_limits<float>::lowest());
    }
    // The layout pass marks both or neither (graph/layout_pass.cpp); only a MaxPool without Indices.
    blocked_ = reads_blocked(node);
    if (blocked_ && (!writes_blocked(node) || !max_ || with_indices_ || window_.kernel.size() != 2)) {
      fail("internal error: {}: a blocked pool must be a 2-D MaxPool, blocked in and out", where);
    }
  }

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const memory::data_type dt = dnnl_type(x.dtype());
    if (dt == memory::data_type::undef || (!max_ && dt != memory::data_type::f32)) {
      fail<ShapeError>("{}: input type {} is not supported", ctx.where(), dtype_name(x.dtype()));
    }
    if (blocked_ && (x.rank() != 4 || x.dtype() != DType::kFloat32)) {
      fail("internal error: {}: blocked input of shape {}", ctx.where(), shape_str(x.shape()));
    }
    Plan& plan = plan_for(ctx, x);
    Tensor y = blocked_ ? blocked_output(ctx, 0, plan.y_shape) : ctx.output(0, x.dtype(), plan.y_shape);
    if (with_indices_) {
      Tensor& indices = ctx.output(1, DType::kInt64, plan.y_shape);
      if (y.numel() == 0) return;
      const int64_t planes = x.dim(0) * x.dim(1);
      switch (x.dtype()) {
        case DType::kUInt8:
          max_pool_with_indices(x.data<uint8_t>(), y.data<uint8_t>(), indices.data<int64_t>(), planes, plan.geometry,
                                column_major_);
          break;
        case DType::kInt8:
          max_pool_with_indices(x.data<int8_t>(), y.data<int8_t>(), indices.data<int64_t>(), planes, plan.geometry,
                                column_major_);
          break;
        default:
          max_pool_with_indices(x.data<float>(), y.data<float>(), indices.data<int64_t>(), planes, plan.geometry,
                                column_major_);
          break;
      }
      return;
    }
    if (y.numel() == 0) return;
    if (plan.ort_order) {
      max_pool_ort_order(x.data<float>(), y.data<float>(), x.dim(0) * x.dim(1), plan.window, fold_, lowest_);
      return;
    }
    if (plan.blocked_loop) {
      const int64_t blocks = x.dim(0) * ((x.dim(1) + kBlockedChannels - 1) / kBlockedChannels);
      blocked_max_pool(x.data<float>(), y.data<float>(), blocks, plan.window);
      return;
    }
    if (plan.direct) {
      average_pool_direct(x.data<float>(), y.data<float>(), x.dim(0) * x.dim(1), plan.geometry);
      return;
    }
    plan.src.set_data_handle(mutable_data(x));
    plan.dst.set_data_handle(y.raw());
    bind_scratchpad(plan.args, ctx.dnnl());
    plan.prim.execute(ctx.dnnl().stream, plan.args);
    ctx.dnnl().stream.wait();
  }

  std::string impl() const override { return last_impl_; }

 private:
  struct Plan {
    Shape x_shape;
    DType dtype = DType::kFloat32;
    int threads = 0;
    Shape y_shape;
    std::string impl;
    bool direct = false;
    bool ort_order = false;     // max_pool_ort_order on `window`
    bool blocked_loop = false;  // blocked_max_pool on `window`
    MaxPoolWindow2d window;
    WindowGeometry geometry;
    dnnl::primitive prim;
    memory src, dst;
    std::unordered_map<int, memory> args;
  };

  Plan& plan_for(OpContext& ctx, const Tensor& x) {
    const int threads = current_threads();
    auto matches = [&](const Plan& p) {
      return p.threads == threads && p.dtype == x.dtype() && p.x_shape == x.shape();
    };
    if (last_ && matches(*last_)) return *last_;
    Plan* found = nullptr;
    for (auto& p : plans_) {
      if (matches(*p)) found = p.get();
    }
    if (!found) {
      auto plan = make_plan(ctx, x, threads);
      if (plans_.size() >= kMaxPlans) plans_.erase(plans_.begin());
      plans_.push_back(std::move(plan));
      found = plans_.back().get();
    }
    last_ = found;
    last_impl_ = found->impl;
    return *found;
  }

  std::unique_ptr<Plan> make_plan(OpContext& ctx, const Tensor& x, int threads) {
    auto plan = std::make_unique<Plan>();
    plan->x_shape = x.shape();
    plan->dtype = x.dtype();
    plan->threads = threads;
    const int spatial = static_cast<int>(window_.kernel.size());
    if (x.rank() != spatial + 2) {
      fail<ShapeError>("{}: input of shape {} does not fit a {}-D kernel_shape", ctx.where(), shape_str(x.shape()),
                       spatial);
    }
    const dnnl_dims in(x.shape().begin() + 2, x.shape().end());
    const WindowGeometry g = window_geometry(window_, in, dnnl_dims(window_.kernel.begin(), window_.kernel.end()), ctx);
    plan->geometry = g;
    plan->y_shape = {x.dim(0), x.dim(1)};
    plan->y_shape.insert(plan->y_shape.end(), g.out.begin(), g.out.end());
    if (shape_numel(plan->y_shape) == 0) {
      plan->impl = "empty";
      return plan;
    }
    bool past_explicit_pads = false;
    for (size_t i = 0; i < in.size(); ++i) past_explicit_pads |= g.pad_end[i] > g.onnx_pad_end[i];
    if (with_indices_) {
      plan->impl = "ref:max_pool_with_indices";
      return plan;
    }
    // A blocked 2-D MaxPool runs blocked_max_pool: 2x faster than oneDNN's pooling on the U-Net's
    // three pools at 1 thread (medians of 5 alternating runs, 4.5 against 9.0 ms on a loaded
    // machine); EFF_POOL_ALGO=dnnl keeps oneDNN's (to compare).
    static const bool dnnl_pool = [] {
      const char* env = std::getenv("EFF_POOL_ALGO");
      return env != nullptr && std::string(env) == "dnnl";
    }();
    const bool dense = std::all_of(g.dilations.begin(), g.dilations.end(), [](int64_t d) { return d == 1; });
    const bool blocked_loop = blocked_ && dense && !dnnl_pool;
    if ((ort_order_ && x.dtype() == DType::kFloat32 && spatial == 2 && !blocked_) || blocked_loop) {
      MaxPoolWindow2d& w = plan->window;
      w.in_h = in[0];
      w.in_w = in[1];
      w.out_h = g.out[0];
      w.out_w = g.out[1];
      w.kernel_h = g.kernel[0];
      w.kernel_w = g.kernel[1];
      w.stride_h = g.strides[0];
      w.stride_w = g.strides[1];
      w.pad_top = g.pad_begin[0];
      w.pad_left = g.pad_begin[1];
      if (blocked_loop) {
        plan->blocked_loop = true;
        plan->impl = "loop:blocked_max_pool";
        return plan;
      }
      plan->ort_order = true;
      plan->impl =
          fold_ == MaxPoolFoldOrder::kTaps ? "loop:max_pool_ort_order(taps)" : "loop:max_pool_ort_order(columns)";
      return plan;
    }
    if (!max_ && count_include_pad_ && past_explicit_pads) {
      plan->direct = true;
      plan->impl = "ref:average_pool_direct";
      return plan;
    }
    const memory::data_type dt = dnnl_type(x.dtype());
    const memory::desc src_md = blocked_ ? memory::desc(to_dnnl_dims(x.shape()), dt, memory::format_tag::nChw16c)
                                         : typed_plain_desc(x.shape(), dt);
    const memory::desc dst_md = blocked_ ? memory::desc(to_dnnl_dims(plan->y_shape), dt, memory::format_tag::nChw16c)
                                         : typed_plain_desc(plan->y_shape, dt);
    const dnnl::algorithm alg = max_                 ? dnnl::algorithm::pooling_max
                                : count_include_pad_ ? dnnl::algorithm::pooling_avg_include_padding
                                                     : dnnl::algorithm::pooling_avg_exclude_padding;
    const dnnl::engine& engine = ctx.dnnl().engine;
    dnnl::pooling_v2_forward::primitive_desc pd;
    try {
      dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, alg, src_md, dst_md, g.strides, g.kernel,
                                       dnnl_dilations(g.dilations), g.pad_begin, g.pad_end);
      pd = dnnl::pooling_v2_forward::primitive_desc(d, user_scratchpad_attr(), engine);
    } catch (const dnnl::error& e) {
      fail<UnsupportedError>("{}: oneDNN cannot run this pooling (input {}): {}", ctx.where(), shape_str(x.shape()),
                             e.what());
    }
    plan->prim = dnnl::pooling_v2_forward(pd);
    plan->impl = dnnl_impl_name(pd);
    scratchpad_.reserve(pd, engine);
    plan->src = memory(src_md, engine, nullptr);
    plan->dst = memory(dst_md, engine, nullptr);
    plan->args = {{DNNL_ARG_SRC, plan->src}, {DNNL_ARG_DST, plan->dst}};
    if (!scratchpad_.empty()) plan->args[DNNL_ARG_SCRATCHPAD] = scratchpad_.memory();
    return plan;
  }

  bool max_;
  bool count_include_pad_ = false;
  bool with_indices_ = false;
  bool column_major_ = false;
  bool blocked_ = false;  // nChw16c in and out (graph/passes.h assign_blocked_layouts)
  bool ort_order_ = false;
  MaxPoolFoldOrder fold_ = MaxPoolFoldOrder::kColumns;
  float lowest_ = 0.f;
  WindowAttrs window_;
  std::vector<std::unique_ptr<Plan>> plans_;
  Plan* last_ = nullptr;
  std::string last_impl_ = "dnnl";
  Scratchpad scratchpad_;
};

// ---- global pools --------------------------------------------------------------------------------

template <bool kMax>
class GlobalPoolKernel final : public Kernel {
 public:
  GlobalPoolKernel(const Node& node, const Graph& graph) {
    if (node.num_inputs() != 1) fail<ModelError>("{}: expects 1 input, got {}", graph.where(node), node.num_inputs());
    require_f32_model(node, graph, 0);
  }

  void run(OpContext& ctx) override {
    const Tensor& x = f32_input(ctx, 0);
    if (x.rank() < 2) {
      fail<ShapeError>("{}: input of shape {} has no channel dimension", ctx.where(), shape_str(x.shape()));
    }
    Shape y_shape(x.shape().size(), 1);
    y_shape[0] = x.dim(0);
    y_shape[1] = x.dim(1);
    Tensor& y = ctx.output(0, DType::kFloat32, y_shape);
    const int64_t planes = y.numel();
    if (planes == 0) return;
    const int64_t plane = x.numel() / planes;
    if (plane == 0) {
      fail<ShapeError>("{}: input of shape {} has empty spatial dimensions", ctx.where(), shape_str(x.shape()));
    }
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelMin)
    for (int64_t p = 0; p < planes; ++p) {
      const float* src = xd + p * plane;
      if constexpr (kMax) {
        float m = src[0];
        for (int64_t i = 1; i < plane; ++i) m = std::max(m, src[i]);
        yd[p] = m;
      } else {
        float sum = 0.f;
#pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < plane; ++i) sum += src[i];
        yd[p] = sum / static_cast<float>(plane);
      }
    }
  }

  std::string impl() const override {
    return kMax ? "loop:global_max" : "loop:global_average";
  }
};

}  // namespace

std::unique_ptr<Kernel> make_max_pool(const Node& node, const Graph& graph) {
  return std::make_unique<PoolKernel>(node, graph, true);
}

std::unique_ptr<Kernel> make_average_pool(const Node& node, const Graph& graph) {
  return std::make_unique<PoolKernel>(node, graph, false);
}

std::unique_ptr<Kernel> make_global_average_pool(const Node& node, const Graph& graph) {
  if (reads_blocked(node)) return make_blocked_global_average_pool(node, graph);  // ops/blocked_ops.cpp
  return std::make_unique<GlobalPoolKernel<false>>(node, graph);
}

std::unique_ptr<Kernel> make_global_max_pool(const Node& node, const Graph& graph) {
  return std::make_unique<GlobalPoolKernel<true>>(node, graph);
}

}  // namespace eff
