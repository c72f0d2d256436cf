// Elementwise math that oneDNN's eltwise does not cover for every type: Neg, Abs, Sign, Floor,
// Ceil, Reciprocal, Erf, Selu, Not, and Pow (base and exponent of different types, numpy
// broadcasting). Exp, Log, Sqrt, Softplus and Mish on float32 run through oneDNN (activation.cpp).
// Pow by a constant 2, 0.5 or 1 (LayerNorm as exported by paddle2onnx: Pow(x - mean, 2)) takes a
// flat loop without a call to pow().
#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>

#include "engine/ops/broadcast.h"

namespace eff {

namespace {

using namespace ops;

template <class T, class F>
void map_flat(const T* x, T* y, int64_t n, F f) {
#pragma omp parallel for schedule(static) if (n >= kParallelElements)
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

enum class Unary { kNeg, kAbs, kSign, kFloor, kCeil, kReciprocal, kErf, kSelu, kNot };

const char* unary_name(Unary op) {
  switch (op) {
    case Unary::kNeg:
      return "Neg";
    case Unary::kAbs:
      return "Abs";
    case Unary::kSign:
      return "Sign";
    case Unary::kFloor:
      return "Floor";
    case Unary::kCeil:
      return "Ceil";
    case Unary::kReciprocal:
      return "Reciprocal";
    case Unary::kErf:
      return "Erf";
    case Unary::kSelu:
      return "Selu";
    case Unary::kNot:
      return "Not";
  }
  return "?";
}

// Which element types each op is defined for here.
bool unary_accepts(Unary op, DType t) {
  switch (op) {
    case Unary::kNeg:
      return is_numeric(t) && t != DType::kUInt8;
    case Unary::kAbs:
    case Unary::kSign:
    case Unary::kErf:
      return is_numeric(t);
    case Unary::kFloor:
    case Unary::kCeil:
    case Unary::kReciprocal:
    case Unary::kSelu:
      return is_floating(t);
    case Unary::kNot:
      return t == DType::kBool;
  }
  return false;
}

class UnaryKernel final : public Kernel {
 public:
  UnaryKernel(const Node& node, const Graph& graph, Unary op) : op_(op) {
    if (node.num_inputs() != 1 || node.inputs[0] == kNoValue) {
      fail<ModelError>("{}: expects 1 input, got {}", graph.where(node), node.num_inputs());
    }
    const Value& x = graph.value(node.inputs[0]);
    if (x.has_type && !unary_accepts(op, x.dtype)) {
      fail<UnsupportedError>("{}: {} of {} is not supported", graph.where(node), unary_name(op), dtype_name(x.dtype));
    }
    alpha_ = node.attr_float("alpha", 1.67326319217681884765625f);
    gamma_ = node.attr_float("gamma", 1.05070102214813232421875f);
  }

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (!unary_accepts(op_, x.dtype())) {
      fail<ShapeError>("{}: {} of {} is not supported", ctx.where(), unary_name(op_), dtype_name(x.dtype()));
    }
    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    const int64_t n = x.numel();
    if (op_ == Unary::kNot) {
      map_flat(static_cast<const uint8_t*>(x.raw()), static_cast<uint8_t*>(y.raw()), n,
               [](uint8_t v) { return static_cast<uint8_t>(v ? 0 : 1); });
      return;
    }
    visit_numeric(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* xd = x.data<T>();
      T* yd = y.data<T>();
      switch (op_) {
        case Unary::kNeg:
          if constexpr (std::is_signed_v<T> || std::is_floating_point_v<T>) {
            // Through the unsigned type: -INT_MIN wraps like ONNX Runtime instead of overflowing.
            if constexpr (std::is_integral_v<T>) {
              using U = std::make_unsigned_t<T>;
              map_flat(xd, yd, n, [](T v) { return static_cast<T>(U(0) - static_cast<U>(v)); });
            } else {
              map_flat(xd, yd, n, [](T v) { return -v; });
            }
          }
          break;
        case Unary::kAbs:
          if constexpr (std::is_unsigned_v<T>) {
            map_flat(xd, yd, n, [](T v) { return v; });
          } else if constexpr (std::is_integral_v<T>) {
            using U = std::make_unsigned_t<T>;
            map_flat(xd, yd, n, [](T v) { return v < 0 ? static_cast<T>(U(0) - static_cast<U>(v)) : v; });
          } else {
            map_flat(xd, yd, n, [](T v) { return std::fabs(v); });
          }
          break;
        case Unary::kSign:
          map_flat(xd, yd, n, [](T v) {
            if constexpr (std::is_floating_point_v<T>) {
              if (std::isnan(v)) return v;
            }
            return static_cast<T>(v > T(0) ? 1 : v < T(0) ? -1 : 0);
          });
          break;
        case Unary::kErf:
          map_flat(xd, yd, n, [](T v) { return static_cast<T>(std::erf(static_cast<double>(v))); });
          break;
        case Unary::kFloor:
          if constexpr (std::is_floating_point_v<T>) map_flat(xd, yd, n, [](T v) { return std::floor(v); });
          break;
        case Unary::kCeil:
          if constexpr (std::is_floating_point_v<T>) map_flat(xd, yd, n, [](T v) { return std::ceil(v); });
          break;
        case Unary::kReciprocal:
          if constexpr (std::is_floating_point_v<T>) map_flat(xd, yd, n, [](T v) { return T(1) / v; });
          break;
        case Unary::kSelu:
          if constexpr (std::is_floating_point_v<T>) {
            const T alpha = static_cast<T>(alpha_), gamma = static_cast<T>(gamma_);
            map_flat(xd, yd, n, [alpha, gamma](T v) { return v > T(0) ? gamma * v : gamma * alpha * std::expm1(v); });
          }
          break;
        case Unary::kNot:
          break;
      }
    });
  }

