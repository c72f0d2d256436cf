// Elementwise math that oneDNN's eltwise does not cover for every type: Neg, Abs, Sign, Floor,
// Ceil, Round, Reciprocal, Erf, Selu, Celu, Softsign, ThresholdedRelu, the trigonometric and
// hyperbolic functions, IsNaN, IsInf, Not, and Pow (base and exponent of different types, numpy
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

enum class Unary {
  kNeg,
  kAbs,
  kSign,
  kFloor,
  kCeil,
  kRound,
  kReciprocal,
  kErf,
  kSelu,
  kCelu,
  kSoftsign,
  kThresholdedRelu,
  kShrink,
  kSin,
  kCos,
  kTan,
  kAsin,
  kAcos,
  kAtan,
  kSinh,
  kCosh,
  kAsinh,
  kAcosh,
  kAtanh,
  kIsNaN,
  kIsInf,
  kNot
};

// The float-only functions that map one value to another with a plain libm call.
template <class T>
inline T float_function(Unary op, T v) {
  switch (op) {
    case Unary::kSin:
      return std::sin(v);
    case Unary::kCos:
      return std::cos(v);
    case Unary::kTan:
      return std::tan(v);
    case Unary::kAsin:
      return std::asin(v);
    case Unary::kAcos:
      return std::acos(v);
    case Unary::kAtan:
      return std::atan(v);
    case Unary::kSinh:
      return std::sinh(v);
    case Unary::kCosh:
      return std::cosh(v);
    case Unary::kAsinh:
      return std::asinh(v);
    case Unary::kAcosh:
      return std::acosh(v);
    case Unary::kAtanh:
      return std::atanh(v);
    case Unary::kRound:
      return std::nearbyint(v);  // half to even under the default rounding mode, as ONNX says
    case Unary::kSoftsign:
      return v / (T(1) + std::fabs(v));
    default:
      return v;
  }
}

bool is_float_function(Unary op) {
  return (op >= Unary::kSin && op <= Unary::kAtanh) || op == Unary::kRound || op == Unary::kSoftsign;
}

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
    case Unary::kRound:
      return "Round";
    case Unary::kCelu:
      return "Celu";
    case Unary::kSoftsign:
      return "Softsign";
    case Unary::kThresholdedRelu:
      return "ThresholdedRelu";
    case Unary::kShrink:
      return "Shrink";
    case Unary::kIsNaN:
      return "IsNaN";
    case Unary::kIsInf:
      return "IsInf";
    default:
      return "a trigonometric function";
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
    case Unary::kNot:
      return t == DType::kBool;
    default:
      return is_floating(t);
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
    const float default_alpha = op == Unary::kSelu ? 1.67326319217681884765625f : 1.f;
    alpha_ = node.attr_float("alpha", default_alpha);
    detect_negative_ = node.attr_int("detect_negative", 1) != 0;
    detect_positive_ = node.attr_int("detect_positive", 1) != 0;
    gamma_ = node.attr_float("gamma", 1.05070102214813232421875f);
    lambd_ = node.attr_float("lambd", 0.5f);
    bias_ = node.attr_float("bias", 0.0f);
  }

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (!unary_accepts(op_, x.dtype())) {
      fail<ShapeError>("{}: {} of {} is not supported", ctx.where(), unary_name(op_), dtype_name(x.dtype()));
    }
    const int64_t n = x.numel();
    if (op_ == Unary::kIsNaN || op_ == Unary::kIsInf) {
      Tensor& flags = ctx.output(0, DType::kBool, x.shape());
      uint8_t* f = static_cast<uint8_t*>(flags.raw());
      const bool is_nan = op_ == Unary::kIsNaN, neg = detect_negative_, pos = detect_positive_;
      visit_numeric(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        if constexpr (std::is_floating_point_v<T>) {
          const T* xd = x.data<T>();
          for (int64_t i = 0; i < n; ++i) {
            const T v = xd[i];
            f[i] = is_nan ? std::isnan(v) : std::isinf(v) && (v > 0 ? pos : neg);
          }
        }
      });
      return;
    }
    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    if (op_ == Unary::kNot) {
      map_flat(static_cast<const uint8_t*>(x.raw()), static_cast<uint8_t*>(y.raw()), n,
               [](uint8_t v) { return static_cast<uint8_t>(v ? 0 : 1); });
      return;
    }
    const Unary op = op_;
    visit_numeric(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* xd = x.data<T>();
      T* yd = y.data<T>();
      switch (op) {
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
        case Unary::kCelu:
          if constexpr (std::is_floating_point_v<T>) {
            const T alpha = static_cast<T>(alpha_);
            map_flat(xd, yd, n, [alpha](T v) { return v > T(0) ? v : alpha * std::expm1(v / alpha); });
          }
          break;
        case Unary::kThresholdedRelu:
          if constexpr (std::is_floating_point_v<T>) {
            const T alpha = static_cast<T>(alpha_);
            map_flat(xd, yd, n, [alpha](T v) { return v > alpha ? v : T(0); });
          }
          break;
        case Unary::kShrink:
          if constexpr (std::is_floating_point_v<T>) {
            const T lambd = static_cast<T>(lambd_), bias = static_cast<T>(bias_);
            map_flat(xd, yd, n, [lambd, bias](T v) { return v < -lambd ? v + bias : v > lambd ? v - bias : T(0); });
          }
          break;
        default:
          if constexpr (std::is_floating_point_v<T>) {
            if (is_float_function(op)) map_flat(xd, yd, n, [op](T v) { return float_function<T>(op, v); });
          }
          break;
      }
    });
  }

  std::string impl() const override { return "loop"; }

 private:
  Unary op_;
  float alpha_ = 0.f, gamma_ = 0.f, lambd_ = 0.5f, bias_ = 0.f;
  bool detect_negative_ = true, detect_positive_ = true;
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

