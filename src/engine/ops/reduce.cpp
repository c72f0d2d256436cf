// ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare,
// ReduceLogSum, ReduceLogSumExp, and ArgMax/ArgMin. Axes come from the 'axes' attribute (before
// opset 13 for ReduceSum, before 18 for the others) or the optional axes input; no axes means all
// axes, or nothing at all with noop_with_empty_axes=1. Floats accumulate in double, so the result
// does not depend on the thread count or the summation order of a vectorised loop.
#include <cmath>
#include <limits>

#include "engine/ops/broadcast.h"

namespace eff {

namespace {

enum class Reduction { kMean, kSum, kMax, kMin, kProd, kL1, kL2, kSumSquare, kLogSum, kLogSumExp };

template <class T>
using Accumulator = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

class ReduceKernel final : public Kernel {
 public:
  ReduceKernel(Reduction op, bool keepdims, bool noop_with_empty_axes)
      : op_(op), keepdims_(keepdims), noop_with_empty_axes_(noop_with_empty_axes) {}

  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const int rank = in.rank();
    const ops::IntOperand axes = ops::int_operand(ctx, "axes", 1);
    std::vector<char> reduced(static_cast<size_t>(rank), 0);
    if (axes.present && !axes.values.empty()) {
      for (int a : ops::normalize_axes(axes.values, rank, ctx)) reduced[a] = 1;
    } else if (noop_with_empty_axes_) {
      Tensor& out = ctx.output(0, in.dtype(), in.shape());
      if (in.nbytes()) std::memcpy(out.raw(), in.raw(), in.nbytes());
      return;
    } else {
      reduced.assign(static_cast<size_t>(rank), 1);
    }

    Shape out_shape;
    Shape kept_shape(in.shape());  // the input shape with reduced axes set to 1
    for (int d = 0; d < rank; ++d) {
      if (reduced[d]) {
        kept_shape[d] = 1;
        if (keepdims_) out_shape.push_back(1);
      } else {
        out_shape.push_back(in.dim(d));
      }
    }
    if ((op_ == Reduction::kMax || op_ == Reduction::kMin) && in.numel() == 0 && shape_numel(kept_shape) > 0) {
      fail<ShapeError>("{}: cannot take the {} of an empty set", ctx.where(), op_ == Reduction::kMax ? "max" : "min");
    }
    Tensor& out = ctx.output(0, in.dtype(), out_shape);
    switch (in.dtype()) {
      case DType::kFloat32:
        reduce<float>(in, kept_shape, reduced, out);
        break;
      case DType::kFloat64:
        reduce<double>(in, kept_shape, reduced, out);
        break;
      case DType::kInt64:
        reduce<int64_t>(in, kept_shape, reduced, out);
        break;
      case DType::kInt32:
        reduce<int32_t>(in, kept_shape, reduced, out);
        break;
      case DType::kInt8:
        reduce<int8_t>(in, kept_shape, reduced, out);
        break;
      case DType::kUInt8:
        reduce<uint8_t>(in, kept_shape, reduced, out);
        break;
      default:
        fail<UnsupportedError>("{}: {} inputs are not supported", ctx.where(), dtype_name(in.dtype()));
    }
  }

