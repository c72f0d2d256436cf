// Binary arithmetic with numpy multidirectional broadcasting (Add, Sub, Mul, Div) and PRelu
// (slope broadcast to the input's shape). These sit on the residual paths of ResNets, so
// same-shape and scalar operands take flat, vectorisable, OpenMP-parallel loops; other shapes
// are collapsed to as few dimensions as possible and run row by row with a contiguous or
// broadcast inner loop.
#include <algorithm>
#include <type_traits>

#include "engine/blocked_layout.h"
#include "engine/ops/tensor_helpers.h"

namespace eff {

namespace {

using ops::kParallelElements;

enum class BinaryOp { kAdd, kSub, kMul, kDiv, kPRelu };

// Integer arithmetic wraps around like ONNX Runtime's (two's complement), without the undefined
// behaviour of signed overflow in C++.
template <class T>
using WrapType = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

template <class T, BinaryOp kOp>
inline T apply(T a, T b) {
  if constexpr (kOp == BinaryOp::kPRelu) {
    if constexpr (std::is_unsigned_v<T>)
      return a;
    else
      return a < T(0) ? static_cast<T>(a * b) : a;
  } else if constexpr (std::is_floating_point_v<T>) {
    if constexpr (kOp == BinaryOp::kAdd) return a + b;
    if constexpr (kOp == BinaryOp::kSub) return a - b;
    if constexpr (kOp == BinaryOp::kMul) return a * b;
    if constexpr (kOp == BinaryOp::kDiv) return a / b;
  } else {
    using U = WrapType<T>;
    if constexpr (kOp == BinaryOp::kAdd) return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
    if constexpr (kOp == BinaryOp::kSub) return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
    if constexpr (kOp == BinaryOp::kMul) return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
    if constexpr (kOp == BinaryOp::kDiv) {
      // Truncates toward zero like C++ and ONNX Runtime; divisors were checked for zero, and
      // MIN / -1 wraps instead of trapping.
      if constexpr (std::is_signed_v<T>) {
        if (b == T(-1)) return static_cast<T>(U(0) - static_cast<U>(a));
      }
      return static_cast<T>(a / b);
    }
  }
  return a;
}

// One contiguous run of outputs; a_step / b_step are 1 (contiguous) or 0 (broadcast).
template <class T, BinaryOp kOp>
inline void binary_run(const T* a, int64_t a_step, const T* b, int64_t b_step, T* out, int64_t n) {
  if (a_step && b_step) {
    for (int64_t i = 0; i < n; ++i) out[i] = apply<T, kOp>(a[i], b[i]);
  } else if (a_step) {
    const T bv = b[0];
    for (int64_t i = 0; i < n; ++i) out[i] = apply<T, kOp>(a[i], bv);
  } else if (b_step) {
    const T av = a[0];
    for (int64_t i = 0; i < n; ++i) out[i] = apply<T, kOp>(av, b[i]);
  } else {
    const T v = apply<T, kOp>(a[0], b[0]);
    for (int64_t i = 0; i < n; ++i) out[i] = v;
  }
}

// Broadcast geometry reduced to as few dimensions as possible.
struct BroadcastPlan {
  Shape out_shape;
  std::vector<int64_t> dims;
  std::vector<int64_t> a_strides;  // element strides, 0 along broadcast dimensions
  std::vector<int64_t> b_strides;
};

BroadcastPlan plan_broadcast(const Shape& a, const Shape& b, const OpContext& ctx) {
  BroadcastPlan p;
  const size_t rank = std::max(a.size(), b.size());
  p.out_shape.assign(rank, 1);
  Shape pa(rank, 1), pb(rank, 1);
  std::copy(a.begin(), a.end(), pa.begin() + (rank - a.size()));
  std::copy(b.begin(), b.end(), pb.begin() + (rank - b.size()));
  for (size_t d = 0; d < rank; ++d) {
    if (pa[d] == pb[d] || pb[d] == 1) {
      p.out_shape[d] = pa[d];
    } else if (pa[d] == 1) {
      p.out_shape[d] = pb[d];
    } else {
      fail<ShapeError>("{}: shapes {} and {} cannot be broadcast together", ctx.where(), shape_str(a), shape_str(b));
    }
  }
  const std::vector<int64_t> sa = ops::strides_of(pa), sb = ops::strides_of(pb);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t n = p.out_shape[d];
    if (n == 1) continue;
    const int64_t stride_a = pa[d] == 1 ? 0 : sa[d];
    const int64_t stride_b = pb[d] == 1 ? 0 : sb[d];
    if (!p.dims.empty() && p.a_strides.back() == stride_a * n && p.b_strides.back() == stride_b * n) {
      p.dims.back() *= n;  // contiguous with the previous dimension for both operands
      p.a_strides.back() = stride_a;
      p.b_strides.back() = stride_b;
    } else {
      p.dims.push_back(n);
      p.a_strides.push_back(stride_a);
      p.b_strides.push_back(stride_b);
    }
  }
  if (p.dims.empty()) {
    p.dims = {1};
    p.a_strides = {0};
    p.b_strides = {0};
  }
  return p;
}

template <class T, BinaryOp kOp>
void run_broadcast(const T* a, const T* b, T* out, const BroadcastPlan& p, int64_t total) {
  const int nd = static_cast<int>(p.dims.size());
  const int64_t inner = p.dims.back();
  const int64_t a_step = p.a_strides.back(), b_step = p.b_strides.back();
  if (nd == 1) {
    // Same-shape and scalar operands: one flat loop split evenly across threads.
    if (total < kParallelElements) {
      binary_run<T, kOp>(a, a_step, b, b_step, out, total);
      return;
    }
    constexpr int64_t kChunk = 4096;
    const int64_t chunks = (total + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t begin = c * kChunk;
      const int64_t n = std::min(kChunk, total - begin);
      binary_run<T, kOp>(a + begin * a_step, a_step, b + begin * b_step, b_step, out + begin, n);
    }
    return;
  }
  const int64_t rows = total / inner;
#pragma omp parallel for schedule(static) if (total >= kParallelElements)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rest = r, oa = 0, ob = 0;
    for (int d = nd - 2; d >= 0; --d) {
      const int64_t idx = rest % p.dims[d];
      rest /= p.dims[d];
      oa += idx * p.a_strides[d];
      ob += idx * p.b_strides[d];
    }
    binary_run<T, kOp>(a + oa, a_step, b + ob, b_step, out + r * inner, inner);
  }
}

