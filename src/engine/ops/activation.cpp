// Elementwise activations. The piecewise-linear ones (Relu, LeakyRelu, HardSigmoid, HardSwish,
// Clip) are plain loops the compiler vectorises; the exponential ones (Sigmoid, Tanh, Elu) use
// oneDNN's JIT eltwise, since libm's expf does not vectorise without -ffast-math. Both are
// parallel over large tensors with a static split of independent elements, so results do not
// depend on the thread count.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <unordered_map>

#include "engine/ops/dnnl_common.h"

namespace eff {

namespace {

using namespace ops;

// y[i] = f(x[i]) over n elements, split into contiguous per-thread ranges when large.
template <class T, class F>
void map_elements(const T* x, T* y, int64_t n, F f) {
  if (n < kParallelMin) {
    for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

enum class Linear { kRelu, kLeakyRelu, kHardSigmoid, kHardSwish };

class LinearActivationKernel final : public Kernel {
 public:
  LinearActivationKernel(const Node& node, const Graph& graph, Linear kind) : kind_(kind) {
    if (node.num_inputs() != 1) fail<ModelError>("{}: expects 1 input, got {}", graph.where(node), node.num_inputs());
    require_f32_model(node, graph, 0);
    switch (kind_) {
      case Linear::kRelu:
        break;
      case Linear::kLeakyRelu:
        alpha_ = node.attr_float("alpha", 0.01f);
        break;
      case Linear::kHardSigmoid:
        alpha_ = node.attr_float("alpha", 0.2f);
        beta_ = node.attr_float("beta", 0.5f);
        break;
      case Linear::kHardSwish:
        alpha_ = 1.f / 6.f;
        beta_ = 0.5f;
        break;
    }
  }

  void run(OpContext& ctx) override {
    const Tensor& x = f32_input(ctx, 0);
    Tensor& y = ctx.output(0, DType::kFloat32, x.shape());
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    const int64_t n = x.numel();
    const float alpha = alpha_, beta = beta_;
    switch (kind_) {
      case Linear::kRelu:
        map_elements(xd, yd, n, [](float v) { return std::max(v, 0.f); });
        break;
      case Linear::kLeakyRelu:
        map_elements(xd, yd, n, [alpha](float v) { return v < 0.f ? v * alpha : v; });
        break;
      case Linear::kHardSigmoid:
        // NaN stays NaN, as in ONNX Runtime (std::max(0, NaN) is 0; std::max(NaN, 0) is NaN).
        map_elements(xd, yd, n, [alpha, beta](float v) { return std::min(std::max(alpha * v + beta, 0.f), 1.f); });
        break;
      case Linear::kHardSwish:
        map_elements(xd, yd, n, [alpha, beta](float v) { return v * std::min(1.f, std::max(0.f, alpha * v + beta)); });
        break;
    }
  }

  std::string impl() const override { return "loop"; }

 private:
  Linear kind_;
  float alpha_ = 0.f, beta_ = 0.f;
};

// ---- Clip --------------------------------------------------------------------------------------

// Calls f(T{}) for the numeric types Clip accepts (float16 and bool are refused before).
template <class F>
void visit_clip_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32:
      return f(float{});
    case DType::kFloat64:
      return f(double{});
    case DType::kInt64:
      return f(int64_t{});
    case DType::kInt32:
      return f(int32_t{});
    case DType::kInt16:
      return f(int16_t{});
    case DType::kInt8:
      return f(int8_t{});
    case DType::kUInt8:
      return f(uint8_t{});
    case DType::kFloat16:
    case DType::kBool:
      break;
  }
}

class ClipKernel final : public Kernel {
 public:
  ClipKernel(const Node& node, const Graph& graph) {
    const std::string where = graph.where(node);
    // Before opset 11 the bounds are attributes, from 11 on optional inputs.
    bounds_as_attrs_ = (graph.opset > 0 && graph.opset < 11) || node.has_attr("min") || node.has_attr("max");
    if (bounds_as_attrs_) {
      if (node.num_inputs() != 1) fail<ModelError>("{}: expects 1 input, got {}", where, node.num_inputs());
      min_attr_ = node.attr_float("min", -std::numeric_limits<float>::max());
      max_attr_ = node.attr_float("max", std::numeric_limits<float>::max());
    } else if (node.num_inputs() < 1 || node.num_inputs() > 3) {
      fail<ModelError>("{}: expects 1 to 3 inputs, got {}", where, node.num_inputs());
    }
    const Value& x = graph.value(node.inputs.at(0));
    if (x.has_type && x.dtype == DType::kFloat16) {
      fail<UnsupportedError>("{}: float16 input is not supported", where);
    }
  }

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() == DType::kFloat16 || x.dtype() == DType::kBool) {
      fail<ShapeError>("{}: input type {} is not supported", ctx.where(), dtype_name(x.dtype()));
    }
    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    visit_clip_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
      if (bounds_as_attrs_) {
        lo = static_cast<T>(min_attr_);
        hi = static_cast<T>(max_attr_);
        if constexpr (std::is_same_v<T, double>) {
          if (min_attr_ == -std::numeric_limits<float>::max()) lo = std::numeric_limits<double>::lowest();
          if (max_attr_ == std::numeric_limits<float>::max()) hi = std::numeric_limits<double>::max();
        }
      } else {
        if (ctx.has_input(1)) lo = bound<T>(ctx, 1);
        if (ctx.has_input(2)) hi = bound<T>(ctx, 2);
      }
      const T* xd = x.data<T>();
      T* yd = y.data<T>();
      map_elements(xd, yd, x.numel(), [lo, hi](T v) { return std::min(std::max(v, lo), hi); });
    });
  }

  std::string impl() const override { return "loop"; }

 private:
  template <class T>
  static T bound(const OpContext& ctx, int i) {
    const Tensor& t = ctx.input(i);
    if (t.numel() != 1 || t.dtype() != ctx.input(0).dtype()) {
      fail<ShapeError>("{}: input {} must be a single {} value, got {} {}", ctx.where(), i,
                       dtype_name(ctx.input(0).dtype()), dtype_name(t.dtype()), shape_str(t.shape()));
    }
    return t.data<T>()[0];
  }

  bool bounds_as_attrs_ = false;
  float min_attr_ = 0.f, max_attr_ = 0.f;
};

