// The 1x1 conv + 3x3 depthwise conv pair as one oneDNN primitive (pointwise_depthwise.h).
#include "engine/ops/pointwise_depthwise.h"

#include <algorithm>
#include <array>
#include <unordered_map>
#include <vector>

#include "engine/blocked_layout.h"
#include "engine/ops/dnnl_common.h"
#include "graph/passes.h"

namespace eff {

namespace {

using namespace ops;
using dnnl::memory;

// Attributes a Conv may carry and still be fused: ONNX's, the layout pass's, a fused activation;
// kDirectConvAttr only keeps Winograd away, which neither conv uses.
bool only_known_attrs(const Node& n) {
  static constexpr std::array<const char*, 12> known = {
      "auto_pad",        "dilations",        "group",      "kernel_shape",   "pads",           "strides",
      kBlockedInputAttr, kBlockedOutputAttr, "activation", "activation_min", "activation_max", kDirectConvAttr};
  return std::all_of(n.attrs.begin(), n.attrs.end(), [](const auto& attr) {
    return std::any_of(known.begin(), known.end(), [&](const char* k) { return attr.first == k; });
  });
}

bool all_equal(const std::vector<int64_t>& v, size_t size, int64_t value) {
  return v.size() == size && std::all_of(v.begin(), v.end(), [&](int64_t x) { return x == value; });
}

// A Conv with constant float32 weights of shape [out, in, kernel, kernel], a constant bias or none,
// and at most an activation oneDNN runs as an eltwise post-op (FusedActivation) fused.
bool plain_float_conv(const Graph& g, const Node& n, int64_t kernel, const Tensor*& weights) {
  if (n.op != "Conv" || !(n.domain.empty() || n.domain == "ai.onnx") || n.outputs.size() != 1 ||
      n.outputs[0] == kNoValue || n.num_inputs() < 2 || n.num_inputs() > 3 || n.input(0) == kNoValue ||
      !only_known_attrs(n)) {
    return false;
  }
  if (!g.is_constant(n.input(1)) || (n.input(2) != kNoValue && !g.is_constant(n.input(2)))) return false;
  const Tensor& w = g.constant(n.input(1));
  if (w.dtype() != DType::kFloat32 || w.rank() != 4 || w.dim(2) != kernel || w.dim(3) != kernel) return false;
  if (n.input(2) != kNoValue) {
    const Tensor& b = g.constant(n.input(2));
    if (b.dtype() != DType::kFloat32 || b.rank() != 1 || b.dim(0) != w.dim(0)) return false;
  }
  const std::string act = n.attr_string("activation", "");
  if (!act.empty() && act != "Relu" && act != "Clip" && act != "HardSwish" && act != "Swish") return false;
  if (n.attr_string("auto_pad", "NOTSET") != "NOTSET") return false;
  if (n.has_attr("kernel_shape") && !all_equal(n.attr_ints("kernel_shape"), 2, kernel)) return false;
  if (n.has_attr("dilations") && !all_equal(n.attr_ints("dilations"), 2, 1)) return false;
  if (n.attr_int(kBlockedInputAttr, 0) == 0 || n.attr_int(kBlockedOutputAttr, 0) == 0) return false;
  weights = &w;
  return true;
}

dnnl::memory::desc blocked_desc(const dnnl_dims& dims) {
  return memory::desc(dims, memory::data_type::f32, memory::format_tag::nChw16c);
}

constexpr size_t kMaxPlans = 8;

}  // namespace

bool fusable_pointwise_depthwise(const Graph& g, const Node& pw, const Node& dw) {
  const Tensor* wp = nullptr;
  const Tensor* wd = nullptr;
  if (!plain_float_conv(g, pw, 1, wp) || !plain_float_conv(g, dw, 3, wd)) return false;
  if (dw.input(0) != pw.outputs[0] || dw.input(2) == kNoValue) return false;
  if (pw.attr_int("group", 1) != 1) return false;
  if (pw.has_attr("strides") && !all_equal(pw.attr_ints("strides"), 2, 1)) return false;
  if (pw.has_attr("pads") && !all_equal(pw.attr_ints("pads"), 4, 0)) return false;
  const int64_t channels = wp->dim(0);
  if (dw.attr_int("group", 1) != channels || wd->dim(0) != channels || wd->dim(1) != 1) return false;
  if (!all_equal(dw.attr_ints("pads"), 4, 1)) return false;
  const std::vector<int64_t> strides = dw.attr_ints("strides", {1, 1});
  return strides.size() == 2 && strides[0] == strides[1] && (strides[0] == 1 || strides[0] == 2);
}

struct PointwiseDepthwiseKernel::State {
  struct Plan {
    Shape x_shape;
    int threads = 0;
    bool usable = false;
    Shape y_shape;
    std::string impl;
    dnnl::primitive prim;
    memory src, dst, bias;
    std::unordered_map<int, memory> args;
  };
  FusedActivation pw_activation, dw_activation;
  int64_t stride = 1;
  PackedWeights pw_weights, dw_weights;
  Tensor dw_bias;
  Scratchpad scratchpad;
  std::vector<std::unique_ptr<Plan>> plans;
  Plan* last = nullptr;
  std::string impl;

