// Quantization ops, matching ONNX Runtime's CPU kernels: QuantizeLinear, DequantizeLinear,
// DynamicQuantizeLinear, MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv.
//
// Arithmetic (the same as ORT's MLAS reference paths):
// - QuantizeLinear: q = saturate(nearbyint(x / scale) + zero_point), nearbyint rounding half to
//   even, saturating to the int8/uint8 range, all in float32.
// - DequantizeLinear: x = float(q - zero_point) * scale.
// - The integer products run on zero-point-subtracted codes (int16) with exact int32 accumulation,
//   so ConvInteger / MatMulInteger are exact and QLinearConv / QLinearMatMul differ from ORT only
//   where float requantization lands on a rounding tie differently (at most 1 quantization step).
// - Requantization: y = saturate(nearbyint(float(acc) * (x_scale * w_scale / y_scale)) + y_zp),
//   the multiplier computed in float32 as ORT does.
// QDQ models (DequantizeLinear feeding Conv/MatMul/Gemm) do not come here for their weights: the
// loader's constant folding dequantizes constant weights once, and the float kernels run.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/ops/dnnl_common.h"
#include "engine/ops/int8_conv_dnnl.h"
#include "engine/ops/tensor_helpers.h"

namespace eff {

namespace {

using namespace ops;

bool is_8bit(DType t) {
  return t == DType::kInt8 || t == DType::kUInt8;
}

int32_t qmin(DType t) {
  return t == DType::kInt8 ? -128 : t == DType::kUInt8 ? 0 : std::numeric_limits<int32_t>::min();
}
int32_t qmax(DType t) {
  return t == DType::kInt8 ? 127 : t == DType::kUInt8 ? 255 : std::numeric_limits<int32_t>::max();
}

// Element i of an int8/uint8/int32 tensor.
inline int32_t code_at(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kInt8:
      return static_cast<const int8_t*>(t.raw())[i];
    case DType::kUInt8:
      return static_cast<const uint8_t*>(t.raw())[i];
    default:
      return static_cast<const int32_t*>(t.raw())[i];
  }
}

// float -> nearest code, half to even, saturated; NaN becomes the lowest code, as in ONNX Runtime
// 1.30 (its vector max against the lower bound keeps the bound: uint8 0, int8 -128), for
// QuantizeLinear and DynamicQuantizeLinear alike.
inline int32_t quantize_value(float v, float scale, int32_t zero, int32_t lo, int32_t hi) {
  float q = std::nearbyint(v / scale) + static_cast<float>(zero);
  if (!(q == q)) return lo;
  q = std::clamp(q, static_cast<float>(lo), static_cast<float>(hi));
  return static_cast<int32_t>(q);
}

inline void store_code(Tensor& t, int64_t i, int32_t v) {
  if (t.dtype() == DType::kInt8) {
    static_cast<int8_t*>(t.raw())[i] = static_cast<int8_t>(v);
  } else if (t.dtype() == DType::kUInt8) {
    static_cast<uint8_t*>(t.raw())[i] = static_cast<uint8_t>(v);
  } else {
    static_cast<int32_t*>(t.raw())[i] = v;
  }
}

// Scale and zero point of one tensor: one pair, or one pair per index along `axis`.
struct QuantParams {
  std::vector<float> scale;
  std::vector<int32_t> zero;
  int axis = 0;  // meaningful when per-axis
  bool per_axis() const { return scale.size() > 1; }
};

// Reads scale (float32, scalar or 1-D) and optional zero point (same shape, `code_type`) of the
// tensor `data_shape` quantized along `axis` (when the scale has more than one element).
QuantParams read_params(const std::string& where, const Tensor& scale, const Tensor* zero, DType code_type,
                        const Shape& data_shape, int64_t axis_attr, const char* what) {
  QuantParams p;
  if (scale.dtype() != DType::kFloat32) {
    fail<UnsupportedError>("{}: {} scale has type {}, only float32 is supported", where, what,
                           dtype_name(scale.dtype()));
  }
  if (scale.rank() > 1) {
    fail<ShapeError>("{}: {} scale must be a scalar or 1-D, got shape {}", where, what, shape_str(scale.shape()));
  }
  if (scale.numel() == 0) fail<ShapeError>("{}: {} scale is empty", where, what);
  p.scale = scale.to_f32_vector();
  if (p.per_axis()) {
    const int rank = static_cast<int>(data_shape.size());
    if (axis_attr < -rank || axis_attr >= rank) {
      fail<ShapeError>("{}: axis {} is out of range for {} of rank {}", where, axis_attr, what, rank);
    }
    p.axis = static_cast<int>(axis_attr < 0 ? axis_attr + rank : axis_attr);
    if (data_shape[p.axis] != scale.numel()) {
      fail<ShapeError>("{}: {} scale has {} values, axis {} of shape {} has {}", where, what, scale.numel(), p.axis,
                       shape_str(data_shape), data_shape[p.axis]);
    }
  }
  if (zero) {
    if (zero->dtype() != code_type) {
      fail<ShapeError>("{}: {} zero point has type {}, the data has {}", where, what, dtype_name(zero->dtype()),
                       dtype_name(code_type));
    }
    if (zero->numel() != scale.numel()) {
      fail<ShapeError>("{}: {} zero point has shape {}, the scale has {}", where, what, shape_str(zero->shape()),
                       shape_str(scale.shape()));
    }
    for (int64_t i = 0; i < zero->numel(); ++i) p.zero.push_back(code_at(*zero, i));
  } else {
    p.zero.assign(p.scale.size(), 0);
  }
  return p;
}

// Elements along the quantization axis: element i belongs to channel (i / inner) % channels.
struct AxisWalk {
  int64_t inner = 1, channels = 1;
  AxisWalk(const QuantParams& p, const Shape& shape) {
    if (!p.per_axis()) return;
    channels = shape[p.axis];
    for (size_t d = static_cast<size_t>(p.axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  }
};

// Calls f(begin, end, channel) on runs of consecutive elements sharing one channel, in parallel:
// the inner loops then see constant parameters and vectorise.
template <class F>
void for_each_run(int64_t n, const AxisWalk& walk, F&& f) {
  if (walk.channels == 1) {
    constexpr int64_t kChunk = int64_t{1} << 14;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n >= kParallelElements)
    for (int64_t b = 0; b < chunks; ++b) f(b * kChunk, std::min(n, (b + 1) * kChunk), int64_t{0});
  } else {
    const int64_t runs = walk.inner > 0 ? n / walk.inner : 0;
#pragma omp parallel for schedule(static) if (n >= kParallelElements)
    for (int64_t r = 0; r < runs; ++r) f(r * walk.inner, (r + 1) * walk.inner, r % walk.channels);
  }
}

template <class Out, class In>
void quantize_typed(const In* x, Out* y, int64_t n, const QuantParams& p, const AxisWalk& walk) {
  const float lo = std::numeric_limits<Out>::min(), hi = std::numeric_limits<Out>::max();
  for_each_run(n, walk, [&](int64_t begin, int64_t end, int64_t c) {
    const float scale = p.scale[c], zero = static_cast<float>(p.zero[c]);
    for (int64_t i = begin; i < end; ++i) {
      const float q = std::nearbyint(static_cast<float>(x[i]) / scale) + zero;
      y[i] = static_cast<Out>(q == q ? std::min(std::max(q, lo), hi) : lo);  // NaN -> the lowest code (ORT)
    }
  });
}

template <class In>
void dequantize_typed(const In* x, float* y, int64_t n, const QuantParams& p, const AxisWalk& walk) {
  for_each_run(n, walk, [&](int64_t begin, int64_t end, int64_t c) {
    const float scale = p.scale[c];
    const int32_t zero = p.zero[c];
    for (int64_t i = begin; i < end; ++i) y[i] = static_cast<float>(static_cast<int32_t>(x[i]) - zero) * scale;
  });
}

// ---- QuantizeLinear / DequantizeLinear ---------------------------------------------------------

// Static checks of the constant quantization inputs, so that a bad model fails when loaded.
void check_constant_params(const Node& node, const Graph& graph, int data, int scale, int zero, const char* what) {
  if (!graph.is_constant(node.input(scale))) return;
  const Value& dv = graph.value(node.input(data));
  const Tensor* z = graph.is_constant(node.input(zero)) ? &graph.constant(node.input(zero)) : nullptr;
  const DType code_type = z ? z->dtype() : DType::kUInt8;
  Shape shape = dv.has_shape ? dv.shape : Shape{};
  const Tensor& s = graph.constant(node.input(scale));
  if (!dv.has_shape && s.numel() > 1) return;  // the axis can only be checked at run time
  for (auto& d : shape) d = d < 0 ? s.numel() : d;
  try {
    read_params(graph.where(node), s, z, code_type, shape, node.attr_int("axis", 1), what);
  } catch (const ShapeError& e) {
    throw ModelError(e.what());
  }
}

class QuantizeLinearKernel final : public Kernel {
 public:
  QuantizeLinearKernel(const Node& node, const Graph& graph) : axis_(node.attr_int("axis", 1)) {
    const int n = node.num_inputs();
    if (n < 2 || n > 3) fail<ModelError>("{}: expects 2 or 3 inputs, got {}", graph.where(node), n);
    if (node.input(2) != kNoValue && graph.value(node.input(2)).has_type &&
        !is_8bit(graph.value(node.input(2)).dtype)) {
      fail<UnsupportedError>("{}: zero point of type {} (int8 and uint8 are supported)", graph.where(node),
                             dtype_name(graph.value(node.input(2)).dtype));
    }
    check_constant_params(node, graph, 0, 1, 2, "output");
  }

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kFloat32 && x.dtype() != DType::kInt32) {
      fail<ShapeError>("{}: input must be float32 or int32, got {}", ctx.where(), dtype_name(x.dtype()));
    }
    const Tensor* zero = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    const DType out_type = zero ? zero->dtype() : DType::kUInt8;
    if (!is_8bit(out_type)) {
      fail<ShapeError>("{}: zero point must be int8 or uint8, got {}", ctx.where(), dtype_name(out_type));
    }
    const QuantParams p = read_params(ctx.where(), ctx.input(1), zero, out_type, x.shape(), axis_, "output");
    Tensor& y = ctx.output(0, out_type, x.shape());
    const AxisWalk walk(p, x.shape());
    const int64_t n = x.numel();
    auto with_input = [&](auto* out) {
      if (x.dtype() == DType::kFloat32) {
        quantize_typed(x.data<float>(), out, n, p, walk);
      } else {
        quantize_typed(x.data<int32_t>(), out, n, p, walk);
      }
    };
    if (out_type == DType::kInt8) {
      with_input(y.data<int8_t>());
    } else {
      with_input(y.data<uint8_t>());
    }
  }

