// Numpy multidirectional broadcasting for any number of operands, and a dtype visitor, shared by
// the comparison, logical, variadic, Pow and Where kernels. (Add/Sub/Mul/Div keep their own
// collapsed-dimension loops in elementwise.cpp: they sit on ResNet residual paths.)
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/ops/tensor_helpers.h"

namespace eff::ops {

// The broadcast output shape of `shapes`; throws ShapeError naming the node when they do not
// broadcast.
inline Shape broadcast_shapes(const std::vector<Shape>& shapes, const OpContext& ctx) {
  size_t rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (const Shape& s : shapes) {
    const size_t off = rank - s.size();
    for (size_t d = 0; d < s.size(); ++d) {
      const int64_t n = s[d];
      if (n == out[off + d] || n == 1) continue;
      if (out[off + d] != 1) {
        std::string all;
        for (const Shape& t : shapes) all += (all.empty() ? "" : " and ") + shape_str(t);
        fail<ShapeError>("{}: shapes {} cannot be broadcast together", ctx.where(), all);
      }
      out[off + d] = n;
    }
  }
  return out;
}

// Element strides of `in` read at each index of `out` (0 along broadcast dimensions).
inline std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  const std::vector<int64_t> own = strides_of(in);
  const size_t off = out.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d) strides[off + d] = in[d] == 1 ? 0 : own[d];
  return strides;
}

// Calls f(i, offsets) for every element i of `out` (row-major), offsets[k] being the element of
// operand k that broadcasts to it. Rows of the last dimension are split across threads when the
// output is large; each element is written once, so results do not depend on the thread count.
template <size_t N, class F>
void for_each_broadcast(const Shape& out, const std::array<Shape, N>& operands, F&& f) {
  const int64_t total = shape_numel(out);
  if (total == 0) return;
  std::array<std::vector<int64_t>, N> strides;
  for (size_t k = 0; k < N; ++k) strides[k] = broadcast_strides(operands[k], out);
  const int rank = static_cast<int>(out.size());
  if (rank == 0) {
    f(int64_t{0}, std::array<int64_t, N>{});
    return;
  }
  const int64_t inner = out.back();
  const int64_t rows = total / inner;
#pragma omp parallel for schedule(static) if (total >= kParallelElements)
  for (int64_t r = 0; r < rows; ++r) {
    std::array<int64_t, N> off{};
    int64_t rest = r;
    for (int d = rank - 2; d >= 0; --d) {
      const int64_t idx = rest % out[d];
      rest /= out[d];
      for (size_t k = 0; k < N; ++k) off[k] += idx * strides[k][d];
    }
    for (int64_t i = 0; i < inner; ++i) {
      f(r * inner + i, off);
      for (size_t k = 0; k < N; ++k) off[k] += strides[k][rank - 1];
    }
  }
}

// Calls f(T{}) for the numeric types the engine holds (float16 and bool excluded); returns false
// for those two.
template <class F>
bool visit_numeric(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32:
      f(float{});
      return true;
    case DType::kFloat64:
      f(double{});
      return true;
    case DType::kInt64:
      f(int64_t{});
      return true;
    case DType::kInt32:
      f(int32_t{});
      return true;
    case DType::kInt16:
      f(int16_t{});
      return true;
    case DType::kInt8:
      f(int8_t{});
      return true;
    case DType::kUInt8:
      f(uint8_t{});
      return true;
    case DType::kFloat16:
    case DType::kBool:
      break;
  }
  return false;
}

// Refuses a node at creation when its input has a statically known type outside `ok`.
inline void require_input_type(const Node& node, const Graph& graph, int input, bool (*ok)(DType),
                               const char* expected) {
  const ValueId v = node.input(input);
  if (v == kNoValue) return;
  const Value& val = graph.value(v);
  if (val.has_type && !ok(val.dtype)) {
    fail<UnsupportedError>("{}: input {} has type {}, expected {}", graph.where(node), input, dtype_name(val.dtype),
                           expected);
  }
}

inline bool is_numeric(DType t) {
  return t != DType::kFloat16 && t != DType::kBool;
}
inline bool is_floating(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat64;
}

// Refuses an output of `numel` elements of `dtype` beyond the engine's tensor limit, naming the
// node (for ops whose output size comes from input values: Range, Tile, Expand, ConstantOfShape).
inline void check_output_size(const OpContext& ctx, const Shape& shape, DType dtype) {
  // In double: the product of hostile dimensions may overflow int64 but not a double's range.
  double bytes = static_cast<double>(dtype_size(dtype));
  for (int64_t d : shape) {
    if (d < 0) fail<ShapeError>("{}: output shape {} has a negative dimension", ctx.where(), shape_str(shape));
    bytes *= static_cast<double>(d);
  }
  if (bytes > static_cast<double>(max_tensor_bytes())) {
    fail<ShapeError>("{}: output of shape {} ({}) would exceed the {} byte tensor limit", ctx.where(), shape_str(shape),
                     dtype_name(dtype), max_tensor_bytes());
  }
}

// Output i of a broadcasting op: its size is checked first so that operands like [N,1] and [1,N]
// get one clear line naming the node instead of a bare allocation failure.
inline Tensor& broadcast_output(OpContext& ctx, int i, DType dtype, const Shape& shape) {
  check_output_size(ctx, shape, dtype);
  return ctx.output(i, dtype, shape);
}

}  // namespace eff::ops
