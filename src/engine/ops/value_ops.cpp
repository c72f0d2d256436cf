// Constant (normally folded by the loader, but it must also run), Cast, CastLike, and inference-mode
// Dropout.
#include <cmath>
#ifdef __F16C__
#include <immintrin.h>
#endif
#include <limits>
#include <optional>
#include <type_traits>

#include "engine/ops/tensor_helpers.h"
#include "graph/passes.h"
#include "onnx/tensor_proto.h"

namespace eff {

namespace {

// ---- Constant ----------------------------------------------------------------------------------

class ConstantKernel final : public Kernel {
 public:
  explicit ConstantKernel(Tensor value) : value_(std::move(value)) {}

  // Copied so that nobody downstream (or a caller holding a graph output) can alter the value.
  void run(OpContext& ctx) override {
    Tensor& out = ctx.output(0, value_.dtype(), value_.shape());
    if (value_.nbytes()) std::memcpy(out.raw(), value_.raw(), value_.nbytes());
  }

 private:
  Tensor value_;
};

// ---- Cast --------------------------------------------------------------------------------------

struct Half {
  uint16_t bits;
};
struct Bool8 {
  uint8_t v;
};

// Rounds a double to the nearest float16 directly. Going through float could round twice; that
// only changes the result when the float lands exactly half-way between two halves while the
// double did not, and then the double's side decides.
uint16_t double_to_half(double d) {
  const float f = static_cast<float>(d);
  if (std::isfinite(f) && static_cast<double>(f) != d) {
    const float inf = std::numeric_limits<float>::infinity();
    const uint16_t up = float_to_half(std::nextafter(f, inf));
    const uint16_t down = float_to_half(std::nextafter(f, -inf));
    if (up != down) return d > f ? up : down;
  }
  return float_to_half(f);
}

// Floating values become integers by truncation toward zero, saturating at the int64 range
// (NaN -> 0), then wrapping to narrower types like a C cast of an in-range value.
inline int64_t saturate_to_i64(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
  if (v <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

template <class To, class From>
inline To convert(From v) {
  if constexpr (std::is_same_v<From, Half>) {
    return convert<To>(half_to_float(v.bits));
  } else if constexpr (std::is_same_v<From, Bool8>) {
    return convert<To>(static_cast<uint8_t>(v.v ? 1 : 0));
  } else if constexpr (std::is_same_v<To, Half>) {
    if constexpr (std::is_same_v<From, float>)
      return Half{float_to_half(v)};
    else
      return Half{double_to_half(static_cast<double>(v))};
  } else if constexpr (std::is_same_v<To, Bool8>) {
    return Bool8{static_cast<uint8_t>(v != From(0) ? 1 : 0)};
  } else if constexpr (std::is_floating_point_v<To>) {
    return static_cast<To>(v);
  } else if constexpr (std::is_floating_point_v<From>) {
    return static_cast<To>(saturate_to_i64(static_cast<double>(v)));
  } else {
    return static_cast<To>(v);
  }
}

// C++ storage type for each dtype, with float16 and bool as tag types so convert() can tell them
// from uint16/uint8.
template <class F>
void visit_cast_type(DType t, F&& f) {
  switch (t) {
    case DType::kFloat32:
      f(float{});
      break;
    case DType::kFloat64:
      f(double{});
      break;
    case DType::kFloat16:
      f(Half{});
      break;
    case DType::kInt64:
      f(int64_t{});
      break;
    case DType::kInt32:
      f(int32_t{});
      break;
    case DType::kInt16:
      f(int16_t{});
      break;
    case DType::kInt8:
      f(int8_t{});
      break;
    case DType::kUInt8:
      f(uint8_t{});
      break;
    case DType::kBool:
      f(Bool8{});
      break;
  }
}

// Cast to a fixed type, or (CastLike, to_like) to the type of input 1.
// float32 <-> float16 with the CPU's conversion instructions (F16C: round to nearest even, as
// float_to_half; 8 values per instruction). fp16 models cast whole feature maps (a U-Net at
// 1024x1024 around every float32-only op), where the scalar conversion took longer than the op.
bool half_float_fast_path(const Tensor& in, Tensor& out) {
#ifdef __F16C__
  const int64_t n = in.numel();
  const int64_t vec = n / 8 * 8;
  if (in.dtype() == DType::kFloat32 && out.dtype() == DType::kFloat16) {
    const float* src = in.data<float>();
    auto* dst = static_cast<uint16_t*>(out.raw());
#pragma omp parallel for schedule(static) if (n >= ops::kParallelElements)
    for (int64_t i = 0; i < vec; i += 8) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                       _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    }
    for (int64_t i = vec; i < n; ++i) dst[i] = float_to_half(src[i]);
    return true;
  }
  if (in.dtype() == DType::kFloat16 && out.dtype() == DType::kFloat32) {
    const auto* src = static_cast<const uint16_t*>(in.raw());
    float* dst = out.data<float>();
#pragma omp parallel for schedule(static) if (n >= ops::kParallelElements)
    for (int64_t i = 0; i < vec; i += 8) {
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
    }
    for (int64_t i = vec; i < n; ++i) dst[i] = half_to_float(src[i]);
    return true;
  }
#else
  (void)in;
  (void)out;
#endif
  return false;
}

// float32 rounded to the nearest float16 (half to even) and widened again, in one pass: the fused
// round trip of graph/float16_round_pass.cpp.
void round_through_half(const float* src, float* dst, int64_t n) {
  int64_t vec = 0;
#ifdef __F16C__
  vec = n / 8 * 8;
#pragma omp parallel for schedule(static) if (n >= ops::kParallelElements)
  for (int64_t i = 0; i < vec; i += 8) {
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT)));
  }
#endif
  for (int64_t i = vec; i < n; ++i) dst[i] = half_to_float(float_to_half(src[i]));
}