 private:
  int64_t axis_;
};

class DequantizeLinearKernel final : public Kernel {
 public:
  DequantizeLinearKernel(const Node& node, const Graph& graph) : axis_(node.attr_int("axis", 1)) {
    const int n = node.num_inputs();
    if (n < 2 || n > 3) fail<ModelError>("{}: expects 2 or 3 inputs, got {}", graph.where(node), n);
    const Value& x = graph.value(node.input(0));
    if (x.has_type && !is_8bit(x.dtype) && x.dtype != DType::kInt32) {
      fail<UnsupportedError>("{}: input of type {} (int8, uint8 and int32 are supported)", graph.where(node),
                             dtype_name(x.dtype));
    }
    if (x.has_type && graph.is_constant(node.input(2)) && graph.constant(node.input(2)).dtype() != x.dtype) {
      fail<ModelError>("{}: zero point has type {}, the input has {}", graph.where(node),
                       dtype_name(graph.constant(node.input(2)).dtype()), dtype_name(x.dtype));
    }
    if (graph.is_constant(node.input(0))) check_constant_params(node, graph, 0, 1, 2, "input");
  }

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (!is_8bit(x.dtype()) && x.dtype() != DType::kInt32) {
      fail<ShapeError>("{}: input must be int8, uint8 or int32, got {}", ctx.where(), dtype_name(x.dtype()));
    }
    const Tensor* zero = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    const QuantParams p = read_params(ctx.where(), ctx.input(1), zero, x.dtype(), x.shape(), axis_, "input");
    if (x.dtype() == DType::kInt32 && std::any_of(p.zero.begin(), p.zero.end(), [](int32_t z) { return z != 0; })) {
      fail<ShapeError>("{}: an int32 input needs a zero point of 0", ctx.where());
    }
    Tensor& y = ctx.output(0, DType::kFloat32, x.shape());
    float* yd = y.data<float>();
    const AxisWalk walk(p, x.shape());
    const int64_t n = x.numel();
    if (x.dtype() == DType::kInt8) {
      dequantize_typed(x.data<int8_t>(), yd, n, p, walk);
    } else if (x.dtype() == DType::kUInt8) {
      dequantize_typed(x.data<uint8_t>(), yd, n, p, walk);
    } else {
      dequantize_typed(x.data<int32_t>(), yd, n, p, walk);
    }
  }

 private:
  int64_t axis_;
};