// ---- Sigmoid, Tanh, Elu (oneDNN eltwise) --------------------------------------------------------

class EltwiseKernel final : public Kernel {
 public:
  EltwiseKernel(const Node& node, const Graph& graph, dnnl::algorithm alg, float alpha) : alg_(alg), alpha_(alpha) {
    if (node.num_inputs() != 1) fail<ModelError>("{}: expects 1 input, got {}", graph.where(node), node.num_inputs());
    require_f32_model(node, graph, 0);
  }

  void run(OpContext& ctx) override {
    const Tensor& x = f32_input(ctx, 0);
    Tensor& y = ctx.output(0, DType::kFloat32, x.shape());
    if (x.numel() == 0) return;
    Plan& plan = plan_for(ctx, x.numel());
    plan.src.set_data_handle(mutable_data(x));
    plan.dst.set_data_handle(y.raw());
    bind_scratchpad(plan.args, ctx.dnnl());
    plan.prim.execute(ctx.dnnl().stream, plan.args);
    ctx.dnnl().stream.wait();
  }

  std::string impl() const override { return impl_; }

 private:
  struct Plan {
    int64_t numel = 0;
    int threads = 0;
    dnnl::eltwise_forward prim;
    dnnl::memory src, dst;
    std::unordered_map<int, dnnl::memory> args;
  };

