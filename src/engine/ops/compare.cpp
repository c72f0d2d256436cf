// Comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual -> bool), logic on bool tensors
// (And, Or, Xor), Where, and the variadic Min, Max, Sum, Mean, all with numpy broadcasting.
// Bool tensors hold one byte per element, 0 or 1.
#include <cmath>
#include <type_traits>

#include "engine/ops/broadcast.h"

namespace eff {

namespace {

using namespace ops;

enum class Compare { kEqual, kLess, kGreater, kLessOrEqual, kGreaterOrEqual, kAnd, kOr, kXor };

bool is_logical(Compare op) {
  return op == Compare::kAnd || op == Compare::kOr || op == Compare::kXor;
}

template <class T>
inline bool compare(Compare op, T a, T b) {
  switch (op) {
    case Compare::kEqual:
      return a == b;
    case Compare::kLess:
      return a < b;
    case Compare::kGreater:
      return a > b;
    case Compare::kLessOrEqual:
      return a <= b;
    case Compare::kGreaterOrEqual:
      return a >= b;
    case Compare::kAnd:
      return a && b;
    case Compare::kOr:
      return a || b;
    case Compare::kXor:
      return (a != T(0)) != (b != T(0));
  }
  return false;
}

class CompareKernel final : public Kernel {
 public:
  CompareKernel(const Node& node, const Graph& graph, Compare op) : op_(op) {
    if (node.num_inputs() != 2 || node.inputs[0] == kNoValue || node.inputs[1] == kNoValue) {
      fail<ModelError>("{}: expects 2 inputs, got {}", graph.where(node), node.num_inputs());
    }
    for (int i = 0; i < 2; ++i) {
      if (is_logical(op)) {
        require_input_type(
            node, graph, i, [](DType t) { return t == DType::kBool; }, "bool");
      } else {
        require_input_type(
            node, graph, i, [](DType t) { return t != DType::kFloat16; }, "a type other than float16");
      }
    }
  }

  void run(OpContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    if (a.dtype() != b.dtype() || (is_logical(op_) && a.dtype() != DType::kBool) || a.dtype() == DType::kFloat16) {
      fail<ShapeError>("{}: inputs of types {} and {} are not supported", ctx.where(), dtype_name(a.dtype()),
                       dtype_name(b.dtype()));
    }
    const Shape out_shape = broadcast_shapes({a.shape(), b.shape()}, ctx);
    Tensor& out = broadcast_output(ctx, 0, DType::kBool, out_shape);
    uint8_t* o = static_cast<uint8_t*>(out.raw());
    const Compare op = op_;
    auto go = [&](auto tag) {
      using T = decltype(tag);
      const T* x = static_cast<const T*>(a.raw());
      const T* y = static_cast<const T*>(b.raw());
      for_each_broadcast<2>(out_shape, {a.shape(), b.shape()}, [&](int64_t i, const std::array<int64_t, 2>& off) {
        o[i] = compare<T>(op, x[off[0]], y[off[1]]) ? 1 : 0;
      });
    };
    if (a.dtype() == DType::kBool) {
      go(uint8_t{});
    } else {
      visit_numeric(a.dtype(), go);
    }
  }

  std::string impl() const override { return "loop"; }

 private:
  Compare op_;
};

// ---- Where -------------------------------------------------------------------------------------

class WhereKernel final : public Kernel {
 public:
  WhereKernel(const Node& node, const Graph& graph) {
    if (node.num_inputs() != 3) fail<ModelError>("{}: expects 3 inputs, got {}", graph.where(node), node.num_inputs());
    require_input_type(
        node, graph, 0, [](DType t) { return t == DType::kBool; }, "bool");
  }

  void run(OpContext& ctx) override {
    const Tensor& cond = ctx.input(0);
    const Tensor& x = ctx.input(1);
    const Tensor& y = ctx.input(2);
    if (cond.dtype() != DType::kBool) {
      fail<ShapeError>("{}: the condition must be bool, got {}", ctx.where(), dtype_name(cond.dtype()));
    }
    if (x.dtype() != y.dtype()) {
      fail<ShapeError>("{}: X and Y have different types ({} and {})", ctx.where(), dtype_name(x.dtype()),
                       dtype_name(y.dtype()));
    }
    const Shape out_shape = broadcast_shapes({cond.shape(), x.shape(), y.shape()}, ctx);
    Tensor& out = broadcast_output(ctx, 0, x.dtype(), out_shape);
    const uint8_t* c = static_cast<const uint8_t*>(cond.raw());
    // Elements are copied, never looked at: their bits of the right width suffice.
    visit_element_bits(x.dtype(), [&](auto tag) {
      using U = decltype(tag);
      const U* xd = static_cast<const U*>(x.raw());
      const U* yd = static_cast<const U*>(y.raw());
      U* o = static_cast<U*>(out.raw());
      for_each_broadcast<3>(
          out_shape, {cond.shape(), x.shape(), y.shape()},
          [&](int64_t i, const std::array<int64_t, 3>& off) { o[i] = c[off[0]] ? xd[off[1]] : yd[off[2]]; });
    });
  }