// ---- DynamicQuantizeLinear ---------------------------------------------------------------------

class DynamicQuantizeLinearKernel final : public Kernel {
 public:
  DynamicQuantizeLinearKernel(const Node& node, const Graph& graph) { require_f32_model(node, graph, 0); }

  // ORT's GetQuantizationParameter: the range always includes 0; a zero range gets scale 1.
  void run(OpContext& ctx) override {
    const Tensor& x = f32_input(ctx, 0);
    const float* xd = x.data<float>();
    const int64_t n = x.numel();
    float lo = 0.f, hi = 0.f;
    int64_t nans = 0;
#pragma omp parallel for reduction(min : lo) reduction(max : hi) reduction(+ : nans) schedule(static) if (n >= kParallelElements)
    for (int64_t i = 0; i < n; ++i) {
      lo = std::min(lo, xd[i]);  // NaN is skipped (std::min keeps lo), as ORT's range search mostly does
      hi = std::max(hi, xd[i]);
      nans += xd[i] != xd[i];
    }
    // An all-NaN tensor has no range: ORT gives scale NaN and zero point 255 (every code 0), so the
    // NaN reaches the outputs through the rescaling Mul instead of looking like an all-zero input.
    const bool all_nan = n > 0 && nans == n;
    const float scale = all_nan ? std::numeric_limits<float>::quiet_NaN() : hi == lo ? 1.0f : (hi - lo) / 255.0f;
    const float zero_from_min = 0.0f - lo / scale;
    const auto zero = all_nan ? 255 : static_cast<int32_t>(std::nearbyint(std::clamp(zero_from_min, 0.0f, 255.0f)));
    Tensor& y = ctx.output(0, DType::kUInt8, x.shape());
    uint8_t* yd = y.data<uint8_t>();
#pragma omp parallel for schedule(static) if (n >= kParallelElements)
    for (int64_t i = 0; i < n; ++i) yd[i] = static_cast<uint8_t>(quantize_value(xd[i], scale, zero, 0, 255));
    ctx.output(1, DType::kFloat32, {}).data<float>()[0] = scale;
    ctx.output(2, DType::kUInt8, {}).data<uint8_t>()[0] = static_cast<uint8_t>(zero);
  }
};