class CastKernel final : public Kernel {
 public:
  explicit CastKernel(DType to, bool to_like = false, bool via_half = false)
      : to_(to), to_like_(to_like), via_half_(via_half) {}

  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    if (to_like_) to_ = ctx.input(1).dtype();
    Tensor& out = ctx.output(0, to_, in.shape());
    const int64_t n = in.numel();
    if (via_half_ && in.dtype() == DType::kFloat32) {
      round_through_half(in.data<float>(), out.data<float>(), n);
      return;
    }
    if (in.dtype() == to_) {
      if (in.nbytes()) std::memcpy(out.raw(), in.raw(), in.nbytes());
      return;
    }
    if (half_float_fast_path(in, out)) return;
    visit_cast_type(in.dtype(), [&](auto from_tag) {
      using From = decltype(from_tag);
      visit_cast_type(to_, [&](auto to_tag) {
        using To = decltype(to_tag);
        const From* src = static_cast<const From*>(in.raw());
        To* dst = static_cast<To*>(out.raw());
#pragma omp parallel for schedule(static) if (n >= ops::kParallelElements)
        for (int64_t i = 0; i < n; ++i) dst[i] = convert<To>(src[i]);
      });
    });
  }

 private:
  DType to_;
  bool to_like_;
  bool via_half_;  // float32 input: rounded to float16 first (a float16 input widens exactly)
};

// ---- Dropout -----------------------------------------------------------------------------------

// Inference only: the output is the input. In training mode with a non-zero ratio the result
// would be random, which this engine refuses rather than faking.
class DropoutKernel final : public Kernel {
 public:
  DropoutKernel(float ratio_attr, bool bool_mask) : ratio_attr_(ratio_attr), bool_mask_(bool_mask) {}

  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const bool training = ctx.has_input(2) && ctx.input(2).numel() > 0 && ctx.input(2).get_i64(0) != 0;
    if (training) {
      const double ratio = ctx.has_input(1) && ctx.input(1).numel() > 0 ? ctx.input(1).get_f64(0) : ratio_attr_;
      if (ratio != 0.0) {
        fail<UnsupportedError>("{}: training-mode Dropout (ratio {}) is random and not supported", ctx.where(), ratio);
      }
    }
    ctx.set_output(0, in);
    if (ctx.num_outputs() > 1) {
      const DType mask_type = bool_mask_ ? DType::kBool : in.dtype();
      Tensor& mask = ctx.output(1, mask_type, in.shape());
      const uint64_t one = ops::element_bits_from_double(mask_type, 1.0);
      ops::visit_element_bits(mask_type, [&](auto tag) {
        using U = decltype(tag);
        U* d = static_cast<U*>(mask.raw());
        const U v = static_cast<U>(one);
        for (int64_t i = 0; i < mask.numel(); ++i) d[i] = v;
      });
    }
  }

 private:
  float ratio_attr_;
  bool bool_mask_;
};

}  // namespace

