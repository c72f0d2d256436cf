// Ops whose output size comes from input values: Expand, Tile, Range, ConstantOfShape. Each one
// checks the size it is asked for against the tensor limit before allocating, naming the node,
// since a shape sub-graph (or a hostile file) can ask for anything.
#include <fmt/ranges.h>

#include <cmath>
#include <limits>

#include "engine/ops/broadcast.h"

namespace eff {

namespace {

using namespace ops;

// A 1-D int64 input (shape or repeats); int32 is accepted as exporters sometimes write it.
std::vector<int64_t> int_list_input(const OpContext& ctx, int i, const char* what) {
  const Tensor& t = ctx.input(i);
  if (t.rank() != 1 || (t.dtype() != DType::kInt64 && t.dtype() != DType::kInt32)) {
    fail<ShapeError>("{}: {} must be a 1-D int64 tensor, got {} {}", ctx.where(), what, dtype_name(t.dtype()),
                     shape_str(t.shape()));
  }
  return t.to_i64_vector();
}

// ---- Expand ------------------------------------------------------------------------------------

class ExpandKernel final : public Kernel {
 public:
  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const Shape target = int_list_input(ctx, 1, "shape");
    for (int64_t d : target) {
      if (d < 0) fail<ShapeError>("{}: shape [{}] has a negative dimension", ctx.where(), fmt::join(target, ", "));
    }
    const Shape out_shape = broadcast_shapes({in.shape(), target}, ctx);
    check_output_size(ctx, out_shape, in.dtype());
    Tensor& out = ctx.output(0, in.dtype(), out_shape);
    visit_element_bits(in.dtype(), [&](auto tag) {
      using U = decltype(tag);
      const U* x = static_cast<const U*>(in.raw());
      U* o = static_cast<U*>(out.raw());
      for_each_broadcast<1>(out_shape, {in.shape()},
                            [&](int64_t i, const std::array<int64_t, 1>& off) { o[i] = x[off[0]]; });
    });
  }
};

// ---- Tile --------------------------------------------------------------------------------------

class TileKernel final : public Kernel {
 public:
  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const std::vector<int64_t> repeats = int_list_input(ctx, 1, "repeats");
    const int rank = in.rank();
    if (static_cast<int>(repeats.size()) != rank) {
      fail<ShapeError>("{}: repeats has {} entries for a rank-{} input", ctx.where(), repeats.size(), rank);
    }
    Shape out_shape(static_cast<size_t>(rank));
    for (int d = 0; d < rank; ++d) {
      if (repeats[d] < 0)
        fail<ShapeError>("{}: repeats [{}] has a negative entry", ctx.where(), fmt::join(repeats, ", "));
      if (repeats[d] > 0 && in.dim(d) > std::numeric_limits<int64_t>::max() / repeats[d]) {
        fail<ShapeError>("{}: repeats [{}] make the output too large", ctx.where(), fmt::join(repeats, ", "));
      }
      out_shape[d] = in.dim(d) * repeats[d];
    }
    check_output_size(ctx, out_shape, in.dtype());
    Tensor& out = ctx.output(0, in.dtype(), out_shape);
    const int64_t total = out.numel();
    if (total == 0) return;
    if (rank == 0) {
      std::memcpy(out.raw(), in.raw(), in.nbytes());
      return;
    }
    const std::vector<int64_t> in_strides = strides_of(in.shape());
    const int64_t inner_out = out_shape.back(), inner_in = in.dim(rank - 1);
    const int64_t rows = total / inner_out;
    visit_element_bits(in.dtype(), [&](auto tag) {
      using U = decltype(tag);
      const U* x = static_cast<const U*>(in.raw());
      U* o = static_cast<U*>(out.raw());
#pragma omp parallel for schedule(static) if (total >= kParallelElements)
      for (int64_t r = 0; r < rows; ++r) {
        int64_t rest = r, off = 0;
        for (int d = rank - 2; d >= 0; --d) {
          off += (rest % out_shape[d]) % in.dim(d) * in_strides[d];
          rest /= out_shape[d];
        }
        U* row = o + r * inner_out;
        for (int64_t j = 0; j < inner_out; ++j) row[j] = x[off + j % inner_in];
      }
    });
  }
};

// ---- Range -------------------------------------------------------------------------------------

