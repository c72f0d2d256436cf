// Integer kernels of the QDQ groups ONNX Runtime fuses (graph/qdq_fusion_pass.cpp), with the
// arithmetic of ORT's MLAS on x86-64 (AVX2 and newer), so that the codes are ORT's:
//
// - QLinearAdd (MlasQLinearAddKernelAvx2Helper): ratios rA = a_scale / c_scale and
//   rB = b_scale / c_scale in float32; a fixed part c_zero - (rA * a_zero + rB * b_zero) (the two
//   products rounded, then summed: kept apart as the plain C++ expression is); per element
//   v = fma(a, rA, fma(b, rB, fixed)) on the raw codes, rounded half to even, saturated to int16
//   and then to the code type.
// - QLinearGlobalAveragePool (MlasQLinearGlobalAveragePool, uint8 NCHW): the exact int32 sum over
//   the image minus x_zero * size, times scale = x_scale / (y_scale * float(size)) in float32,
//   clamped to [0 - y_zero, 255 - y_zero], rounded half to even, plus y_zero.
//
// Internal ops: the loader only writes them when it fuses QDQ groups (these are ORT's
// com.microsoft contrib ops, whose domain models cannot use here).
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/ops/tensor_helpers.h"

namespace eff {

namespace {

using namespace ops;

// cvtps2dq: round half to even; NaN and values outside int32 give INT32_MIN ("integer
// indefinite"), which every later saturation maps to the lowest code.
inline int32_t round_to_int32(float v) {
  if (!(v >= -2147483648.0f && v < 2147483648.0f)) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(std::nearbyint(v));
}

template <class T>
inline T saturate_code(int32_t v) {
  return static_cast<T>(std::clamp<int32_t>(v, std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
}

float scalar_scale(const OpContext& ctx, int index, const char* what) {
  const Tensor& s = ctx.input(index);
  if (s.dtype() != DType::kFloat32 || s.numel() != 1) {
    fail<ShapeError>("{}: {} scale must be one float32 value", ctx.where(), what);
  }
  return s.data<float>()[0];
}

int32_t scalar_zero(const OpContext& ctx, int index, DType code_type, const char* what) {
  const Tensor& z = ctx.input(index);
  if (z.dtype() != code_type || z.numel() != 1) {
    fail<ShapeError>("{}: {} zero point must be one {} value", ctx.where(), what, dtype_name(code_type));
  }
  return code_type == DType::kInt8 ? static_cast<const int8_t*>(z.raw())[0] : static_cast<const uint8_t*>(z.raw())[0];
}

// The fixed part and the per-element rounding of ORT's AVX2 QLinearAdd.
struct QLinearAddRule {
  float ratio_a, ratio_b, fixed;
  QLinearAddRule(float a_scale, int32_t a_zero, float b_scale, int32_t b_zero, float c_scale, int32_t c_zero)
      : ratio_a(a_scale / c_scale), ratio_b(b_scale / c_scale) {
    const float pa = ratio_a * static_cast<float>(a_zero);
    const float pb = ratio_b * static_cast<float>(b_zero);
    fixed = static_cast<float>(c_zero) - (pa + pb);
  }
  int32_t operator()(int32_t a, int32_t b) const {
    const float v = std::fma(static_cast<float>(a), ratio_a, std::fma(static_cast<float>(b), ratio_b, fixed));
    return std::clamp<int32_t>(round_to_int32(v), -32768, 32767);  // packs_epi32
  }
};

class QLinearAddKernel final : public Kernel {
 public:
  QLinearAddKernel(const Node& node, const Graph& graph) {
    if (node.num_inputs() != 8) fail<ModelError>("{}: expects 8 inputs, got {}", graph.where(node), node.num_inputs());
  }
  void run(OpContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(3);
    if ((a.dtype() != DType::kUInt8 && a.dtype() != DType::kInt8) || b.dtype() != a.dtype()) {
      fail<ShapeError>("{}: inputs must be both uint8 or both int8, got {} and {}", ctx.where(), dtype_name(a.dtype()),
                       dtype_name(b.dtype()));
    }
    if (a.shape() != b.shape()) {
      fail<ShapeError>("{}: inputs of shapes {} and {} (equal shapes only)", ctx.where(), shape_str(a.shape()),
                       shape_str(b.shape()));
    }
    const QLinearAddRule rule(scalar_scale(ctx, 1, "A"), scalar_zero(ctx, 2, a.dtype(), "A"), scalar_scale(ctx, 4, "B"),
                              scalar_zero(ctx, 5, a.dtype(), "B"), scalar_scale(ctx, 6, "output"),
                              scalar_zero(ctx, 7, a.dtype(), "output"));
    Tensor& c = ctx.output(0, a.dtype(), a.shape());
    const int64_t n = a.numel();
    auto typed = [&](auto* out) {
      using T = std::remove_pointer_t<decltype(out)>;
      const T* pa = static_cast<const T*>(a.raw());
      const T* pb = static_cast<const T*>(b.raw());
#pragma omp parallel for schedule(static) if (n >= kParallelElements)
      for (int64_t i = 0; i < n; ++i) out[i] = saturate_code<T>(rule(pa[i], pb[i]));
    };
    if (a.dtype() == DType::kUInt8) {
      typed(static_cast<uint8_t*>(c.raw()));
    } else {
      typed(static_cast<int8_t*>(c.raw()));
    }
  }
};

class QLinearGlobalAveragePoolKernel final : public Kernel {
 public:
  QLinearGlobalAveragePoolKernel(const Node& node, const Graph& graph) {
    if (node.num_inputs() != 5) fail<ModelError>("{}: expects 5 inputs, got {}", graph.where(node), node.num_inputs());
  }
  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kUInt8 || x.rank() < 3) {
      fail<ShapeError>("{}: input must be uint8 of rank 3 or more, got {} {}", ctx.where(), dtype_name(x.dtype()),
                       shape_str(x.shape()));
    }
    const int64_t planes = x.dim(0) * x.dim(1), size = x.numel() / std::max<int64_t>(1, planes);
    const int32_t xz = scalar_zero(ctx, 2, DType::kUInt8, "input"), yz = scalar_zero(ctx, 4, DType::kUInt8, "output");
    const float scale = scalar_scale(ctx, 1, "input") / (scalar_scale(ctx, 3, "output") * static_cast<float>(size));
    if (size >= (int64_t{1} << 24) || !(scale >= 0x1.0p-32f && scale < 256.0f)) {
      fail<UnsupportedError>("{}: scale ratio {} or image size {} outside ONNX Runtime's range", ctx.where(), scale,
                             size);
    }
    Shape out_shape = x.shape();
    for (size_t d = 2; d < out_shape.size(); ++d) out_shape[d] = 1;
    Tensor& y = ctx.output(0, DType::kUInt8, out_shape);
    const uint8_t* xd = x.data<uint8_t>();
    uint8_t* yd = y.data<uint8_t>();
    const float lo = static_cast<float>(0 - yz), hi = static_cast<float>(255 - yz);
    const int32_t bias = -xz * static_cast<int32_t>(size);
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelElements)
    for (int64_t p = 0; p < planes; ++p) {
      int32_t acc = bias;
      const uint8_t* src = xd + p * size;
      for (int64_t i = 0; i < size; ++i) acc += src[i];
      const float v = std::min(std::max(static_cast<float>(acc) * scale, lo), hi);
      yd[p] = static_cast<uint8_t>(round_to_int32(v) + yz);
    }
  }
};

}  // namespace

std::unique_ptr<Kernel> make_qlinear_add(const Node& node, const Graph& graph) {
  return std::make_unique<QLinearAddKernel>(node, graph);
}
std::unique_ptr<Kernel> make_qlinear_global_average_pool(const Node& node, const Graph& graph) {
  return std::make_unique<QLinearGlobalAveragePoolKernel>(node, graph);
}

}  // namespace eff