// ---- integer products --------------------------------------------------------------------------

// C[M x N] = A[M x K] * B^T where bt is B transposed [N x K], in int32; operands already have their
// zero points subtracted. Dot products of int16 rows: the compiler turns them into multiply-add
// instructions (pmaddwd, or vpdpwssd with AVX-512 VNNI); blocks of 16 columns keep their rows of
// bt in cache while every row of A passes, and write C contiguously.
void int_gemm(int64_t m, int64_t n, int64_t k, const int16_t* a, const int16_t* bt, int32_t* c) {
  constexpr int64_t kBlock = 16;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (m * n * k >= kParallelElements)
  for (int64_t jb = 0; jb < blocks; ++jb) {
    const int64_t j0 = jb * kBlock, j1 = std::min(n, j0 + kBlock);
    for (int64_t i = 0; i < m; ++i) {
      const int16_t* ai = a + i * k;
      for (int64_t j = j0; j < j1; ++j) {
        const int16_t* bj = bt + j * k;
        int32_t sum = 0;
        for (int64_t kk = 0; kk < k; ++kk) sum += static_cast<int32_t>(ai[kk]) * static_cast<int32_t>(bj[kk]);
        c[i * n + j] = sum;
      }
    }
  }
}

void check_code_input(const OpContext& ctx, const Tensor& t, int index) {
  if (!is_8bit(t.dtype())) {
    fail<ShapeError>("{}: input {} must be int8 or uint8, got {}", ctx.where(), index, dtype_name(t.dtype()));
  }
}

// Zero points as a per-index list: `count` values (one each) or one shared by all.
std::vector<int32_t> zero_points(const OpContext& ctx, int index, DType code_type, int64_t count, const char* what) {
  if (!ctx.has_input(index)) return std::vector<int32_t>(static_cast<size_t>(count), 0);
  const Tensor& z = ctx.input(index);
  if (z.dtype() != code_type) {
    fail<ShapeError>("{}: {} zero point has type {}, the data has {}", ctx.where(), what, dtype_name(z.dtype()),
                     dtype_name(code_type));
  }
  if (z.numel() == 1) return std::vector<int32_t>(static_cast<size_t>(count), code_at(z, 0));
  if (z.numel() != count) {
    fail<ShapeError>("{}: {} zero point has {} values, expected 1 or {}", ctx.where(), what, z.numel(), count);
  }
  std::vector<int32_t> v;
  for (int64_t i = 0; i < count; ++i) v.push_back(code_at(z, i));
  return v;
}

// Scales as a per-index list, like zero_points().
std::vector<float> scales(const OpContext& ctx, int index, int64_t count, const char* what) {
  const Tensor& s = ctx.input(index);
  if (s.dtype() != DType::kFloat32) {
    fail<ShapeError>("{}: {} scale must be float32, got {}", ctx.where(), what, dtype_name(s.dtype()));
  }
  if (s.numel() == 1) return std::vector<float>(static_cast<size_t>(count), s.data<float>()[0]);
  if (s.numel() != count) {
    fail<ShapeError>("{}: {} scale has {} values, expected 1 or {}", ctx.where(), what, s.numel(), count);
  }
  return s.to_f32_vector();
}

// Requantizes int32 accumulators along `channels` (index (i / inner) % channels) into `y`.
void requantize(const int32_t* acc, Tensor& y, const std::vector<float>& multiplier, int64_t inner, int32_t zero) {
  const int32_t lo = qmin(y.dtype()), hi = qmax(y.dtype());
  const int64_t channels = static_cast<int64_t>(multiplier.size());
  const int64_t n = y.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelElements)
  for (int64_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(acc[i]) * multiplier[(i / inner) % channels];
    store_code(y, i, quantize_value(v, 1.0f, zero, lo, hi));
  }
}

// ---- MatMulInteger / QLinearMatMul -------------------------------------------------------------

// A [..., M, K] x B [..., K, N] with numpy batch broadcasting; 1-D operands as MatMul treats them.
struct MatMulShape {
  int64_t m = 1, n = 1, k = 1;
  Shape batch, out;
  std::vector<int64_t> a_batch_index, b_batch_index;  // per output batch: which A / B matrix

