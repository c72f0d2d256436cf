// Ops that select or accumulate by index: Trilu (the triangles of the last two axes, e.g. causal
// masks in exported transformers), CumSum, GatherElements and Hardmax.
#include <fmt/ranges.h>

#include <type_traits>

#include "engine/ops/broadcast.h"

namespace eff {

namespace {

using namespace ops;

// A scalar integer operand (Trilu's k, CumSum's axis).
int64_t scalar_int_input(const OpContext& ctx, int i, const char* what) {
  const Tensor& t = ctx.input(i);
  if (t.numel() != 1 || (t.dtype() != DType::kInt64 && t.dtype() != DType::kInt32)) {
    fail<ShapeError>("{}: {} must be one int64 value, got {} {}", ctx.where(), what, dtype_name(t.dtype()),
                     shape_str(t.shape()));
  }
  return t.get_i64(0);
}

// ---- Trilu -------------------------------------------------------------------------------------

class TriluKernel final : public Kernel {
 public:
  explicit TriluKernel(bool upper) : upper_(upper) {}

  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    if (in.rank() < 2) fail<ShapeError>("{}: input must have rank >= 2, got {}", ctx.where(), shape_str(in.shape()));
    const int64_t k = ctx.has_input(1) ? scalar_int_input(ctx, 1, "k") : 0;
    Tensor& out = ctx.output(0, in.dtype(), in.shape());
    const int64_t rows = in.dim(-2), cols = in.dim(-1);
    const int64_t matrices = rows * cols > 0 ? in.numel() / (rows * cols) : 0;
    const bool upper = upper_;
    visit_element_bits(in.dtype(), [&](auto tag) {
      using U = decltype(tag);
      const U* x = static_cast<const U*>(in.raw());
      U* y = static_cast<U*>(out.raw());
#pragma omp parallel for schedule(static) if (in.numel() >= kParallelElements)
      for (int64_t m = 0; m < matrices * rows; ++m) {
        const int64_t i = m % rows;
        const U* xr = x + m * cols;
        U* yr = y + m * cols;
        // Keep j - i >= k (upper) or j - i <= k (lower); zero bits are 0 for every dtype.
        for (int64_t j = 0; j < cols; ++j) {
          const bool keep = upper ? j - i >= k : j - i <= k;
          yr[j] = keep ? xr[j] : U(0);
        }
      }
    });
  }

 private:
  bool upper_;
};

// ---- CumSum ------------------------------------------------------------------------------------

class CumSumKernel final : public Kernel {
 public:
  CumSumKernel(bool exclusive, bool reverse) : exclusive_(exclusive), reverse_(reverse) {}

  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const int axis = normalize_axis(scalar_int_input(ctx, 1, "axis"), in.rank(), ctx);
    Tensor& out = ctx.output(0, in.dtype(), in.shape());
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= in.dim(d);
    for (int d = axis + 1; d < in.rank(); ++d) inner *= in.dim(d);
    const int64_t len = in.dim(axis);
    const bool exclusive = exclusive_, reverse = reverse_;
    const bool ok = visit_numeric(in.dtype(), [&](auto tag) {
      using T = decltype(tag);
      // Integers wrap around instead of overflowing.
      using Acc = std::conditional_t<std::is_integral_v<T>, uint64_t, T>;
      const T* x = in.data<T>();
      T* y = out.data<T>();
#pragma omp parallel for schedule(static) if (in.numel() >= kParallelElements)
      for (int64_t p = 0; p < outer * inner; ++p) {
        const int64_t base = (p / inner) * len * inner + p % inner;
        Acc acc = 0;
        for (int64_t s = 0; s < len; ++s) {
          const int64_t j = reverse ? len - 1 - s : s;
          const Acc v = static_cast<Acc>(x[base + j * inner]);
          if (!exclusive) acc += v;
          y[base + j * inner] = static_cast<T>(acc);
          if (exclusive) acc += v;
        }
      }
    });
    if (!ok) fail<UnsupportedError>("{}: CumSum of {} is not supported", ctx.where(), dtype_name(in.dtype()));
  }

 private:
  bool exclusive_;
  bool reverse_;
};

// ---- GatherElements ----------------------------------------------------------------------------

class GatherElementsKernel final : public Kernel {
 public:
  explicit GatherElementsKernel(int64_t axis) : axis_(axis) {}