 private:
  template <class T>
  void reduce(const Tensor& in, const Shape& kept_shape, const std::vector<char>& reduced, Tensor& out) const {
    using Acc = Accumulator<T>;
    const int64_t n_out = out.numel();
    const int64_t n_in = in.numel();
    const int64_t group = n_out > 0 ? n_in / n_out : 0;  // elements reduced into each output
    std::vector<Acc> acc(static_cast<size_t>(n_out));
    const Acc init = op_ == Reduction::kMax    ? std::numeric_limits<Acc>::lowest()
                     : op_ == Reduction::kMin  ? std::numeric_limits<Acc>::max()
                     : op_ == Reduction::kProd ? Acc(1)
                                               : Acc(0);
    std::fill(acc.begin(), acc.end(), init);

    // Walk the input in order with an odometer; the output offset moves by the kept strides.
    const int rank = in.rank();
    const std::vector<int64_t> out_strides_kept = ops::strides_of(kept_shape);
    std::vector<int64_t> step(static_cast<size_t>(rank));
    for (int d = 0; d < rank; ++d) step[d] = reduced[d] ? 0 : out_strides_kept[d];
    std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
    const T* src = in.data<T>();
    int64_t o = 0;
    const int64_t inner = rank > 0 ? in.dim(rank - 1) : 1;
    const int64_t inner_step = rank > 0 ? step[rank - 1] : 0;
    for (int64_t i = 0; i < n_in; i += inner) {
      const T* row = src + i;
      Acc* a = acc.data() + o;
      if (inner_step == 0) {
        Acc v = *a;
        for (int64_t j = 0; j < inner; ++j) v = combine(v, static_cast<Acc>(row[j]));
        *a = v;
      } else {
        for (int64_t j = 0; j < inner; ++j) a[j] = combine(a[j], static_cast<Acc>(row[j]));
      }
      for (int d = rank - 2; d >= 0; --d) {  // advance the odometer past the inner row
        o += step[d];
        if (++idx[d] < in.dim(d)) break;
        o -= step[d] * in.dim(d);
        idx[d] = 0;
      }
    }

    T* dst = out.data<T>();
    for (int64_t k = 0; k < n_out; ++k) {
      Acc v = acc[k];
      if (op_ == Reduction::kMean) {
        if constexpr (std::is_floating_point_v<T>) {
          v = group > 0 ? v / static_cast<double>(group) : std::numeric_limits<double>::quiet_NaN();
        } else {
          v = group > 0 ? v / group : 0;
        }
      } else if (op_ == Reduction::kL2) {
        v = static_cast<Acc>(std::sqrt(static_cast<double>(v)));
      } else if (op_ == Reduction::kLogSum || op_ == Reduction::kLogSumExp) {
        v = static_cast<Acc>(std::log(static_cast<double>(v)));
      }
      dst[k] = static_cast<T>(v);
    }
  }

  template <class Acc>
  Acc combine(Acc acc, Acc v) const {
    // Integers wrap around (two's complement) instead of overflowing, like ONNX Runtime.
    auto add = [](Acc a, Acc b) {
      if constexpr (std::is_integral_v<Acc>) {
        return static_cast<Acc>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
      } else {
        return a + b;
      }
    };
    auto mul = [](Acc a, Acc b) {
      if constexpr (std::is_integral_v<Acc>) {
        return static_cast<Acc>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
      } else {
        return a * b;
      }
    };
    switch (op_) {
      case Reduction::kMean:
      case Reduction::kSum:
      case Reduction::kLogSum:
        return add(acc, v);
      case Reduction::kProd:
        return mul(acc, v);
      case Reduction::kL1:
        return add(acc, v < Acc(0) ? mul(v, Acc(-1)) : v);
      case Reduction::kL2:
      case Reduction::kSumSquare:
        return add(acc, mul(v, v));
      case Reduction::kLogSumExp:
        return acc + static_cast<Acc>(std::exp(static_cast<double>(v)));
      case Reduction::kMax:
        if constexpr (std::is_floating_point_v<Acc>) {
          if (std::isnan(v) || std::isnan(acc)) return std::numeric_limits<Acc>::quiet_NaN();
        }
        return v > acc ? v : acc;
      case Reduction::kMin:
        if constexpr (std::is_floating_point_v<Acc>) {
          if (std::isnan(v) || std::isnan(acc)) return std::numeric_limits<Acc>::quiet_NaN();
        }
        return v < acc ? v : acc;
    }
    return acc;
  }