const char* op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return "Add";
    case BinaryOp::kSub:
      return "Sub";
    case BinaryOp::kMul:
      return "Mul";
    case BinaryOp::kDiv:
      return "Div";
    case BinaryOp::kPRelu:
      return "PRelu";
  }
  return "?";
}

template <BinaryOp kOp>
class BinaryKernel final : public Kernel {
 public:
  // legacy_axis >= 0: opset-1..6 "broadcast=1, axis=k" semantics (B aligned at axis k).
  explicit BinaryKernel(int64_t legacy_axis, bool legacy_prelu_channels)
      : legacy_axis_(legacy_axis), legacy_prelu_channels_(legacy_prelu_channels) {}

  void run(OpContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    if (a.dtype() != b.dtype()) {
      fail<ShapeError>("{}: inputs have different types ({} and {})", ctx.where(), dtype_name(a.dtype()),
                       dtype_name(b.dtype()));
    }
    Shape b_shape = b.shape();
    if (legacy_axis_ >= 0) {
      const int64_t trailing = a.rank() - legacy_axis_ - b.rank();
      if (trailing < 0) {
        fail<ShapeError>("{}: broadcast axis {} does not fit shapes {} and {}", ctx.where(), legacy_axis_,
                         shape_str(a.shape()), shape_str(b.shape()));
      }
      b_shape.insert(b_shape.end(), static_cast<size_t>(trailing), 1);
    }
    if (legacy_prelu_channels_ && b.rank() == 1 && a.rank() >= 2 && b.dim(0) == a.dim(1) && b.dim(0) != 1) {
      b_shape.insert(b_shape.end(), static_cast<size_t>(a.rank() - 2), 1);  // per-channel slope
    }
    const BroadcastPlan plan = plan_broadcast(a.shape(), b_shape, ctx);
    if (kOp == BinaryOp::kPRelu && plan.out_shape != a.shape()) {
      fail<ShapeError>("{}: slope of shape {} does not broadcast to the input shape {}", ctx.where(),
                       shape_str(b.shape()), shape_str(a.shape()));
    }
    Tensor& out = ctx.output(0, a.dtype(), plan.out_shape);
    if (out.numel() == 0) return;
    auto go = [&](auto tag) {
      using T = decltype(tag);
      if constexpr (kOp == BinaryOp::kDiv && std::is_integral_v<T>) {
        const T* d = b.data<T>();
        for (int64_t i = 0; i < b.numel(); ++i) {
          if (d[i] == T(0)) fail<DataError>("{}: integer division by zero", ctx.where());
        }
      }
      run_broadcast<T, kOp>(a.data<T>(), b.data<T>(), out.data<T>(), plan, out.numel());
    };
    switch (a.dtype()) {
      case DType::kFloat32:
        go(float{});
        break;
      case DType::kFloat64:
        go(double{});
        break;
      case DType::kInt64:
        go(int64_t{});
        break;
      case DType::kInt32:
        go(int32_t{});
        break;
      case DType::kInt16:
        go(int16_t{});
        break;
      case DType::kInt8:
        go(int8_t{});
        break;
      case DType::kUInt8:
        go(uint8_t{});
        break;
      default:
        fail<UnsupportedError>("{}: {} inputs are not supported", ctx.where(), dtype_name(a.dtype()));
    }
  }