class RangeKernel final : public Kernel {
 public:
  void run(OpContext& ctx) override {
    const Tensor& start = ctx.input(0);
    const Tensor& limit = ctx.input(1);
    const Tensor& delta = ctx.input(2);
    for (int i = 0; i < 3; ++i) {
      const Tensor& t = ctx.input(i);
      if (t.numel() != 1 || t.rank() > 1 || t.dtype() != start.dtype()) {
        fail<ShapeError>("{}: start, limit and delta must be scalars of one type, input {} is {} {}", ctx.where(), i,
                         dtype_name(t.dtype()), shape_str(t.shape()));
      }
    }
    const DType dtype = start.dtype();
    if (dtype != DType::kFloat32 && dtype != DType::kFloat64 && dtype != DType::kInt64 && dtype != DType::kInt32 &&
        dtype != DType::kInt16) {
      fail<ShapeError>("{}: Range of {} is not supported", ctx.where(), dtype_name(dtype));
    }
    visit_numeric(dtype, [&](auto tag) {
      using T = decltype(tag);
      const T s = start.data<T>()[0], l = limit.data<T>()[0], d = delta.data<T>()[0];
      if (d == T(0)) fail<ShapeError>("{}: delta is 0", ctx.where());
      // max(ceil((limit - start) / delta), 0) elements, counted in double so that a hostile
      // range is refused by the size check instead of overflowing.
      const double count = std::ceil((static_cast<double>(l) - static_cast<double>(s)) / static_cast<double>(d));
      if (!(count == count)) fail<ShapeError>("{}: start, limit or delta is not a number", ctx.where());
      const double n = std::max(count, 0.0);
      if (n * static_cast<double>(sizeof(T)) > static_cast<double>(max_tensor_bytes())) {
        fail<ShapeError>("{}: Range({}, {}, {}) has {} elements, beyond the {} byte tensor limit", ctx.where(), s, l, d,
                         n, max_tensor_bytes());
      }
      Tensor& out = ctx.output(0, dtype, {static_cast<int64_t>(n)});
      T* o = out.data<T>();
      for (int64_t i = 0; i < out.numel(); ++i) o[i] = static_cast<T>(s + static_cast<T>(i) * d);
    });
  }
};

// ---- ConstantOfShape ---------------------------------------------------------------------------

class ConstantOfShapeKernel final : public Kernel {
 public:
  explicit ConstantOfShapeKernel(Tensor value) : value_(std::move(value)) {}

  void run(OpContext& ctx) override {
    const Shape shape = int_list_input(ctx, 0, "shape");
    for (int64_t d : shape) {
      if (d < 0) fail<ShapeError>("{}: shape [{}] has a negative dimension", ctx.where(), fmt::join(shape, ", "));
    }
    check_output_size(ctx, shape, value_.dtype());
    Tensor& out = ctx.output(0, value_.dtype(), shape);
    visit_element_bits(value_.dtype(), [&](auto tag) {
      using U = decltype(tag);
      const U v = *static_cast<const U*>(value_.raw());
      U* o = static_cast<U*>(out.raw());
      for (int64_t i = 0; i < out.numel(); ++i) o[i] = v;
    });
  }

 private:
  Tensor value_;
};

}  // namespace

std::unique_ptr<Kernel> make_expand(const Node& node, const Graph& graph) {
  if (node.num_inputs() != 2) fail<ModelError>("{}: expects 2 inputs, got {}", graph.where(node), node.num_inputs());
  return std::make_unique<ExpandKernel>();
}

std::unique_ptr<Kernel> make_tile(const Node& node, const Graph& graph) {
  if (node.num_inputs() != 2) fail<ModelError>("{}: expects 2 inputs, got {}", graph.where(node), node.num_inputs());
  return std::make_unique<TileKernel>();
}

std::unique_ptr<Kernel> make_range(const Node& node, const Graph& graph) {
  if (node.num_inputs() != 3) fail<ModelError>("{}: expects 3 inputs, got {}", graph.where(node), node.num_inputs());
  return std::make_unique<RangeKernel>();
}

std::unique_ptr<Kernel> make_constant_of_shape(const Node& node, const Graph& graph) {
  if (node.num_inputs() != 1) fail<ModelError>("{}: expects 1 input, got {}", graph.where(node), node.num_inputs());
  Tensor value = Tensor::scalar<float>(0.f);
  auto it = node.attrs.find("value");
  if (it != node.attrs.end()) {
    if (it->second.kind != Attribute::Kind::kTensor || !it->second.t.defined() || it->second.t.numel() != 1) {
      fail<ModelError>("{}: attribute 'value' must be a one-element tensor", graph.where(node));
    }
    value = it->second.t;
  }
  return std::make_unique<ConstantOfShapeKernel>(std::move(value));
}

}  // namespace eff