  void run(OpContext& ctx) override {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    if (indices.dtype() != DType::kInt64 && indices.dtype() != DType::kInt32) {
      fail<ShapeError>("{}: indices must be int32 or int64, got {}", ctx.where(), dtype_name(indices.dtype()));
    }
    const int rank = data.rank();
    if (indices.rank() != rank || rank == 0) {
      fail<ShapeError>("{}: indices {} must have the rank of data {}", ctx.where(), shape_str(indices.shape()),
                       shape_str(data.shape()));
    }
    const int axis = normalize_axis(axis_, rank, ctx);
    for (int d = 0; d < rank; ++d) {
      if (d != axis && indices.dim(d) > data.dim(d)) {
        fail<ShapeError>("{}: indices {} exceed data {} along axis {}", ctx.where(), shape_str(indices.shape()),
                         shape_str(data.shape()), d);
      }
    }
    Tensor& out = ctx.output(0, data.dtype(), indices.shape());
    const std::vector<int64_t> data_strides = strides_of(data.shape());
    const int64_t dim = data.dim(axis);
    const int64_t total = indices.numel();
    visit_element_bits(data.dtype(), [&](auto tag) {
      using U = decltype(tag);
      const U* x = static_cast<const U*>(data.raw());
      U* y = static_cast<U*>(out.raw());
      for (int64_t i = 0; i < total; ++i) {
        int64_t idx = indices.get_i64(i);
        if (idx < -dim || idx >= dim) {
          fail<ShapeError>("{}: index {} is out of range for axis {} of size {}", ctx.where(), idx, axis, dim);
        }
        if (idx < 0) idx += dim;
        int64_t rest = i, off = 0;
        for (int d = rank - 1; d >= 0; --d) {
          const int64_t c = rest % indices.dim(d);
          rest /= indices.dim(d);
          off += (d == axis ? idx : c) * data_strides[d];
        }
        y[i] = x[off];
      }
    });
  }

 private:
  int64_t axis_;
};

// ---- Hardmax -----------------------------------------------------------------------------------

// 1 at the first largest element along the axis, 0 elsewhere. Before opset 13 the input is
// flattened to 2-D at `axis` (like Softmax), from 13 on only `axis` is looked at.
class HardmaxKernel final : public Kernel {
 public:
  HardmaxKernel(int64_t axis, bool flatten) : axis_(axis), flatten_(flatten) {}

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kFloat32 && x.dtype() != DType::kFloat64) {
      fail<ShapeError>("{}: input must be float32 or float64, got {}", ctx.where(), dtype_name(x.dtype()));
    }
    const int axis = normalize_axis(axis_, x.rank(), ctx);
    int64_t outer = 1, len = 1, inner = 1;
    for (int d = 0; d < x.rank(); ++d) {
      if (d < axis) {
        outer *= x.dim(d);
      } else if (d == axis || flatten_) {
        len *= x.dim(d);
      } else {
        inner *= x.dim(d);
      }
    }
    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    visit_numeric(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_floating_point_v<T>) {
        const T* xd = x.data<T>();
        T* yd = y.data<T>();
        std::fill(yd, yd + y.numel(), T(0));
        if (len == 0) return;
        for (int64_t p = 0; p < outer * inner; ++p) {
          const T* row = xd + (p / inner) * len * inner + p % inner;
          int64_t best = 0;
          for (int64_t j = 1; j < len; ++j) {
            if (row[j * inner] > row[best * inner]) best = j;
          }
          yd[(p / inner) * len * inner + p % inner + best * inner] = T(1);
        }
      }
    });
  }

 private:
  int64_t axis_;
  bool flatten_;
};

}  // namespace

std::unique_ptr<Kernel> make_trilu(const Node& node, const Graph& graph) {
  if (node.num_inputs() < 1 || node.num_inputs() > 2) {
    fail<ModelError>("{}: expects 1 or 2 inputs, got {}", graph.where(node), node.num_inputs());
  }
  return std::make_unique<TriluKernel>(node.attr_int("upper", 1) != 0);
}

std::unique_ptr<Kernel> make_cum_sum(const Node& node, const Graph& graph) {
  if (node.num_inputs() != 2) fail<ModelError>("{}: expects 2 inputs, got {}", graph.where(node), node.num_inputs());
  return std::make_unique<CumSumKernel>(node.attr_int("exclusive", 0) != 0, node.attr_int("reverse", 0) != 0);
}

std::unique_ptr<Kernel> make_gather_elements(const Node& node, const Graph& graph) {
  if (node.num_inputs() != 2) fail<ModelError>("{}: expects 2 inputs, got {}", graph.where(node), node.num_inputs());
  return std::make_unique<GatherElementsKernel>(node.attr_int("axis", 0));
}

std::unique_ptr<Kernel> make_hardmax(const Node& node, const Graph& graph) {
  const bool flatten = graph.opset > 0 && graph.opset < 13;
  return std::make_unique<HardmaxKernel>(node.attr_int("axis", flatten ? 1 : -1), flatten);
}

}  // namespace eff
