// Shared pieces of the data-movement, arithmetic, resize and reduction kernels: axis
// normalisation, reading int64 operands (attribute or input, depending on the opset),
// element-size dispatch and row-major strides.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "engine/kernel.h"

namespace eff::ops {

// Row-major element strides of `shape`.
inline std::vector<int64_t> strides_of(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

// Maps an ONNX axis in [-rank, rank) to [0, rank); throws ShapeError naming the node otherwise.
inline int normalize_axis(int64_t axis, int rank, const OpContext& ctx, const char* what = "axis") {
  if (axis < -rank || axis >= rank) {
    fail<ShapeError>("{}: {} {} is out of range for a rank-{} input", ctx.where(), what, axis, rank);
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

// Normalises a list of axes and refuses duplicates.
inline std::vector<int> normalize_axes(const std::vector<int64_t>& axes, int rank, const OpContext& ctx) {
  std::vector<int> out;
  std::vector<char> seen(static_cast<size_t>(rank), 0);
  for (int64_t a : axes) {
    const int n = normalize_axis(a, rank, ctx);
    if (seen[n]) fail<ShapeError>("{}: axis {} is repeated", ctx.where(), a);
    seen[n] = 1;
    out.push_back(n);
  }
  return out;
}

// The values of an integer operand that older opsets give as an attribute and newer ones as an
// input: the attribute when the node has it, else input `index` when given, else nullopt.
struct IntOperand {
  bool present = false;
  std::vector<int64_t> values;
};

inline IntOperand int_operand(const OpContext& ctx, const char* attr, int index) {
  IntOperand r;
  if (ctx.node().has_attr(attr)) {
    r.present = true;
    r.values = ctx.node().attr_ints(attr);
  } else if (ctx.has_input(index)) {
    const Tensor& t = ctx.input(index);
    if (t.rank() > 1) {
      fail<ShapeError>("{}: input {} ({}) must be 1-D, got shape {}", ctx.where(), index, attr, shape_str(t.shape()));
    }
    if (t.dtype() != DType::kInt64 && t.dtype() != DType::kInt32) {
      fail<ShapeError>("{}: input {} ({}) must be int64, got {}", ctx.where(), index, attr, dtype_name(t.dtype()));
    }
    r.present = true;
    r.values = t.to_i64_vector();
  }
  return r;
}

// Calls f(U{}) with U an unsigned type as wide as one element of `dtype`.
template <class F>
decltype(auto) visit_element_bits(DType dtype, F&& f) {
  switch (dtype_size(dtype)) {
    case 1:
      return f(uint8_t{});
    case 2:
      return f(uint16_t{});
    case 4:
      return f(uint32_t{});
    default:
      return f(uint64_t{});
  }
}

// `value` converted to `dtype`, as the bit pattern of one element (for pad/fill values).
inline uint64_t element_bits_from_double(DType dtype, double value) {
  uint64_t bits = 0;
  auto store = [&](auto v) { std::memcpy(&bits, &v, sizeof(v)); };
  auto to_int = [](double v) -> int64_t {
    if (!(v == v)) return 0;
    if (v >= 9.2e18) return INT64_MAX;
    if (v <= -9.2e18) return INT64_MIN;
    return static_cast<int64_t>(v);
  };
  switch (dtype) {
    case DType::kFloat32:
      store(static_cast<float>(value));
      break;
    case DType::kFloat64:
      store(value);
      break;
    case DType::kFloat16:
      store(float_to_half(static_cast<float>(value)));
      break;
    case DType::kInt64:
      store(to_int(value));
      break;
    case DType::kInt32:
      store(static_cast<int32_t>(to_int(value)));
      break;
    case DType::kInt16:
      store(static_cast<int16_t>(to_int(value)));
      break;
    case DType::kInt8:
      store(static_cast<int8_t>(to_int(value)));
      break;
    case DType::kUInt8:
      store(static_cast<uint8_t>(to_int(value)));
      break;
    case DType::kBool:
      store(static_cast<uint8_t>(value != 0.0 ? 1 : 0));
      break;
  }
  return bits;
}

// Elementwise loops below this many elements stay on one thread (the fork costs more).
constexpr int64_t kParallelElements = 1 << 15;

}  // namespace eff::ops