  Plan& plan_for(OpContext& ctx, const Tensor& x, bool has_bias) {
    const int threads = current_threads();
    if (last && last->threads == threads && last->x_shape == x.shape()) return *last;
    for (auto& p : plans) {
      if (p->threads == threads && p->x_shape == x.shape()) return *(last = p.get());
    }
    if (plans.size() >= kMaxPlans) plans.erase(plans.begin());
    plans.push_back(make_plan(ctx, x, has_bias, threads));
    return *(last = plans.back().get());
  }

  std::unique_ptr<Plan> make_plan(OpContext& ctx, const Tensor& x, bool has_bias, int threads) {
    auto plan = std::make_unique<Plan>();
    Plan& p = *plan;
    p.x_shape = x.shape();
    p.threads = threads;
    const Tensor& w = pw_weights.source();
    const int64_t m = w.dim(0);
    if (x.rank() != 4 || x.dim(1) != w.dim(1) || x.dim(2) < 1 || x.dim(3) < 1 || x.dim(0) < 1) return plan;
    const int64_t n = x.dim(0), h = x.dim(2), wd = x.dim(3);
    p.y_shape = {n, m, (h + stride - 1) / stride, (wd + stride - 1) / stride};
    const dnnl::engine& engine = ctx.dnnl().engine;
    const memory::desc src_md = blocked_desc(to_dnnl_dims(x.shape()));
    const memory::desc mid_md = blocked_desc({n, m, h, wd});
    const memory::desc dst_md = blocked_desc(to_dnnl_dims(p.y_shape));
    const memory::desc wei_any({m, w.dim(1), 1, 1}, memory::data_type::f32, memory::format_tag::any);
    const memory::desc bias_md = has_bias ? plain_desc({m}) : memory::desc();
    dnnl::primitive_attr attr = user_scratchpad_attr();
    dnnl::post_ops ops;
    pw_activation.append_to(ops);
    ops.append_dw(memory::data_type::f32, memory::data_type::f32, memory::data_type::f32, 3, stride, 1, 0, {});
    dw_activation.append_to(ops);
    attr.set_post_ops(ops);
    dnnl::convolution_forward::primitive_desc pd;
    try {
      dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md,
                                        wei_any, bias_md, mid_md, {1, 1}, {0, 0}, {0, 0});
      pd = dnnl::convolution_forward::primitive_desc(d, attr, engine);
    } catch (const dnnl::error&) {
      return plan;  // no implementation: the nodes run apart
    }
    p.impl = dnnl_impl_name(pd);
    // oneDNN's generic fused convolution ("ref_fused_convolution") runs the two primitives one
    // after the other through a buffer of its own: no gain over the nodes, a little overhead.
    if (p.impl.find("ref") != std::string::npos || pd.dst_desc() != dst_md) return plan;
    p.prim = dnnl::convolution_forward(pd);
    scratchpad.reserve(pd, engine);
    const memory::desc wei_user_md({m, w.dim(1), 1, 1}, memory::data_type::f32, memory::format_tag::oihw);
    const memory::desc dw_user_md({m, 1, 1, 3, 3}, memory::data_type::f32, memory::format_tag::goihw);
    const memory::desc dw_want = pd.query_md(dnnl::query::exec_arg_md, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS);
    p.src = memory(src_md, engine, nullptr);
    p.dst = memory(dst_md, engine, nullptr);
    p.args = {{DNNL_ARG_SRC, p.src},
              {DNNL_ARG_WEIGHTS, pw_weights.get(wei_user_md, pd.weights_desc(), ctx.dnnl())},
              {DNNL_ARG_DST, p.dst},
              {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS, dw_weights.get(dw_user_md, dw_want, ctx.dnnl())},
              {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS, memory(plain_desc({m}), engine, mutable_data(dw_bias))}};
    if (has_bias) {
      p.bias = memory(bias_md, engine, nullptr);
      p.args[DNNL_ARG_BIAS] = p.bias;
    }
    if (!scratchpad.empty()) p.args[DNNL_ARG_SCRATCHPAD] = scratchpad.memory();
    p.usable = true;
    return plan;
  }
};