 private:
  int64_t legacy_axis_;
  bool legacy_prelu_channels_;
};

template <BinaryOp kOp>
std::unique_ptr<Kernel> make_binary_kernel(const Node& node, const Graph& graph) {
  if (node.num_inputs() != 2) {
    fail<ModelError>("{}: expects 2 inputs, got {}", graph.where(node), node.num_inputs());
  }
  for (int i = 0; i < 2; ++i) {
    if (node.inputs[i] == kNoValue) fail<ModelError>("{}: input {} is missing", graph.where(node), i);
    const Value& val = graph.value(node.inputs[i]);
    if (val.has_type && (val.dtype == DType::kFloat16 || val.dtype == DType::kBool)) {
      fail<UnsupportedError>("{}: {} is not supported for {}", graph.where(node), dtype_name(val.dtype), op_name(kOp));
    }
  }
  int64_t legacy_axis = -1;
  // Opsets 1-6 aligned B at `axis` when broadcast=1 (without axis: suffix alignment, as now).
  if (kOp != BinaryOp::kPRelu && graph.opset < 7 && node.attr_int("broadcast", 0) != 0 && node.has_attr("axis")) {
    legacy_axis = node.attr_int("axis", 0);
    const Value& a = graph.value(node.inputs[0]);
    if (legacy_axis < 0 && a.has_shape) legacy_axis += static_cast<int64_t>(a.shape.size());
    if (legacy_axis < 0) {
      fail<UnsupportedError>("{}: negative broadcast axis {} needs a known input rank", graph.where(node),
                             node.attr_int("axis", 0));
    }
  }
  // PRelu before opset 7 took a per-channel slope of shape [C].
  const bool legacy_prelu = kOp == BinaryOp::kPRelu && graph.opset > 0 && graph.opset < 7;
  return std::make_unique<BinaryKernel<kOp>>(legacy_axis, legacy_prelu);
}

}  // namespace

std::unique_ptr<Kernel> make_add(const Node& n, const Graph& g) {
  if (reads_blocked(n)) return make_blocked_add(n, g);  // ops/blocked_ops.cpp
  return make_binary_kernel<BinaryOp::kAdd>(n, g);
}
std::unique_ptr<Kernel> make_sub(const Node& n, const Graph& g) {
  return make_binary_kernel<BinaryOp::kSub>(n, g);
}
std::unique_ptr<Kernel> make_mul(const Node& n, const Graph& g) {
  if (reads_blocked(n)) return make_blocked_channel_scale(n, g);  // ops/blocked_ops.cpp
  return make_binary_kernel<BinaryOp::kMul>(n, g);
}
std::unique_ptr<Kernel> make_div(const Node& n, const Graph& g) {
  return make_binary_kernel<BinaryOp::kDiv>(n, g);
}
std::unique_ptr<Kernel> make_prelu(const Node& n, const Graph& g) {
  return make_binary_kernel<BinaryOp::kPRelu>(n, g);
}

}  // namespace eff