  MatMulShape(const OpContext& ctx, const Shape& as, const Shape& bs) {
    if (as.empty() || bs.empty()) fail<ShapeError>("{}: inputs must have rank 1 or more", ctx.where());
    Shape a = as, b = bs;
    const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
    if (a_vec) a.insert(a.begin(), 1);
    if (b_vec) b.push_back(1);
    m = a[a.size() - 2];
    k = a.back();
    n = b.back();
    if (b[b.size() - 2] != k) {
      fail<ShapeError>("{}: shapes {} and {} cannot be multiplied", ctx.where(), shape_str(as), shape_str(bs));
    }
    const Shape ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
    const size_t r = std::max(ab.size(), bb.size());
    batch.assign(r, 1);
    for (size_t i = 0; i < r; ++i) {
      const int64_t da = i + ab.size() >= r ? ab[i + ab.size() - r] : 1;
      const int64_t db = i + bb.size() >= r ? bb[i + bb.size() - r] : 1;
      if (da != db && da != 1 && db != 1) {
        fail<ShapeError>("{}: batch dimensions of {} and {} do not broadcast", ctx.where(), shape_str(as),
                         shape_str(bs));
      }
      batch[i] = std::max(da, db);
    }
    const int64_t count = shape_numel(batch);
    for (int64_t o = 0; o < count; ++o) {
      int64_t rem = o, ia = 0, ib = 0, sa = 1, sb = 1;
      for (size_t i = r; i-- > 0;) {
        const int64_t idx = rem % batch[i];
        rem /= batch[i];
        const int64_t da = i + ab.size() >= r ? ab[i + ab.size() - r] : 1;
        const int64_t db = i + bb.size() >= r ? bb[i + bb.size() - r] : 1;
        ia += (da == 1 ? 0 : idx) * sa;
        ib += (db == 1 ? 0 : idx) * sb;
        sa *= da;
        sb *= db;
      }
      a_batch_index.push_back(ia);
      b_batch_index.push_back(ib);
    }
    out = batch;
    if (!a_vec) out.push_back(m);
    if (!b_vec) out.push_back(n);
  }
};

// Zero-point-subtracted codes of A [batches x M x K], zero point per row.
std::vector<int16_t> centred_rows(const Tensor& t, const std::vector<int32_t>& zero, int64_t rows, int64_t cols) {
  std::vector<int16_t> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = static_cast<int16_t>(code_at(t, i) - zero[(i / cols) % rows]);
  return out;
}

// Zero-point-subtracted codes of B [batches x K x N], zero point per column, each matrix transposed
// to [N x K] for int_gemm.
std::vector<int16_t> centred_transposed(const Tensor& t, const std::vector<int32_t>& zero, int64_t k, int64_t n) {
  std::vector<int16_t> out(static_cast<size_t>(t.numel()));
  const int64_t per = k * n, batches = per > 0 ? t.numel() / per : 0;
  for (int64_t b = 0; b < batches; ++b) {
    for (int64_t r = 0; r < k; ++r) {
      for (int64_t j = 0; j < n; ++j) {
        out[b * per + j * k + r] = static_cast<int16_t>(code_at(t, b * per + r * n + j) - zero[j]);
      }
    }
  }
  return out;
}

// B centred and transposed, kept while B's storage and zero points stay (constant weights are
// prepared once, not on every run: 1.3 M codes for a 1280 x 1000 classifier).
struct CentredB {
  const void* source = nullptr;
  std::vector<int32_t> zero;
  std::vector<int16_t> codes;
};

// int32 result of A x B with zero points into `c` (shape.out); shared by MatMulInteger and
// QLinearMatMul.
void integer_matmul(OpContext& ctx, int ai, int azi, int bi, int bzi, const MatMulShape& shape, int32_t* c,
                    CentredB* cache = nullptr) {
  const Tensor& a = ctx.input(ai);
  const Tensor& b = ctx.input(bi);
  // Per-row A and per-column B zero points are what the spec allows besides scalars.
  const std::vector<int32_t> az = zero_points(ctx, azi, a.dtype(), shape.m, "A");
  const std::vector<int32_t> bz = zero_points(ctx, bzi, b.dtype(), shape.n, "B");
  const std::vector<int16_t> ac = centred_rows(a, az, shape.m, shape.k);
  CentredB local;
  CentredB& cb = cache && ctx.graph().is_constant(ctx.node().input(bi)) ? *cache : local;
  if (cb.source != b.raw() || cb.zero != bz || cb.codes.size() != static_cast<size_t>(b.numel())) {
    cb.codes = centred_transposed(b, bz, shape.k, shape.n);
    cb.source = b.raw();
    cb.zero = bz;
  }
  const std::vector<int16_t>& bc = cb.codes;
  const int64_t mk = shape.m * shape.k, kn = shape.k * shape.n, mn = shape.m * shape.n;
  for (size_t o = 0; o < shape.a_batch_index.size(); ++o) {
    int_gemm(shape.m, shape.n, shape.k, ac.data() + shape.a_batch_index[o] * mk,
             bc.data() + shape.b_batch_index[o] * kn, c + static_cast<int64_t>(o) * mn);
  }
}

MatMulShape code_matmul_shape(const OpContext& ctx, int ai, int bi) {
  check_code_input(ctx, ctx.input(ai), ai);
  check_code_input(ctx, ctx.input(bi), bi);
  return MatMulShape(ctx, ctx.input(ai).shape(), ctx.input(bi).shape());
}

class MatMulIntegerKernel final : public Kernel {
 public:
  MatMulIntegerKernel(const Node& node, const Graph& graph) {
    const int n = node.num_inputs();
    if (n < 2 || n > 4) fail<ModelError>("{}: expects 2 to 4 inputs, got {}", graph.where(node), n);
  }
  void run(OpContext& ctx) override {
    const MatMulShape shape = code_matmul_shape(ctx, 0, 1);
    Tensor& y = ctx.output(0, DType::kInt32, shape.out);
    integer_matmul(ctx, 0, 2, 1, 3, shape, y.data<int32_t>());
  }
};