// ---- Mod ---------------------------------------------------------------------------------------

// fmod=0: integer remainder with the divisor's sign (Python's %); fmod=1: C's fmod, the
// dividend's sign (the only choice ONNX allows for floats).
class ModKernel final : public Kernel {
 public:
  ModKernel(const Node& node, const Graph& graph) : fmod_(node.attr_int("fmod", 0) != 0) {
    if (node.num_inputs() != 2 || node.inputs[0] == kNoValue || node.inputs[1] == kNoValue) {
      fail<ModelError>("{}: expects 2 inputs, got {}", graph.where(node), node.num_inputs());
    }
    require_input_type(node, graph, 0, is_numeric, "a numeric type other than float16");
    const Value& a = graph.value(node.inputs[0]);
    if (a.has_type && is_floating(a.dtype) && !fmod_) {
      fail<ModelError>("{}: floating-point Mod needs fmod=1", graph.where(node));
    }
  }

  void run(OpContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    if (a.dtype() != b.dtype() || !is_numeric(a.dtype())) {
      fail<ShapeError>("{}: Mod of {} by {} is not supported", ctx.where(), dtype_name(a.dtype()),
                       dtype_name(b.dtype()));
    }
    if (is_floating(a.dtype()) && !fmod_) fail<ModelError>("{}: floating-point Mod needs fmod=1", ctx.where());
    const Shape out_shape = broadcast_shapes({a.shape(), b.shape()}, ctx);
    Tensor& out = broadcast_output(ctx, 0, a.dtype(), out_shape);
    const bool c_fmod = fmod_;
    visit_numeric(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* x = a.data<T>();
      const T* y = b.data<T>();
      if constexpr (std::is_integral_v<T>) {
        for (int64_t i = 0; i < b.numel(); ++i) {
          if (y[i] == T(0)) fail<DataError>("{}: integer Mod by zero", ctx.where());
        }
      }
      T* o = out.data<T>();
      for_each_broadcast<2>(out_shape, {a.shape(), b.shape()}, [&](int64_t i, const std::array<int64_t, 2>& off) {
        const T n = x[off[0]], d = y[off[1]];
        if constexpr (std::is_floating_point_v<T>) {
          o[i] = std::fmod(n, d);
        } else {
          // In int64 so that MIN % -1 is 0 instead of a trap.
          const int64_t r = d == T(-1) ? 0 : static_cast<int64_t>(n) % static_cast<int64_t>(d);
          o[i] = static_cast<T>(!c_fmod && r != 0 && ((r < 0) != (d < T(0))) ? r + static_cast<int64_t>(d) : r);
        }
      });
    });
  }

  std::string impl() const override { return "loop"; }

 private:
  bool fmod_;
};

}  // namespace

std::unique_ptr<Kernel> make_mod(const Node& n, const Graph& g) {
  return std::make_unique<ModKernel>(n, g);
}
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
std::unique_ptr<Kernel> make_round(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kRound);
}
std::unique_ptr<Kernel> make_celu(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kCelu);
}
std::unique_ptr<Kernel> make_softsign(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kSoftsign);
}
std::unique_ptr<Kernel> make_thresholded_relu(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kThresholdedRelu);
}
std::unique_ptr<Kernel> make_shrink(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kShrink);
}
std::unique_ptr<Kernel> make_sin(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kSin);
}
std::unique_ptr<Kernel> make_cos(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kCos);
}
std::unique_ptr<Kernel> make_tan(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kTan);
}
std::unique_ptr<Kernel> make_asin(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kAsin);
}
std::unique_ptr<Kernel> make_acos(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kAcos);
}
std::unique_ptr<Kernel> make_atan(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kAtan);
}
std::unique_ptr<Kernel> make_sinh(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kSinh);
}
std::unique_ptr<Kernel> make_cosh(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kCosh);
}
std::unique_ptr<Kernel> make_asinh(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kAsinh);
}
std::unique_ptr<Kernel> make_acosh(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kAcosh);
}
std::unique_ptr<Kernel> make_atanh(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kAtanh);
}
std::unique_ptr<Kernel> make_isnan(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kIsNaN);
}
std::unique_ptr<Kernel> make_isinf(const Node& n, const Graph& g) {
  return std::make_unique<UnaryKernel>(n, g, Unary::kIsInf);
}
std::unique_ptr<Kernel> make_pow(const Node& n, const Graph& g) {
  return std::make_unique<PowKernel>(n, g);
}

}  // namespace eff