  std::string impl() const override { return "loop"; }

 private:
  Unary op_;
  float alpha_ = 0.f, gamma_ = 0.f;
};

// ---- Pow ---------------------------------------------------------------------------------------

// Integer powers wrap around like repeated multiplication in ONNX Runtime; a negative exponent
// gives 0 except for bases 1 and -1.
template <class T>
T integer_pow(T base, int64_t exponent) {
  if (exponent < 0) {
    if (base == T(1)) return T(1);
    if constexpr (std::is_signed_v<T>) {
      if (base == T(-1)) return (exponent & 1) ? T(-1) : T(1);
    }
    return T(0);
  }
  using U = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
  U result = 1, b = static_cast<U>(base);
  for (uint64_t e = static_cast<uint64_t>(exponent); e; e >>= 1) {
    if (e & 1) result = static_cast<U>(result * b);
    b = static_cast<U>(b * b);
  }
  return static_cast<T>(result);
}

template <class T, class E>
inline T pow_element(T base, E exponent) {
  if constexpr (std::is_integral_v<T> && std::is_integral_v<E>) {
    return integer_pow<T>(base, static_cast<int64_t>(exponent));
  } else if constexpr (std::is_same_v<T, float> && std::is_same_v<E, float>) {
    return std::pow(base, exponent);
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(std::pow(static_cast<double>(base), static_cast<double>(exponent)));
  } else {
    // Integer base, floating exponent: computed in double, truncated toward zero (saturating).
    const double r = std::pow(static_cast<double>(base), static_cast<double>(exponent));
    if (!(r == r)) return T(0);
    if (r >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    if (r <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    return static_cast<T>(r);
  }
}

class PowKernel final : public Kernel {
 public:
  PowKernel(const Node& node, const Graph& graph) {
    const std::string where = graph.where(node);
    if (node.num_inputs() != 2 || node.inputs[0] == kNoValue || node.inputs[1] == kNoValue) {
      fail<ModelError>("{}: expects 2 inputs, got {}", where, node.num_inputs());
    }
    require_input_type(node, graph, 0, is_numeric, "a numeric type other than float16");
    require_input_type(node, graph, 1, is_numeric, "a numeric type other than float16");
    if (graph.is_constant(node.inputs[1])) {
      const Tensor& e = graph.constant(node.inputs[1]);
      if (e.numel() == 1 && e.dtype() != DType::kFloat16 && e.dtype() != DType::kBool) {
        constant_exponent_ = e.get_f64(0);
      }
    }
  }

  void run(OpContext& ctx) override {
    const Tensor& base = ctx.input(0);
    const Tensor& exponent = ctx.input(1);
    if (!is_numeric(base.dtype()) || !is_numeric(exponent.dtype())) {
      fail<ShapeError>("{}: Pow of {} by {} is not supported", ctx.where(), dtype_name(base.dtype()),
                       dtype_name(exponent.dtype()));
    }
    const Shape out_shape = broadcast_shapes({base.shape(), exponent.shape()}, ctx);
    Tensor& out = broadcast_output(ctx, 0, base.dtype(), out_shape);
    if (out.numel() == 0) return;
    if (base.dtype() == DType::kFloat32 && out_shape == base.shape() && constant_exponent_ && exponent.numel() == 1 &&
        run_fast_path(base, out)) {
      return;
    }
    visit_numeric(base.dtype(), [&](auto base_tag) {
      using T = decltype(base_tag);
      visit_numeric(exponent.dtype(), [&](auto exp_tag) {
        using E = decltype(exp_tag);
        const T* b = base.data<T>();
        const E* e = exponent.data<E>();
        T* o = out.data<T>();
        for_each_broadcast<2>(
            out_shape, {base.shape(), exponent.shape()},
            [&](int64_t i, const std::array<int64_t, 2>& off) { o[i] = pow_element<T, E>(b[off[0]], e[off[1]]); });
      });
    });
  }

  std::string impl() const override { return "loop"; }

 private:
  bool run_fast_path(const Tensor& base, Tensor& out) const {
    const float* x = base.data<float>();
    float* y = out.data<float>();
    const int64_t n = base.numel();
    if (*constant_exponent_ == 2.0) {
      map_flat(x, y, n, [](float v) { return v * v; });
    } else if (*constant_exponent_ == 0.5) {
      map_flat(x, y, n, [](float v) { return std::sqrt(v); });
    } else if (*constant_exponent_ == 1.0) {
      map_flat(x, y, n, [](float v) { return v; });
    } else {
      return false;
    }
    return true;
  }

  std::optional<double> constant_exponent_;
};

}  // namespace

std::unique_ptr<Kernel> make_neg(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kNeg);
}
std::unique_ptr<Kernel> make_abs(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kAbs);
}
std::unique_ptr<Kernel> make_sign(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kSign);
}
std::unique_ptr<Kernel> make_floor(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kFloor);
}
std::unique_ptr<Kernel> make_ceil(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kCeil);
}
std::unique_ptr<Kernel> make_reciprocal(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kReciprocal);
}
std::unique_ptr<Kernel> make_erf(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kErf);
}
std::unique_ptr<Kernel> make_selu(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kSelu);
}
std::unique_ptr<Kernel> make_not(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kNot);
}
std::unique_ptr<Kernel> make_pow(const Node& n, const Graph& g) {
  return std::make_unique<PowKernel>(n, g);
}

}  // namespace eff