class QLinearMatMulKernel final : public Kernel {
 public:
  QLinearMatMulKernel(const Node& node, const Graph& graph) {
    const int n = node.num_inputs();
    // A 9th input, int32 per output column added to the sums, is the bias of a Gemm the QDQ
    // fusion pass rewrote (ORT's QGemm); ONNX's QLinearMatMul has 8.
    if (n != 8 && n != 9) fail<ModelError>("{}: expects 8 inputs, got {}", graph.where(node), n);
  }
  void run(OpContext& ctx) override {
    const MatMulShape shape = code_matmul_shape(ctx, 0, 3);
    const Tensor& yz = ctx.input(7);
    if (!is_8bit(yz.dtype()) || yz.numel() != 1) {
      fail<ShapeError>("{}: output zero point must be one int8 or uint8 value", ctx.where());
    }
    const std::vector<float> as = scales(ctx, 1, 1, "A");
    const std::vector<float> bs = scales(ctx, 4, shape.n, "B");
    const std::vector<float> ys = scales(ctx, 6, 1, "output");
    acc_.resize(static_cast<size_t>(shape_numel(shape.out)));
    integer_matmul(ctx, 0, 2, 3, 5, shape, acc_.data(), &centred_b_);
    if (ctx.has_input(8)) {
      const Tensor& bias = ctx.input(8);
      if (bias.dtype() != DType::kInt32 || bias.numel() != shape.n) {
        fail<ShapeError>("{}: bias must be {} int32 values, got {} {}", ctx.where(), shape.n, dtype_name(bias.dtype()),
                         shape_str(bias.shape()));
      }
      const int32_t* bd = bias.data<int32_t>();
      for (size_t i = 0; i < acc_.size(); ++i) acc_[i] += bd[static_cast<int64_t>(i) % shape.n];
    }
    std::vector<float> multiplier(static_cast<size_t>(shape.n));
    for (int64_t j = 0; j < shape.n; ++j) multiplier[j] = as[0] * bs[j] / ys[0];
    Tensor& y = ctx.output(0, yz.dtype(), shape.out);
    requantize(acc_.data(), y, multiplier, 1, code_at(yz, 0));
  }

 private:
  std::vector<int32_t> acc_;
  CentredB centred_b_;
};

// ---- ConvInteger / QLinearConv -----------------------------------------------------------------

// Direct integer convolution: im2col of the centred input codes (one patch row per output
// position), then int_gemm per group.
class IntegerConv {
 public:
  IntegerConv(const Node& node, const Graph& graph, int w_index)
      : where_(graph.where(node)), group_(node.attr_int("group", 1)) {
    if (group_ < 1) fail<ModelError>("{}: group={} must be positive", where_, group_);
    int spatial_hint = -1;
    if (graph.is_constant(node.input(w_index))) {
      const Tensor& w = graph.constant(node.input(w_index));
      if (w.rank() < 3 || w.rank() > 5) {
        fail<UnsupportedError>("{}: weights of rank {} (1-D, 2-D and 3-D convolutions are supported)", where_,
                               w.rank());
      }
      spatial_hint = w.rank() - 2;
    }
    window_ = parse_window(node, graph, spatial_hint);
  }

  // Output shape of x convolved with w; also fixes the geometry compute() uses.
  Shape prepare(const OpContext& ctx, const Tensor& x, const Tensor& w) {
    if (x.rank() < 3 || x.rank() > 5 || w.rank() != x.rank()) {
      fail<ShapeError>("{}: input {} and weights {} are not a 1-D, 2-D or 3-D convolution", ctx.where(),
                       shape_str(x.shape()), shape_str(w.shape()));
    }
    const int sp = x.rank() - 2;
    batch_ = x.dim(0);
    c_ = x.dim(1);
    oc_ = w.dim(0);
    cg_ = w.dim(1);
    if (oc_ % group_ != 0 || c_ != cg_ * group_) {
      fail<ShapeError>("{}: {} input channels, weights {} and group={} disagree", ctx.where(), c_, shape_str(w.shape()),
                       group_);
    }
    dnnl_dims in(x.shape().begin() + 2, x.shape().end()), kernel(w.shape().begin() + 2, w.shape().end());
    if (std::any_of(kernel.begin(), kernel.end(), [](int64_t k) { return k < 1; })) {
      fail<ShapeError>("{}: weights of shape {} have an empty kernel", ctx.where(), shape_str(w.shape()));
    }
    if (!window_.kernel.empty() && dnnl_dims(window_.kernel.begin(), window_.kernel.end()) != kernel) {
      fail<ShapeError>("{}: kernel_shape disagrees with weights of shape {}", ctx.where(), shape_str(w.shape()));
    }
    WindowAttrs wa = window_;
    wa.spatial = sp;
    const WindowGeometry g = window_geometry(wa, in, kernel, ctx);
    // Padded to 3 spatial dimensions (leading ones of size 1) so one loop nest serves all.
    for (int j = 0; j < 3; ++j) {
      I_[j] = K_[j] = O_[j] = S_[j] = D_[j] = 1;
      P_[j] = 0;
    }
    for (int i = 0; i < sp; ++i) {
      const int j = 3 - sp + i;
      I_[j] = in[i];
      K_[j] = kernel[i];
      O_[j] = g.out[i];
      S_[j] = g.strides[i];
      D_[j] = g.dilations[i];
      P_[j] = g.pad_begin[i];
    }
    sp_ = sp;
    Shape out_shape{batch_, oc_};
    for (int i = 0; i < sp; ++i) out_shape.push_back(g.out[i]);
    return out_shape;
  }