std::unique_ptr<Kernel> make_constant(const Node& node, const Graph& graph) {
  const std::string where = graph.where(node);
  Tensor value;
  int kinds = 0;
  for (const auto& [key, attr] : node.attrs) {
    if (key == "value") {
      if (attr.kind != Attribute::Kind::kTensor || !attr.t.defined()) {
        fail<ModelError>("{}: attribute 'value' is not a tensor", where);
      }
      value = attr.t;
    } else if (key == "value_float") {
      value = Tensor::scalar<float>(node.attr_float(key, 0));
    } else if (key == "value_floats") {
      const std::vector<float> v = node.attr_floats(key);
      value = Tensor::from<float>({static_cast<int64_t>(v.size())}, v);
    } else if (key == "value_int") {
      value = Tensor::scalar<int64_t>(node.attr_int(key, 0));
    } else if (key == "value_ints") {
      const std::vector<int64_t> v = node.attr_ints(key);
      value = Tensor::from<int64_t>({static_cast<int64_t>(v.size())}, v);
    } else if (key == "sparse_value" || key == "value_string" || key == "value_strings") {
      fail<UnsupportedError>("{}: Constant attribute '{}' is not supported", where, key);
    } else {
      continue;
    }
    ++kinds;
  }
  if (kinds != 1) fail<ModelError>("{}: needs exactly one value attribute, has {}", where, kinds);
  return std::make_unique<ConstantKernel>(std::move(value));
}

std::unique_ptr<Kernel> make_cast(const Node& node, const Graph& graph) {
  const std::string where = graph.where(node);
  auto it = node.attrs.find("to");
  if (it == node.attrs.end()) fail<ModelError>("{}: attribute 'to' is missing", where);
  int32_t onnx_type = 0;
  if (it->second.kind == Attribute::Kind::kString) {  // opsets 1-5 name the type
    onnx::TensorProto::DataType parsed;
    if (!onnx::TensorProto::DataType_Parse(it->second.s, &parsed)) {
      fail<ModelError>("{}: attribute 'to' names the unknown type '{}'", where, it->second.s);
    }
    onnx_type = parsed;
  } else {
    onnx_type = static_cast<int32_t>(node.attr_int("to", 0));
  }
  const DType to = dtype_from_onnx(onnx_type, where + ": attribute 'to'");
  const bool via_half = node.attr_int(kViaFloat16Attr, 0) != 0;
  if (via_half && to != DType::kFloat32) fail<ModelError>("{}: via_float16 needs to=FLOAT", where);
  return std::make_unique<CastKernel>(to, false, via_half);
}

std::unique_ptr<Kernel> make_cast_like(const Node& node, const Graph& graph) {
  if (node.num_inputs() != 2) fail<ModelError>("{}: expects 2 inputs, got {}", graph.where(node), node.num_inputs());
  return std::make_unique<CastKernel>(DType::kFloat32, true);
}

std::unique_ptr<Kernel> make_dropout(const Node& node, const Graph& graph) {
  if (node.num_inputs() >= 3 && graph.is_constant(node.inputs[2])) {
    const Tensor& training = graph.constant(node.inputs[2]);
    std::optional<double> ratio;
    if (node.input(1) == kNoValue) {
      ratio = 0.5;
    } else if (graph.is_constant(node.inputs[1]) && graph.constant(node.inputs[1]).numel() > 0) {
      ratio = graph.constant(node.inputs[1]).get_f64(0);
    }
    if (training.numel() > 0 && training.get_i64(0) != 0 && ratio && *ratio != 0.0) {
      fail<UnsupportedError>("{}: training-mode Dropout (ratio {}) is random and not supported", graph.where(node),
                             *ratio);
    }
  }
  // The mask output is bool from opset 10; before that it had the input's type.
  const bool bool_mask = graph.opset == 0 || graph.opset >= 10;
  return std::make_unique<DropoutKernel>(node.attr_float("ratio", 0.5f), bool_mask);
}

}  // namespace eff
