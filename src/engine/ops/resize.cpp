// Resize (opsets 10, 11, 13, 18, 19) and Upsample (opsets 7 and 9): nearest and N-D linear
// and cubic interpolation with every coordinate transformation mode. Nearest works for any dtype
// (it only moves elements); linear and cubic interpolate float32, one axis at a time (bilinear,
// trilinear and bicubic interpolation are separable). Antialiasing is refused when loading.
#include <algorithm>
#ifdef __F16C__
#include <immintrin.h>
#endif
#include <array>
#include <cmath>
#include <numeric>
#include <vector>

#include "engine/blocked_layout.h"
#include "engine/ops/tensor_helpers.h"
#include "graph/passes.h"

namespace eff {

namespace {

enum class Interp { kNearest, kLinear, kCubic };
enum class Coord {
  kHalfPixel,
  kHalfPixelSymmetric,
  kAsymmetric,
  kAlignCorners,
  kPytorchHalfPixel,
  kTfHalfPixelForNn,
  kTfCropAndResize
};
// kSimple: Resize-10 and Upsample, which predate nearest_mode (ONNX Runtime keeps their rule:
// truncate when upsampling, ceil when downsampling).
enum class Nearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kSimple };
enum class AspectPolicy { kStretch, kNotLarger, kNotSmaller };
// Where the scales/sizes come from.
enum class Layout { kUpsampleAttr, kScalesInput1, kRoiScalesSizes };

struct ResizeConfig {
  bool round_half = false;  // via_float16: each output rounded to float16 (a fused fp16 round trip)
  bool blocked = false;     // reads and writes nChw16c (graph/layout_pass.cpp, blockable_resize)
  Interp interp = Interp::kNearest;
  Coord coord = Coord::kHalfPixel;
  Nearest nearest = Nearest::kRoundPreferFloor;
  AspectPolicy policy = AspectPolicy::kStretch;
  Layout layout = Layout::kRoiScalesSizes;
  float extrapolation = 0.0f;
  float cubic_a = -0.75f;              // cubic_coeff_a
  bool exclude_outside = false;        // cubic: taps outside the input get weight 0, the rest renormalised
  std::vector<int64_t> axes;           // opset 18; empty: all axes
  std::vector<float> upsample_scales;  // Upsample-7
};

// One axis of a resize. `resized_length` is the output length before rounding down (input
// length times scale): the ONNX reference implementation, whose outputs the conformance tests
// hold, uses it in the align_corners, pytorch_half_pixel and tf_crop_and_resize formulas (ONNX
// Runtime uses the rounded length instead; they differ only for fractional scale * length).
struct AxisGeometry {
  double scale = 1.0;
  double resized_length = 0.0;
  double roi_start = 0.0;
  double roi_end = 1.0;
};

// Position in the input that output position x maps to, along one axis.
double original_coordinate(const ResizeConfig& c, int64_t x, const AxisGeometry& g, int64_t in_len, int64_t out_len) {
  const double xr = static_cast<double>(x);
  const double in = static_cast<double>(in_len);
  const double resized = g.resized_length;
  switch (c.coord) {
    case Coord::kHalfPixel:
      return (xr + 0.5) / g.scale - 0.5;
    case Coord::kHalfPixelSymmetric: {
      const double adjustment = static_cast<double>(out_len) / resized;
      const double offset = in / 2 * (1 - adjustment);
      return offset + (xr + 0.5) / g.scale - 0.5;
    }
    case Coord::kAsymmetric:
      return xr / g.scale;
    case Coord::kPytorchHalfPixel:
      return resized > 1 ? (xr + 0.5) / g.scale - 0.5 : 0.0;
    case Coord::kTfHalfPixelForNn:
      return (xr + 0.5) / g.scale;
    case Coord::kAlignCorners:
      return resized == 1 ? 0.0 : xr * (in - 1) / (resized - 1);
    case Coord::kTfCropAndResize:
      return resized > 1 ? g.roi_start * (in - 1) + xr * (g.roi_end - g.roi_start) * (in - 1) / (resized - 1)
                         : 0.5 * (g.roi_start + g.roi_end) * (in - 1);
  }
  return xr;
}

int64_t nearest_index(Nearest mode, double x, bool downsampling) {
  switch (mode) {
    case Nearest::kSimple:
      return downsampling ? static_cast<int64_t>(std::ceil(x)) : static_cast<int64_t>(x);
    case Nearest::kRoundPreferCeil:
      return static_cast<int64_t>(std::round(x));
    case Nearest::kFloor:
      return static_cast<int64_t>(std::floor(x));
    case Nearest::kCeil:
      return static_cast<int64_t>(std::ceil(x));
    case Nearest::kRoundPreferFloor:
      if (x == std::floor(x) + 0.5) return static_cast<int64_t>(std::floor(x));
      return static_cast<int64_t>(std::round(x));
  }
  return 0;
}

// Interpolation along one axis: out[j] = sum over t of w[j * taps + t] * in[idx[j * taps + t]]
// (linear: 2 taps, cubic: 4), or the extrapolation value where `outside[j]` (tf_crop_and_resize).
struct TapAxis {
  int taps = 2;
  std::vector<int64_t> idx;
  std::vector<float> w;
  std::vector<char> outside;
};

// Keys' cubic convolution weights of the taps at floor(x) - 1 .. floor(x) + 2 for the fraction
// `r` of x, with coefficient a (ONNX's cubic_coeff_a; the ONNX reference's formulas).
std::array<double, 4> cubic_weights(double r, double a) {
  const double s = r + 1, t = 1 - r, u = 2 - r;
  return {((a * s - 5 * a) * s + 8 * a) * s - 4 * a, ((a + 2) * r - (a + 3)) * r * r + 1,
          ((a + 2) * t - (a + 3)) * t * t + 1, ((a * u - 5 * a) * u + 8 * a) * u - 4 * a};
}

// float32 rounded to the nearest float16 (half to even) and widened again, in place: the rounding
// of a Cast to float16 and back fused into the Resize before it (graph/float16_round_pass.cpp),
// the same conversion instructions as that Cast's kernel (ops/value_ops.cpp).
void round_through_half_in_place(float* v, int64_t n) {
  int64_t vec = 0;
#ifdef __F16C__
  vec = n / 8 * 8;
  for (int64_t i = 0; i < vec; i += 8) {
    _mm256_storeu_ps(v + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(v + i), _MM_FROUND_TO_NEAREST_INT)));
  }