  // The geometry of a 2-D convolution, after prepare(); false for 1-D and 3-D ones.
  bool geometry_2d(Int8ConvGeometry& g) const {
    if (sp_ != 2) return false;
    g.batch = batch_;
    g.channels = c_;
    g.out_channels = oc_;
    g.group = group_;
    for (int i = 0; i < 2; ++i) {
      g.in[i] = I_[i + 1];
      g.kernel[i] = K_[i + 1];
      g.out[i] = O_[i + 1];
      g.stride[i] = S_[i + 1];
      g.dilation[i] = D_[i + 1];
      g.pad_begin[i] = P_[i + 1];
    }
    return true;
  }

  // out = conv(x - x_zero, w - w_zero[oc]) in int32, after prepare().
  void compute(const Tensor& x, int32_t x_zero, const Tensor& w, const std::vector<int32_t>& w_zero, int32_t* out) {
    const int64_t taps = K_[0] * K_[1] * K_[2], pixels = O_[0] * O_[1] * O_[2], in_pixels = I_[0] * I_[1] * I_[2];
    const int64_t rows = cg_ * taps, ocg = oc_ / group_;
    // Constant weights are centred once; the cache is keyed by their storage and zero points.
    if (w.raw() != centred_source_ || w_zero != centred_zero_ || wc_.size() != static_cast<size_t>(w.numel())) {
      wc_.resize(static_cast<size_t>(w.numel()));
      for (int64_t i = 0; i < w.numel(); ++i) wc_[i] = static_cast<int16_t>(code_at(w, i) - w_zero[i / rows]);
      centred_source_ = w.raw();
      centred_zero_ = w_zero;
    }
    col_.resize(static_cast<size_t>(rows * pixels));
    const int64_t I1 = I_[1], I2 = I_[2];
    for (int64_t b = 0; b < batch_; ++b) {
      for (int64_t gi = 0; gi < group_; ++gi) {
        // The patch of every output position, as one row of `rows` codes (int_gemm's B^T).
        // Padding holds the zero point, i.e. 0 once centred (ORT pads with the zero point too).
#pragma omp parallel for schedule(static) if (rows * pixels >= kParallelElements)
        for (int64_t pos = 0; pos < pixels; ++pos) {
          const int64_t od = pos / (O_[1] * O_[2]), oh = (pos / O_[2]) % O_[1], ow = pos % O_[2];
          int16_t* dst = col_.data() + pos * rows;
          for (int64_t ci = gi * cg_; ci < (gi + 1) * cg_; ++ci) {
            const int64_t base = (b * c_ + ci) * in_pixels;
            for (int64_t kd = 0; kd < K_[0]; ++kd) {
              const int64_t id = od * S_[0] - P_[0] + kd * D_[0];
              for (int64_t kh = 0; kh < K_[1]; ++kh) {
                const int64_t ih = oh * S_[1] - P_[1] + kh * D_[1];
                const bool row_inside = id >= 0 && id < I_[0] && ih >= 0 && ih < I1;
                for (int64_t kw = 0; kw < K_[2]; ++kw) {
                  const int64_t iw = ow * S_[2] - P_[2] + kw * D_[2];
                  *dst++ = row_inside && iw >= 0 && iw < I2
                               ? static_cast<int16_t>(code_at(x, base + (id * I1 + ih) * I2 + iw) - x_zero)
                               : int16_t{0};
                }
              }
            }
          }
        }
        int_gemm(ocg, pixels, rows, wc_.data() + gi * ocg * rows, col_.data(), out + (b * oc_ + gi * ocg) * pixels);
      }
    }
  }

 private:
  std::string where_;
  int64_t group_;
  WindowAttrs window_;
  int64_t batch_ = 0, c_ = 0, oc_ = 0, cg_ = 0;
  int sp_ = 0;
  int64_t I_[3] = {1, 1, 1}, K_[3] = {1, 1, 1}, O_[3] = {1, 1, 1}, S_[3] = {1, 1, 1}, D_[3] = {1, 1, 1},
          P_[3] = {0, 0, 0};
  std::vector<int16_t> col_, wc_;
  const void* centred_source_ = nullptr;
  std::vector<int32_t> centred_zero_;
};

int32_t scalar_zero_point(const OpContext& ctx, int index, DType code_type, const char* what) {
  const std::vector<int32_t> z = zero_points(ctx, index, code_type, 1, what);
  return z[0];
}