PointwiseDepthwiseKernel::PointwiseDepthwiseKernel(const Node& pw, const Node& dw, const Graph& g)
    : s_(std::make_unique<State>()) {
  if (!fusable_pointwise_depthwise(g, pw, dw)) {
    fail("internal error: {} and {} cannot run as one convolution", g.where(pw), g.where(dw));
  }
  s_->pw_activation = fused_activation(pw, g);
  s_->dw_activation = fused_activation(dw, g);
  s_->stride = dw.attr_ints("strides", {1, 1})[0];
  s_->pw_weights.set_source(g.constant(pw.input(1)));
  s_->dw_weights.set_source(g.constant(dw.input(1)));
  s_->dw_bias = g.constant(dw.input(2));
}

PointwiseDepthwiseKernel::~PointwiseDepthwiseKernel() = default;

bool PointwiseDepthwiseKernel::run(OpContext& ctx) {
  const Tensor& x = f32_input(ctx, 0);
  const Tensor* b = ctx.has_input(2) ? &f32_input(ctx, 2) : nullptr;
  State::Plan& p = s_->plan_for(ctx, x, b != nullptr);
  s_->impl = p.usable ? p.impl : "";
  if (!p.usable) return false;
  Tensor y = blocked_output(ctx, 0, p.y_shape);
  p.src.set_data_handle(mutable_data(x));
  p.dst.set_data_handle(y.raw());
  if (b) p.bias.set_data_handle(mutable_data(*b));
  bind_scratchpad(p.args, ctx.dnnl());
  p.prim.execute(ctx.dnnl().stream, p.args);
  ctx.dnnl().stream.wait();
  return true;
}

const std::string& PointwiseDepthwiseKernel::impl() const {
  return s_->impl;
}

void pair_pointwise_depthwise(const Graph& g, const std::function<bool(const Node&)>& keep_apart,
                              std::vector<std::unique_ptr<PointwiseDepthwiseKernel>>& kernels,
                              std::vector<int>& partner) {
  std::vector<int> readers(g.values.size(), 0), reader(g.values.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (ValueId v : g.nodes[i].inputs) {
      if (v == kNoValue) continue;
      ++readers[v];
      reader[v] = static_cast<int>(i);
    }
  }
  for (ValueId v : g.outputs) ++readers[v];  // a graph output is read by the caller
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& pw = g.nodes[i];
    if (pw.op != "Conv" || pw.outputs.size() != 1 || pw.outputs[0] == kNoValue) continue;
    const ValueId mid = pw.outputs[0];
    if (readers[mid] != 1 || reader[mid] <= static_cast<int>(i)) continue;
    const Node& dw = g.nodes[reader[mid]];
    if (keep_apart(pw) || keep_apart(dw) || !fusable_pointwise_depthwise(g, pw, dw)) continue;
    kernels[i] = std::make_unique<PointwiseDepthwiseKernel>(pw, dw, g);
    partner[i] = reader[mid];
  }
}

}  // namespace eff