#endif
  for (int64_t i = vec; i < n; ++i) v[i] = half_to_float(float_to_half(v[i]));
}

class ResizeKernel final : public Kernel {
 public:
  explicit ResizeKernel(ResizeConfig config) : c_(std::move(config)) {}

  std::string impl() const override {
    if (!c_.blocked) return "ref";
    return c_.interp == Interp::kNearest ? "loop:blocked_nearest_resize" : "loop:blocked_linear_resize";
  }

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const int rank = x.rank();
    std::vector<AxisGeometry> geo(static_cast<size_t>(rank));
    for (int d = 0; d < rank; ++d) geo[d].resized_length = static_cast<double>(x.dim(d));
    Shape out_shape = x.shape();
    output_geometry(ctx, x, geo, out_shape);

    if (c_.interp != Interp::kNearest && x.dtype() != DType::kFloat32) {
      fail<UnsupportedError>("{}: {} interpolation of {} is not supported", ctx.where(),
                             c_.interp == Interp::kLinear ? "linear" : "cubic", dtype_name(x.dtype()));
    }
    if (c_.blocked) {
      run_blocked(ctx, x, geo, out_shape);
      return;
    }
    Tensor& out = ctx.output(0, x.dtype(), out_shape);
    if (out.numel() == 0) return;
    if (c_.interp == Interp::kNearest) {
      run_nearest(x, out, geo);
    } else if (run_interpolated(x, out, geo)) {
      return;  // rounded row by row already
    }
    if (c_.round_half) {
      const int64_t n = out.numel(), chunk = 4096;
      float* v = out.data<float>();
#pragma omp parallel for schedule(static) if (n >= ops::kParallelElements)
      for (int64_t i = 0; i < n; i += chunk) round_through_half_in_place(v + i, std::min(chunk, n - i));
    }
  }

 private:
  // Fills the per-axis geometry (scale, resized length, tf_crop_and_resize region of interest)
  // and the output shape.
  void output_geometry(const OpContext& ctx, const Tensor& x, std::vector<AxisGeometry>& geo, Shape& out_shape) const {
    const int rank = x.rank();
    std::vector<int> axes;
    if (c_.axes.empty()) {
      axes.resize(static_cast<size_t>(rank));
      std::iota(axes.begin(), axes.end(), 0);
    } else {
      axes = ops::normalize_axes(c_.axes, rank, ctx);
    }
    const size_t k = axes.size();

    std::vector<float> given_scales;
    std::vector<int64_t> sizes;
    switch (c_.layout) {
      case Layout::kUpsampleAttr:
        given_scales = c_.upsample_scales;
        break;
      case Layout::kScalesInput1:
        given_scales = ctx.input(1).to_f32_vector();
        break;
      case Layout::kRoiScalesSizes:
        if (ctx.has_input(3) && ctx.input(3).numel() > 0) {
          sizes = ctx.input(3).to_i64_vector();
        } else if (ctx.has_input(2) && ctx.input(2).numel() > 0) {
          given_scales = ctx.input(2).to_f32_vector();
        } else {
          fail<ShapeError>("{}: neither scales nor sizes are given", ctx.where());
        }
        if (c_.coord == Coord::kTfCropAndResize && ctx.has_input(1) && ctx.input(1).numel() > 0) {
          const std::vector<float> roi = ctx.input(1).to_f32_vector();
          if (roi.size() != 2 * k) {
            fail<ShapeError>("{}: roi has {} values, expected {}", ctx.where(), roi.size(), 2 * k);
          }
          for (size_t i = 0; i < k; ++i) {
            geo[axes[i]].roi_start = roi[i];
            geo[axes[i]].roi_end = roi[i + k];
          }
        }
        break;
    }

    if (!sizes.empty()) {
      if (sizes.size() != k) {
        fail<ShapeError>("{}: sizes has {} values for {} axes", ctx.where(), sizes.size(), k);
      }
      for (size_t i = 0; i < k; ++i) {
        if (sizes[i] < 0) fail<ShapeError>("{}: negative output size {}", ctx.where(), sizes[i]);
      }
      if (c_.policy != AspectPolicy::kStretch) {
        // One scale for all resized axes, chosen so the output fits inside / covers `sizes`.
        double scale = c_.policy == AspectPolicy::kNotLarger ? HUGE_VAL : 0.0;
        for (size_t i = 0; i < k; ++i) {
          const int64_t in = x.dim(axes[i]);
          if (in == 0) continue;
          const double s = static_cast<double>(sizes[i]) / static_cast<double>(in);
          scale = c_.policy == AspectPolicy::kNotLarger ? std::min(scale, s) : std::max(scale, s);
        }
        if (!std::isfinite(scale) || scale <= 0) scale = 1.0;
        for (size_t i = 0; i < k; ++i) {
          geo[axes[i]].scale = scale;
          geo[axes[i]].resized_length = scale * static_cast<double>(x.dim(axes[i]));
          out_shape[axes[i]] = static_cast<int64_t>(std::nearbyint(geo[axes[i]].resized_length));
        }
      } else {
        for (size_t i = 0; i < k; ++i) {
          const int64_t in = x.dim(axes[i]);
          if (in == 0 && sizes[i] != 0) {
            fail<ShapeError>("{}: cannot resize the empty axis {} to {}", ctx.where(), axes[i], sizes[i]);
          }
          out_shape[axes[i]] = sizes[i];
          geo[axes[i]].scale = in == 0 ? 1.0 : static_cast<double>(sizes[i]) / static_cast<double>(in);
          geo[axes[i]].resized_length = static_cast<double>(sizes[i]);
        }
      }
    } else {
      if (given_scales.size() != k) {
        fail<ShapeError>("{}: scales has {} values for {} axes", ctx.where(), given_scales.size(), k);
      }
      for (size_t i = 0; i < k; ++i) {
        const double s = given_scales[i];
        if (!(s > 0) || !std::isfinite(s)) fail<ShapeError>("{}: scale {} is not positive", ctx.where(), s);
        const double resized = s * static_cast<double>(x.dim(axes[i]));
        if (resized > static_cast<double>(max_tensor_bytes())) {
          fail<ShapeError>("{}: scale {} makes axis {} too large", ctx.where(), s, axes[i]);
        }
        geo[axes[i]].scale = s;
        geo[axes[i]].resized_length = resized;
        out_shape[axes[i]] = static_cast<int64_t>(std::floor(resized));
      }
    }
  }

  // Source index along axis d of each output position; -1: the extrapolation value.
  std::vector<int64_t> nearest_map(int64_t in_len, int64_t out_len, const AxisGeometry& g) const {
    std::vector<int64_t> map(static_cast<size_t>(out_len));
    for (int64_t o = 0; o < out_len; ++o) {
      const double xo = original_coordinate(c_, o, g, in_len, out_len);
      if (c_.coord == Coord::kTfCropAndResize && (xo < 0 || xo > static_cast<double>(in_len - 1))) {
        map[o] = -1;
        continue;
      }
      map[o] = std::clamp<int64_t>(nearest_index(c_.nearest, xo, g.scale < 1.0), 0, in_len - 1);
    }
    return map;
  }

  void run_nearest(const Tensor& x, Tensor& out, const std::vector<AxisGeometry>& geo) const {
    const int rank = x.rank();
    const Shape& out_shape = out.shape();
    std::vector<std::vector<int64_t>> source(static_cast<size_t>(rank));
    for (int d = 0; d < rank; ++d) source[d] = nearest_map(x.dim(d), out_shape[d], geo[d]);
    const uint64_t fill_bits = ops::element_bits_from_double(x.dtype(), c_.extrapolation);
    const std::vector<int64_t> in_strides = ops::strides_of(x.shape());
    ops::visit_element_bits(x.dtype(), [&](auto tag) {
      using U = decltype(tag);
      const U fill = static_cast<U>(fill_bits);
      const U* src = static_cast<const U*>(x.raw());
      U* dst = static_cast<U*>(out.raw());
      if (rank == 0) {
        dst[0] = src[0];
        return;
      }
      const int64_t inner = out_shape.back();
      const int64_t rows = out.numel() / inner;
      const std::vector<int64_t>& inner_map = source.back();
#pragma omp parallel for schedule(static) if (out.numel() >= ops::kParallelElements)
      for (int64_t r = 0; r < rows; ++r) {
        U* row = dst + r * inner;
        int64_t rest = r, off = 0;
        bool outside = false;
        for (int d = rank - 2; d >= 0; --d) {
          const int64_t s = source[d][rest % out_shape[d]];
          rest /= out_shape[d];
          if (s < 0) outside = true;
          off += s * in_strides[d];
        }
        if (outside) {
          for (int64_t i = 0; i < inner; ++i) row[i] = fill;
          continue;
        }
        const U* in_row = src + off;
        for (int64_t i = 0; i < inner; ++i) {
          const int64_t s = inner_map[i];
          row[i] = s < 0 ? fill : in_row[s];
        }
      }
    });
  }

  TapAxis linear_axis(int64_t in_len, int64_t out_len, const AxisGeometry& g, bool& identity) const {
    TapAxis a;
    a.taps = 2;
    a.idx.assign(static_cast<size_t>(2 * out_len), 0);
    a.w.assign(static_cast<size_t>(2 * out_len), 0.0f);
    a.outside.assign(static_cast<size_t>(out_len), 0);
    identity = in_len == out_len;
    for (int64_t o = 0; o < out_len; ++o) {
      double xo = original_coordinate(c_, o, g, in_len, out_len);
      if (c_.coord == Coord::kTfCropAndResize && (xo < 0 || xo > static_cast<double>(in_len - 1))) {
        a.outside[o] = 1;
        identity = false;
        continue;
      }
      // Outside the input the edge values continue (the reference pads with edge values).
      xo = std::clamp(xo, 0.0, static_cast<double>(in_len - 1));
      const int64_t lo = static_cast<int64_t>(std::floor(xo));
      const float w = static_cast<float>(xo - static_cast<double>(lo));
      a.idx[2 * o] = lo;
      a.idx[2 * o + 1] = std::min(lo + 1, in_len - 1);
      a.w[2 * o] = 1.0f - w;
      a.w[2 * o + 1] = w;
      // At the last input position both taps are the same value: half each, as ONNX Runtime
      // weighs them (the same sum for finite values; 1 and 0 made an Inf there NaN, 0 * Inf).
      if (a.idx[2 * o] == a.idx[2 * o + 1]) a.w[2 * o] = a.w[2 * o + 1] = 0.5f;
      if (lo != o || w != 0.0f) identity = false;
    }
    return a;
  }

  // Cubic taps at floor(x) - 1 .. floor(x) + 2, edge values beyond the input (as the reference
  // pads), or with exclude_outside those taps dropped and the weights renormalised.
  TapAxis cubic_axis(int64_t in_len, int64_t out_len, const AxisGeometry& g, bool& identity) const {
    TapAxis a;
    a.taps = 4;
    a.idx.assign(static_cast<size_t>(4 * out_len), 0);
    a.w.assign(static_cast<size_t>(4 * out_len), 0.0f);
    a.outside.assign(static_cast<size_t>(out_len), 0);
    identity = in_len == out_len;
    for (int64_t o = 0; o < out_len; ++o) {
      const double xo = original_coordinate(c_, o, g, in_len, out_len);
      if (c_.coord == Coord::kTfCropAndResize && (xo < 0 || xo > static_cast<double>(in_len - 1))) {
        a.outside[o] = 1;
        identity = false;
        continue;
      }
      const double fl = std::floor(xo);
      std::array<double, 4> w = cubic_weights(xo - fl, c_.cubic_a);
      const int64_t first = static_cast<int64_t>(fl) - 1;
      if (c_.exclude_outside) {
        double sum = 0;
        for (int t = 0; t < 4; ++t) {
          if (first + t < 0 || first + t >= in_len) w[t] = 0;
          sum += w[t];
        }
        for (double& v : w) v = sum != 0 ? v / sum : 0;
      }
      for (int t = 0; t < 4; ++t) {
        a.idx[4 * o + t] = std::clamp<int64_t>(first + t, 0, in_len - 1);
        a.w[4 * o + t] = static_cast<float>(w[t]);
      }
      if (xo != static_cast<double>(o)) identity = false;
    }
    return a;
  }

  struct Pass {
    int axis;
    TapAxis map;
  };

  // The axes that interpolation changes (identity axes are skipped: no arithmetic on them), in
  // the order the passes run: shrinking axes first keeps the intermediate tensors small.
  std::vector<Pass> interpolation_passes(const Shape& in_shape, const Shape& out_shape,
                                         const std::vector<AxisGeometry>& geo) const {
    std::vector<Pass> passes;
    for (size_t d = 0; d < in_shape.size(); ++d) {
      bool identity = false;
      TapAxis m = c_.interp == Interp::kCubic ? cubic_axis(in_shape[d], out_shape[d], geo[d], identity)
                                              : linear_axis(in_shape[d], out_shape[d], geo[d], identity);
      if (!identity) passes.push_back({static_cast<int>(d), std::move(m)});
    }
    std::stable_sort(passes.begin(), passes.end(), [&](const Pass& a, const Pass& b) {
      return static_cast<double>(out_shape[a.axis]) / static_cast<double>(in_shape[a.axis]) <
             static_cast<double>(out_shape[b.axis]) / static_cast<double>(in_shape[b.axis]);
    });
    return passes;
  }

  // Returns whether the output is already rounded through float16 (c_.round_half).
  bool run_interpolated(const Tensor& x, Tensor& out, const std::vector<AxisGeometry>& geo) const {
    const int rank = x.rank();
    const Shape& out_shape = out.shape();
    std::vector<Pass> passes = interpolation_passes(x.shape(), out_shape, geo);
    if (passes.empty()) {
      std::memcpy(out.raw(), x.raw(), x.nbytes());
      return false;
    }
    if (passes.size() == 2 && rank >= 2 && passes[0].axis == rank - 2 && passes[1].axis == rank - 1 &&
        passes[0].map.taps == 2 && passes[1].map.taps == 2 && !any_outside(passes[0].map) &&
        !any_outside(passes[1].map)) {
      bilinear_planes(x.data<float>(), x.shape(), passes[0].map, passes[1].map, out.data<float>(), out_shape,
                      c_.round_half);
      return c_.round_half;
    }
    Shape shape = x.shape();
    Tensor current = x;
    for (size_t p = 0; p < passes.size(); ++p) {
      const Pass& pass = passes[p];
      Shape next_shape = shape;
      next_shape[pass.axis] = out_shape[pass.axis];
      Tensor next = p + 1 == passes.size() ? out : Tensor(DType::kFloat32, next_shape);
      interpolate_axis(current.data<float>(), shape, pass.axis, pass.map, next.data<float>(), next_shape);
      current = next;
      shape = std::move(next_shape);
    }
    return false;
  }

  static bool any_outside(const TapAxis& m) {
    return std::any_of(m.outside.begin(), m.outside.end(), [](char c) { return c != 0; });
  }

  // Bilinear over the last two axes (a U-Net's upsampling): each output row interpolates its two
  // input rows into a row buffer that stays in L1, then gathers pairs along it. The same arithmetic,
  // in the same order, as the height pass then the width pass of interpolate_axis, without their
  // intermediate tensor (the size of the output over 2: allocated and faulted in on every run).
  static void bilinear_planes(const float* src, const Shape& in_shape, const TapAxis& rows, const TapAxis& cols,
                              float* dst, const Shape& out_shape, bool round_half) {
    const size_t r = in_shape.size();
    int64_t planes = 1;
    for (size_t d = 0; d + 2 < r; ++d) planes *= in_shape[d];
    const int64_t ih = in_shape[r - 2], iw = in_shape[r - 1], oh = out_shape[r - 2], ow = out_shape[r - 1];
    const int64_t* cidx = cols.idx.data();
    const float* cw = cols.w.data();
#pragma omp parallel for schedule(static) if (planes * oh * ow >= ops::kParallelElements)
    for (int64_t pr = 0; pr < planes * oh; ++pr) {
      thread_local std::vector<float> row;
      if (row.size() < static_cast<size_t>(iw)) row.resize(static_cast<size_t>(iw));
      const int64_t p = pr / oh, j = pr % oh;
      const float* a = src + (p * ih + rows.idx[2 * j]) * iw;
      const float* b = src + (p * ih + rows.idx[2 * j + 1]) * iw;
      const float w0 = rows.w[2 * j], w1 = rows.w[2 * j + 1];
      float* t = row.data();
      for (int64_t i = 0; i < iw; ++i) t[i] = w0 * a[i] + w1 * b[i];
      float* o = dst + pr * ow;
      for (int64_t i = 0; i < ow; ++i) o[i] = cw[2 * i] * t[cidx[2 * i]] + cw[2 * i + 1] * t[cidx[2 * i + 1]];
      if (round_half) round_through_half_in_place(o, ow);  // while the row is in L1
    }
  }

  void interpolate_axis(const float* src, const Shape& in_shape, int axis, const TapAxis& m, float* dst,
                        const Shape& out_shape) const {
    int64_t outer = 1;
    for (int d = 0; d < axis; ++d) outer *= in_shape[d];
    int64_t inner = 1;
    for (size_t d = static_cast<size_t>(axis) + 1; d < in_shape.size(); ++d) inner *= in_shape[d];
    const int64_t in_len = in_shape[axis], out_len = out_shape[axis];
    const float fill = c_.extrapolation;
    const int64_t total = outer * out_len * inner;
    if (inner == 1 && m.taps == 2 && std::none_of(m.outside.begin(), m.outside.end(), [](char c) { return c != 0; })) {
      // The innermost axis (image width), linear: one gathered pair per output, no per-element
      // branch or inner loop, so that the compiler vectorises it; the same arithmetic as below.
      const int64_t* idx = m.idx.data();
      const float* w = m.w.data();
#pragma omp parallel for schedule(static) if (total >= ops::kParallelElements)
      for (int64_t o = 0; o < outer; ++o) {
        const float* s = src + o * in_len;
        float* t = dst + o * out_len;
        for (int64_t j = 0; j < out_len; ++j) t[j] = w[2 * j] * s[idx[2 * j]] + w[2 * j + 1] * s[idx[2 * j + 1]];
      }
      return;
    }
#pragma omp parallel for schedule(static) if (total >= ops::kParallelElements)
    for (int64_t o = 0; o < outer; ++o) {
      const float* s = src + o * in_len * inner;
      float* t = dst + o * out_len * inner;
      for (int64_t j = 0; j < out_len; ++j) {
        float* row = t + j * inner;
        if (m.outside[j]) {
          for (int64_t i = 0; i < inner; ++i) row[i] = fill;
          continue;
        }
        const int64_t* idx = m.idx.data() + j * m.taps;
        const float* w = m.w.data() + j * m.taps;
        const float* a = s + idx[0] * inner;
        const float* b = s + idx[1] * inner;
        if (m.taps == 2) {
          for (int64_t i = 0; i < inner; ++i) row[i] = w[0] * a[i] + w[1] * b[i];
          continue;
        }
        const float* c = s + idx[2] * inner;
        const float* d = s + idx[3] * inner;
        for (int64_t i = 0; i < inner; ++i) row[i] = w[0] * a[i] + w[1] * b[i] + w[2] * c[i] + w[3] * d[i];
      }
    }
  }

  // nChw16c in and out (a U-Net's bilinear upsampling between blocked convs, a feature pyramid's
  // nearest upsampling): each output pixel's 16 channels are one vector. Per value, the arithmetic
  // and its order are the plain kernels' (the same passes in the same order, the same expressions),
  // so the outputs are the same bits; padded channels are zero in and stay zero (0 * w + 0 * w).
  void run_blocked(OpContext& ctx, const Tensor& x, const std::vector<AxisGeometry>& geo,
                   const Shape& out_shape) const {
    if (x.rank() != 4 || x.dtype() != DType::kFloat32 || out_shape[0] != x.dim(0) || out_shape[1] != x.dim(1)) {
      fail("internal error: {}: blocked resize of {} to {}", ctx.where(), shape_str(x.shape()), shape_str(out_shape));
    }
    Tensor y = blocked_output(ctx, 0, out_shape);
    if (y.numel() == 0) return;
    constexpr int64_t kB = kBlockedChannels;
    const int64_t planes = x.dim(0) * ((x.dim(1) + kB - 1) / kB);
    const int64_t ih = x.dim(2), iw = x.dim(3), oh = out_shape[2], ow = out_shape[3];
    const float* src = x.data<float>();
    float* dst = y.data<float>();
    const bool parallel = planes * oh * ow * kB >= ops::kParallelElements;
    const bool round_half = c_.round_half;
    if (c_.interp == Interp::kNearest) {
      for (int d = 0; d < 2; ++d) {
        const std::vector<int64_t> map = nearest_map(x.dim(d), out_shape[d], geo[d]);
        for (int64_t o = 0; o < out_shape[d]; ++o) {
          if (map[o] != o) fail("internal error: {}: blocked resize moves axis {}", ctx.where(), d);
        }
      }
      const std::vector<int64_t> rows = nearest_map(ih, oh, geo[2]), cols = nearest_map(iw, ow, geo[3]);
      if (std::find(rows.begin(), rows.end(), -1) != rows.end() ||
          std::find(cols.begin(), cols.end(), -1) != cols.end()) {
        fail("internal error: {}: blocked resize with extrapolation", ctx.where());
      }
#pragma omp parallel for schedule(static) if (parallel)
      for (int64_t pr = 0; pr < planes * oh; ++pr) {
        const int64_t p = pr / oh, j = pr % oh;
        const float* in = src + (p * ih + rows[j]) * iw * kB;
        float* o = dst + pr * ow * kB;
        for (int64_t i = 0; i < ow; ++i) std::copy_n(in + cols[i] * kB, kB, o + i * kB);
        if (round_half) round_through_half_in_place(o, ow * kB);
      }
      return;
    }
    const std::vector<Pass> passes = interpolation_passes(x.shape(), out_shape, geo);
    const TapAxis* hmap = nullptr;
    const TapAxis* wmap = nullptr;
    const bool rows_first = passes.empty() || passes[0].axis == 2;
    for (const Pass& pass : passes) {
      if ((pass.axis != 2 && pass.axis != 3) || pass.map.taps != 2 || any_outside(pass.map)) {
        fail("internal error: {}: blocked resize along axis {}", ctx.where(), pass.axis);
      }
      (pass.axis == 2 ? hmap : wmap) = &pass.map;
    }
    const int64_t buffer_floats = (rows_first ? iw : 2 * ow) * kB;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t pr = 0; pr < planes * oh; ++pr) {
      thread_local std::vector<float> buffer;
      if (buffer.size() < static_cast<size_t>(buffer_floats)) buffer.resize(static_cast<size_t>(buffer_floats));
      const int64_t p = pr / oh, j = pr % oh;
      const float* plane = src + p * ih * iw * kB;
      float* o = dst + pr * ow * kB;
      if (hmap == nullptr && wmap == nullptr) {
        std::copy_n(plane + j * iw * kB, iw * kB, o);
      } else if (hmap == nullptr) {
        blocked_width_pass(plane + j * iw * kB, *wmap, ow, o);
      } else if (wmap == nullptr) {
        blend_rows(plane + hmap->idx[2 * j] * iw * kB, plane + hmap->idx[2 * j + 1] * iw * kB, hmap->w[2 * j],
                   hmap->w[2 * j + 1], iw * kB, o);
      } else if (rows_first) {  // as bilinear_planes: the two input rows blended, then gathered
        float* t = buffer.data();
        blend_rows(plane + hmap->idx[2 * j] * iw * kB, plane + hmap->idx[2 * j + 1] * iw * kB, hmap->w[2 * j],
                   hmap->w[2 * j + 1], iw * kB, t);
        blocked_width_pass(t, *wmap, ow, o);
      } else {  // as interpolate_axis along W, then along H
        float* ta = buffer.data();
        float* tb = ta + ow * kB;
        blocked_width_pass(plane + hmap->idx[2 * j] * iw * kB, *wmap, ow, ta);
        blocked_width_pass(plane + hmap->idx[2 * j + 1] * iw * kB, *wmap, ow, tb);
        blend_rows(ta, tb, hmap->w[2 * j], hmap->w[2 * j + 1], ow * kB, o);
      }
      if (round_half) round_through_half_in_place(o, ow * kB);
    }
  }

  static void blend_rows(const float* a, const float* b, float w0, float w1, int64_t n, float* out) {
    for (int64_t i = 0; i < n; ++i) out[i] = w0 * a[i] + w1 * b[i];
  }

  // One blocked row along W: output pixel i blends input pixels idx[2i] and idx[2i + 1], 16 lanes each.
  static void blocked_width_pass(const float* row, const TapAxis& m, int64_t ow, float* out) {
    constexpr int64_t kB = kBlockedChannels;
    for (int64_t i = 0; i < ow; ++i) {
      const float w0 = m.w[2 * i], w1 = m.w[2 * i + 1];
      const float* a = row + m.idx[2 * i] * kB;
      const float* b = row + m.idx[2 * i + 1] * kB;
      float* o = out + i * kB;
      for (int64_t l = 0; l < kB; ++l) o[l] = w0 * a[l] + w1 * b[l];
    }
  }

  ResizeConfig c_;
};