  std::string impl() const override { return "loop"; }
};

// ---- Min, Max, Sum, Mean -----------------------------------------------------------------------

enum class Variadic { kMin, kMax, kSum, kMean };

template <class T>
inline T combine(Variadic op, T acc, T v) {
  if constexpr (std::is_floating_point_v<T>) {
    if ((op == Variadic::kMin || op == Variadic::kMax) && (std::isnan(acc) || std::isnan(v))) {
      return std::numeric_limits<T>::quiet_NaN();
    }
  }
  switch (op) {
    case Variadic::kMin:
      return v < acc ? v : acc;
    case Variadic::kMax:
      return v > acc ? v : acc;
    case Variadic::kSum:
    case Variadic::kMean:
      if constexpr (std::is_integral_v<T>) {
        using U = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
        return static_cast<T>(static_cast<U>(acc) + static_cast<U>(v));
      } else {
        return acc + v;
      }
  }
  return acc;
}

class VariadicKernel final : public Kernel {
 public:
  VariadicKernel(const Node& node, const Graph& graph, Variadic op) : op_(op) {
    if (node.num_inputs() < 1) fail<ModelError>("{}: expects at least 1 input", graph.where(node));
    const bool floating_only = op == Variadic::kSum || op == Variadic::kMean;
    for (int i = 0; i < node.num_inputs(); ++i) {
      if (node.inputs[i] == kNoValue) fail<ModelError>("{}: input {} is missing", graph.where(node), i);
      if (floating_only) {
        require_input_type(node, graph, i, is_floating, "float32 or float64");
      } else {
        require_input_type(node, graph, i, is_numeric, "a numeric type other than float16");
      }
    }
  }

  void run(OpContext& ctx) override {
    const int n = ctx.num_inputs();
    const Tensor& first = ctx.input(0);
    std::vector<Shape> shapes;
    for (int i = 0; i < n; ++i) {
      const Tensor& t = ctx.input(i);
      if (t.dtype() != first.dtype()) {
        fail<ShapeError>("{}: input {} is {}, input 0 is {}", ctx.where(), i, dtype_name(t.dtype()),
                         dtype_name(first.dtype()));
      }
      shapes.push_back(t.shape());
    }
    const bool floating_only = op_ == Variadic::kSum || op_ == Variadic::kMean;
    if (floating_only ? !is_floating(first.dtype()) : !is_numeric(first.dtype())) {
      fail<ShapeError>("{}: inputs of type {} are not supported", ctx.where(), dtype_name(first.dtype()));
    }
    const Shape out_shape = broadcast_shapes(shapes, ctx);
    Tensor& out = broadcast_output(ctx, 0, first.dtype(), out_shape);
    const Variadic op = op_;
    visit_numeric(first.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* o = out.data<T>();
      const T* x0 = first.data<T>();
      for_each_broadcast<1>(out_shape, {first.shape()},
                            [&](int64_t i, const std::array<int64_t, 1>& off) { o[i] = x0[off[0]]; });
      // The output is read at its own shape while each further input broadcasts into it.
      for (int k = 1; k < n; ++k) {
        const T* xk = ctx.input(k).data<T>();
        for_each_broadcast<1>(out_shape, {ctx.input(k).shape()}, [&](int64_t i, const std::array<int64_t, 1>& off) {
          o[i] = combine<T>(op, o[i], xk[off[0]]);
        });
      }
      if (op == Variadic::kMean) {
        if constexpr (std::is_floating_point_v<T>) {
          const T count = static_cast<T>(n);
          for (int64_t i = 0; i < out.numel(); ++i) o[i] /= count;
        }
      }
    });
  }

  std::string impl() const override { return "loop"; }

 private:
  Variadic op_;
};

}  // namespace

std::unique_ptr<Kernel> make_equal(const Node& n, const Graph& g) {
  return std::make_unique<CompareKernel>(n, g, Compare::kEqual);
}
std::unique_ptr<Kernel> make_less(const Node& n, const Graph& g) {
  return std::make_unique<CompareKernel>(n, g, Compare::kLess);
}
std::unique_ptr<Kernel> make_greater(const Node& n, const Graph& g) {
  return std::make_unique<CompareKernel>(n, g, Compare::kGreater);
}
std::unique_ptr<Kernel> make_less_or_equal(const Node& n, const Graph& g) {
  return std::make_unique<CompareKernel>(n, g, Compare::kLessOrEqual);
}
std::unique_ptr<Kernel> make_greater_or_equal(const Node& n, const Graph& g) {
  return std::make_unique<CompareKernel>(n, g, Compare::kGreaterOrEqual);
}
std::unique_ptr<Kernel> make_and(const Node& n, const Graph& g) {
  return std::make_unique<CompareKernel>(n, g, Compare::kAnd);
}
std::unique_ptr<Kernel> make_or(const Node& n, const Graph& g) {
  return std::make_unique<CompareKernel>(n, g, Compare::kOr);
}
std::unique_ptr<Kernel> make_xor(const Node& n, const Graph& g) {
  return std::make_unique<CompareKernel>(n, g, Compare::kXor);
}
std::unique_ptr<Kernel> make_where(const Node& n, const Graph& g) {
  return std::make_unique<WhereKernel>(n, g);
}
std::unique_ptr<Kernel> make_min(const Node& n, const Graph& g) {
  return std::make_unique<VariadicKernel>(n, g, Variadic::kMin);
}
std::unique_ptr<Kernel> make_max(const Node& n, const Graph& g) {
  return std::make_unique<VariadicKernel>(n, g, Variadic::kMax);
}
std::unique_ptr<Kernel> make_sum(const Node& n, const Graph& g) {
  return std::make_unique<VariadicKernel>(n, g, Variadic::kSum);
}
std::unique_ptr<Kernel> make_mean(const Node& n, const Graph& g) {
  return std::make_unique<VariadicKernel>(n, g, Variadic::kMean);
}

}  // namespace eff