  Reduction op_;
  bool keepdims_;
  bool noop_with_empty_axes_;
};

std::unique_ptr<Kernel> make_reduce(Reduction op, const Node& node) {
  return std::make_unique<ReduceKernel>(op, node.attr_int("keepdims", 1) != 0,
                                        node.attr_int("noop_with_empty_axes", 0) != 0);
}

// ---- ArgMax, ArgMin ----------------------------------------------------------------------------

// Index (int64) of the first, or with select_last_index=1 the last, largest/smallest element
// along one axis. A NaN wins like in ONNX Runtime's comparison order: it is never replaced.
class ArgReduceKernel final : public Kernel {
 public:
  ArgReduceKernel(bool is_max, int64_t axis, bool keepdims, bool select_last)
      : is_max_(is_max), axis_(axis), keepdims_(keepdims), select_last_(select_last) {}

  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const int axis = ops::normalize_axis(axis_, std::max(in.rank(), 1), ctx);
    const int64_t len = in.rank() == 0 ? 1 : in.dim(axis);
    if (len == 0) fail<ShapeError>("{}: axis {} is empty", ctx.where(), axis);
    Shape out_shape;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < in.rank(); ++d) {
      if (d < axis) outer *= in.dim(d);
      if (d > axis) inner *= in.dim(d);
      if (d != axis) {
        out_shape.push_back(in.dim(d));
      } else if (keepdims_) {
        out_shape.push_back(1);
      }
    }
    Tensor& out = ctx.output(0, DType::kInt64, out_shape);
    int64_t* o = out.data<int64_t>();
    const bool is_max = is_max_, last = select_last_;
    const bool ok = ops::visit_numeric(in.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* x = in.data<T>();
#pragma omp parallel for schedule(static) if (in.numel() >= ops::kParallelElements)
      for (int64_t o_i = 0; o_i < outer * inner; ++o_i) {
        const int64_t a = o_i / inner, b = o_i % inner;
        const T* p = x + a * len * inner + b;
        int64_t best = 0;
        for (int64_t j = 1; j < len; ++j) {
          const T v = p[j * inner], cur = p[best * inner];
          const bool better = is_max ? (last ? v >= cur : v > cur) : (last ? v <= cur : v < cur);
          if (better) best = j;
        }
        o[o_i] = best;
      }
    });
    if (!ok) fail<UnsupportedError>("{}: {} inputs are not supported", ctx.where(), dtype_name(in.dtype()));
  }

 private:
  bool is_max_;
  int64_t axis_;
  bool keepdims_;
  bool select_last_;
};

}  // namespace

std::unique_ptr<Kernel> make_reduce_mean(const Node& n, const Graph&) {
  return make_reduce(Reduction::kMean, n);
}
std::unique_ptr<Kernel> make_reduce_sum(const Node& n, const Graph&) {
  return make_reduce(Reduction::kSum, n);
}
std::unique_ptr<Kernel> make_reduce_max(const Node& n, const Graph&) {
  return make_reduce(Reduction::kMax, n);
}
std::unique_ptr<Kernel> make_reduce_min(const Node& n, const Graph&) {
  return make_reduce(Reduction::kMin, n);
}

std::unique_ptr<Kernel> make_reduce_prod(const Node& n, const Graph&) {
  return make_reduce(Reduction::kProd, n);
}
std::unique_ptr<Kernel> make_reduce_l1(const Node& n, const Graph&) {
  return make_reduce(Reduction::kL1, n);
}
std::unique_ptr<Kernel> make_reduce_l2(const Node& n, const Graph&) {
  return make_reduce(Reduction::kL2, n);
}
std::unique_ptr<Kernel> make_reduce_sum_square(const Node& n, const Graph&) {
  return make_reduce(Reduction::kSumSquare, n);
}
std::unique_ptr<Kernel> make_reduce_log_sum(const Node& n, const Graph&) {
  return make_reduce(Reduction::kLogSum, n);
}
std::unique_ptr<Kernel> make_reduce_log_sum_exp(const Node& n, const Graph&) {
  return make_reduce(Reduction::kLogSumExp, n);
}
std::unique_ptr<Kernel> make_arg_max(const Node& n, const Graph&) {
  return std::make_unique<ArgReduceKernel>(true, n.attr_int("axis", 0), n.attr_int("keepdims", 1) != 0,
                                           n.attr_int("select_last_index", 0) != 0);
}
std::unique_ptr<Kernel> make_arg_min(const Node& n, const Graph&) {
  return std::make_unique<ArgReduceKernel>(false, n.attr_int("axis", 0), n.attr_int("keepdims", 1) != 0,
                                           n.attr_int("select_last_index", 0) != 0);
}

}  // namespace eff