ResizeConfig parse_config(const Node& node, const Graph& graph) {
  const std::string where = graph.where(node);
  ResizeConfig c;
  const bool upsample = node.op == "Upsample";
  const bool old_resize = !upsample && graph.opset > 0 && graph.opset < 11;

  const std::string mode = node.attr_string("mode", "nearest");
  if (mode == "nearest") {
    c.interp = Interp::kNearest;
  } else if (mode == "linear" || (upsample && (mode == "bilinear" || mode == "trilinear"))) {
    c.interp = Interp::kLinear;
  } else if (mode == "cubic") {
    c.interp = Interp::kCubic;
    c.cubic_a = node.attr_float("cubic_coeff_a", -0.75f);
    c.exclude_outside = node.attr_int("exclude_outside", 0) != 0;
  } else {
    fail<UnsupportedError>("{}: mode '{}' is not supported", where, mode);
  }

  if (upsample || old_resize) {
    c.coord = Coord::kAsymmetric;
    c.nearest = Nearest::kSimple;
    if (upsample && node.has_attr("scales")) {
      c.layout = Layout::kUpsampleAttr;
      c.upsample_scales = node.attr_floats("scales");
    } else {
      c.layout = Layout::kScalesInput1;
      if (node.num_inputs() < 2) fail<ModelError>("{}: the scales input is missing", where);
    }
    return c;
  }

  const std::string coord = node.attr_string("coordinate_transformation_mode", "half_pixel");
  if (coord == "half_pixel") {
    c.coord = Coord::kHalfPixel;
  } else if (coord == "half_pixel_symmetric") {
    c.coord = Coord::kHalfPixelSymmetric;
  } else if (coord == "asymmetric") {
    c.coord = Coord::kAsymmetric;
  } else if (coord == "align_corners") {
    c.coord = Coord::kAlignCorners;
  } else if (coord == "pytorch_half_pixel") {
    c.coord = Coord::kPytorchHalfPixel;
  } else if (coord == "tf_half_pixel_for_nn") {
    c.coord = Coord::kTfHalfPixelForNn;
  } else if (coord == "tf_crop_and_resize") {
    c.coord = Coord::kTfCropAndResize;
  } else {
    fail<UnsupportedError>("{}: coordinate_transformation_mode '{}' is not supported", where, coord);
  }

  const std::string nearest = node.attr_string("nearest_mode", "round_prefer_floor");
  if (nearest == "round_prefer_floor") {
    c.nearest = Nearest::kRoundPreferFloor;
  } else if (nearest == "round_prefer_ceil") {
    c.nearest = Nearest::kRoundPreferCeil;
  } else if (nearest == "floor") {
    c.nearest = Nearest::kFloor;
  } else if (nearest == "ceil") {
    c.nearest = Nearest::kCeil;
  } else {
    fail<UnsupportedError>("{}: nearest_mode '{}' is not supported", where, nearest);
  }

  const std::string policy = node.attr_string("keep_aspect_ratio_policy", "stretch");
  if (policy == "stretch") {
    c.policy = AspectPolicy::kStretch;
  } else if (policy == "not_larger") {
    c.policy = AspectPolicy::kNotLarger;
  } else if (policy == "not_smaller") {
    c.policy = AspectPolicy::kNotSmaller;
  } else {
    fail<UnsupportedError>("{}: keep_aspect_ratio_policy '{}' is not supported", where, policy);
  }
  if (node.attr_int("antialias", 0) != 0) fail<UnsupportedError>("{}: antialias=1 is not supported", where);
  c.axes = node.attr_ints("axes");
  c.extrapolation = node.attr_float("extrapolation_value", 0.0f);
  c.layout = Layout::kRoiScalesSizes;
  if (node.num_inputs() < 3) fail<ModelError>("{}: needs a scales or sizes input", where);
  return c;
}

}  // namespace

std::unique_ptr<Kernel> make_resize(const Node& node, const Graph& graph) {
  ResizeConfig config = parse_config(node, graph);
  config.round_half = node.attr_int(kViaFloat16Attr, 0) != 0;
  config.blocked = reads_blocked(node);
  if (config.blocked != writes_blocked(node) ||
      (config.blocked && (config.interp == Interp::kCubic || config.coord == Coord::kTfCropAndResize))) {
    fail("internal error: {}: not a blocked resize", graph.where(node));
  }
  return std::make_unique<ResizeKernel>(std::move(config));
}

std::unique_ptr<Kernel> make_upsample(const Node& node, const Graph& graph) {
  return std::make_unique<ResizeKernel>(parse_config(node, graph));
}

}  // namespace eff