class ConvIntegerKernel final : public Kernel {
 public:
  ConvIntegerKernel(const Node& node, const Graph& graph) : conv_(node, graph, 1) {
    const int n = node.num_inputs();
    if (n < 2 || n > 4) fail<ModelError>("{}: expects 2 to 4 inputs, got {}", graph.where(node), n);
  }
  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    check_code_input(ctx, x, 0);
    check_code_input(ctx, w, 1);
    const int32_t xz = scalar_zero_point(ctx, 2, x.dtype(), "input");
    const std::vector<int32_t> wz = zero_points(ctx, 3, w.dtype(), w.rank() > 0 ? w.dim(0) : 1, "weight");
    Tensor& y = ctx.output(0, DType::kInt32, conv_.prepare(ctx, x, w));
    conv_.compute(x, xz, w, wz, y.data<int32_t>());
  }

 private:
  IntegerConv conv_;
};

class QLinearConvKernel final : public Kernel {
 public:
  QLinearConvKernel(const Node& node, const Graph& graph) : conv_(node, graph, 3) {
    const int n = node.num_inputs();
    if (n < 8 || n > 9) fail<ModelError>("{}: expects 8 or 9 inputs, got {}", graph.where(node), n);
  }
  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(3);
    check_code_input(ctx, x, 0);
    check_code_input(ctx, w, 3);
    const int64_t oc = w.rank() > 0 ? w.dim(0) : 1;
    const int32_t xz = scalar_zero_point(ctx, 2, x.dtype(), "input");
    const std::vector<int32_t> wz = zero_points(ctx, 5, w.dtype(), oc, "weight");
    const Tensor& yz = ctx.input(7);
    if (!is_8bit(yz.dtype()) || yz.numel() != 1) {
      fail<ShapeError>("{}: output zero point must be one int8 or uint8 value", ctx.where());
    }
    const std::vector<float> xs = scales(ctx, 1, 1, "input");
    const std::vector<float> ws = scales(ctx, 4, oc, "weight");
    const std::vector<float> ys = scales(ctx, 6, 1, "output");
    const Shape shape = conv_.prepare(ctx, x, w);
    const int64_t count = shape_numel(shape);
    acc_.resize(static_cast<size_t>(count));
    const int32_t* bias = nullptr;
    if (ctx.has_input(8)) {
      const Tensor& b = ctx.input(8);
      if (b.dtype() != DType::kInt32 || b.numel() != oc) {
        fail<ShapeError>("{}: bias must be {} int32 values, got {} {}", ctx.where(), oc, dtype_name(b.dtype()),
                         shape_str(b.shape()));
      }
      bias = b.data<int32_t>();
    }
    std::vector<float> multiplier(static_cast<size_t>(oc));
    for (int64_t c = 0; c < oc; ++c) multiplier[c] = xs[0] * ws[c] / ys[0];
    Tensor& y = ctx.output(0, yz.dtype(), shape);
    const int64_t inner = count / std::max<int64_t>(1, shape[0] * oc);
    // oneDNN's int8 kernels when the weights are symmetric int8 (its sums come out NHWC).
    Int8ConvGeometry geometry;
    const bool symmetric =
        w.dtype() == DType::kInt8 && std::all_of(wz.begin(), wz.end(), [](int32_t z) { return z == 0; });
    if (symmetric && conv_.geometry_2d(geometry) && dnnl_.compute(ctx.dnnl(), geometry, x, xz, w, acc_.data())) {
      requantize_nhwc(acc_.data(), bias, y, multiplier, shape[0], inner, code_at(yz, 0));
      return;
    }
    conv_.compute(x, xz, w, wz, acc_.data());
    if (bias) {
      for (int64_t i = 0; i < count; ++i) acc_[i] += bias[(i / inner) % oc];
    }
    requantize(acc_.data(), y, multiplier, inner, code_at(yz, 0));
  }
  std::string impl() const override { return dnnl_.impl().empty() ? "integer loops" : dnnl_.impl(); }

 private:
  IntegerConv conv_;
  DnnlInt8Conv dnnl_;
  std::vector<int32_t> acc_;
};

}  // namespace

std::unique_ptr<Kernel> make_quantize_linear(const Node& node, const Graph& graph) {
  return std::make_unique<QuantizeLinearKernel>(node, graph);
}
std::unique_ptr<Kernel> make_dequantize_linear(const Node& node, const Graph& graph) {
  return std::make_unique<DequantizeLinearKernel>(node, graph);
}
std::unique_ptr<Kernel> make_dynamic_quant(const Node& node, const Graph& graph) {
  return std::make_unique<DynamicQuantizeLinearKernel>(node, graph);
}
std::unique_ptr<Kernel> make_matmul_integer(const Node& node, const Graph& graph) {
  return std::make_unique<MatMulIntegerKernel>(node, graph);
}
std::unique_ptr<Kernel> make_qlinear_matmul(const Node& node, const Graph& graph) {
  return std::make_unique<QLinearMatMulKernel>(node, graph);
}
std::unique_ptr<Kernel> make_conv_integer(const Node& node, const Graph& graph) {
  return std::make_unique<ConvIntegerKernel>(node, graph);
}
std::unique_ptr<Kernel> make_qlinear_conv(const Node& node, const Graph& graph) {
  return std::make_unique<QLinearConvKernel>(node, graph);
}

}  // namespace eff