  // Elementwise: the tensor is one flat vector, so only the element count matters.
  Plan& plan_for(OpContext& ctx, int64_t numel) {
    const int threads = current_threads();
    for (auto& p : plans_) {
      if (p->numel == numel && p->threads == threads) return *p;
    }
    if (plans_.size() >= 8) plans_.erase(plans_.begin());
    auto p = std::make_unique<Plan>();
    p->numel = numel;
    p->threads = threads;
    const dnnl::engine& engine = ctx.dnnl().engine;
    const dnnl::memory::desc md = plain_desc({numel});
    dnnl::eltwise_forward::primitive_desc pd;
    try {
      dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, alg_, md, alpha_, 0.f);
      pd = dnnl::eltwise_forward::primitive_desc(d, user_scratchpad_attr(), engine);
    } catch (const dnnl::error& e) {
      fail<UnsupportedError>("{}: oneDNN eltwise failed: {}", ctx.where(), e.what());
    }
    p->prim = dnnl::eltwise_forward(pd);
    impl_ = dnnl_impl_name(pd);
    scratchpad_.reserve(pd, engine);
    p->src = dnnl::memory(md, engine, nullptr);
    p->dst = dnnl::memory(md, engine, nullptr);
    p->args = {{DNNL_ARG_SRC, p->src}, {DNNL_ARG_DST, p->dst}};
    if (!scratchpad_.empty()) p->args[DNNL_ARG_SCRATCHPAD] = scratchpad_.memory();
    plans_.push_back(std::move(p));
    return *plans_.back();
  }

  dnnl::algorithm alg_;
  float alpha_;
  std::vector<std::unique_ptr<Plan>> plans_;
  Scratchpad scratchpad_;
  std::string impl_ = "dnnl";
};

}  // namespace

std::unique_ptr<Kernel> make_relu(const Node& node, const Graph& graph) {
  return std::make_unique<LinearActivationKernel>(node, graph, Linear::kRelu);
}

std::unique_ptr<Kernel> make_leaky_relu(const Node& node, const Graph& graph) {
  return std::make_unique<LinearActivationKernel>(node, graph, Linear::kLeakyRelu);
}

std::unique_ptr<Kernel> make_hard_sigmoid(const Node& node, const Graph& graph) {
  return std::make_unique<LinearActivationKernel>(node, graph, Linear::kHardSigmoid);
}

std::unique_ptr<Kernel> make_hard_swish(const Node& node, const Graph& graph) {
  return std::make_unique<LinearActivationKernel>(node, graph, Linear::kHardSwish);
}

std::unique_ptr<Kernel> make_clip(const Node& node, const Graph& graph) {
  return std::make_unique<ClipKernel>(node, graph);
}

std::unique_ptr<Kernel> make_sigmoid(const Node& node, const Graph& graph) {
  return std::make_unique<EltwiseKernel>(node, graph, dnnl::algorithm::eltwise_logistic, 0.f);
}

std::unique_ptr<Kernel> make_tanh(const Node& node, const Graph& graph) {
  return std::make_unique<EltwiseKernel>(node, graph, dnnl::algorithm::eltwise_tanh, 0.f);
}

std::unique_ptr<Kernel> make_elu(const Node& node, const Graph& graph) {
  return std::make_unique<EltwiseKernel>(node, graph, dnnl::algorithm::eltwise_elu, node.attr_float("alpha", 1.f));
}

// Exp, Log, Sqrt, Softplus and Mish on float32: oneDNN's vectorised eltwise (libm's expf/logf do
// not vectorise without -ffast-math).
std::unique_ptr<Kernel> make_exp(const Node& node, const Graph& graph) {
  return std::make_unique<EltwiseKernel>(node, graph, dnnl::algorithm::eltwise_exp, 0.f);
}

std::unique_ptr<Kernel> make_log(const Node& node, const Graph& graph) {
  return std::make_unique<EltwiseKernel>(node, graph, dnnl::algorithm::eltwise_log, 0.f);
}

std::unique_ptr<Kernel> make_sqrt(const Node& node, const Graph& graph) {
  return std::make_unique<EltwiseKernel>(node, graph, dnnl::algorithm::eltwise_sqrt, 0.f);
}

std::unique_ptr<Kernel> make_softplus(const Node& node, const Graph& graph) {
  return std::make_unique<EltwiseKernel>(node, graph, dnnl::algorithm::eltwise_soft_relu, 0.f);
}

std::unique_ptr<Kernel> make_mish(const Node& node, const Graph& graph) {
  return std::make_unique<EltwiseKernel>(node, graph, dnnl::algorithm::eltwise_mish, 0.f);
}

}  // namespace eff
