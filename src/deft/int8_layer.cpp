// The int8 format's conv and FC kernels (deft/int8_layer.h): quantize, oneDNN's u8s8 int32 sums,
// our epilogue. The AVX-512 loops and the scalar ones do the same operations per value (the
// rules of deft/formats.h), so either gives the reference's bits.
#include "deft/int8_layer.h"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>

#include "core/error.h"
#include "deft/tasks.h"
#include "engine/dnnl_env.h"
#include "engine/ops/dnnl_common.h"
#include "engine/ops/int8_conv_dnnl.h"

#define EFF_DEFT_TARGET_ISA "avx512f,avx512bw,avx512vl,fma"
#include "deft/target_push.h"

namespace eff::deft {

namespace {

constexpr int64_t kB = 16;  // channels per block (nChw16c) and lanes per vector
// 33000 * 255 * 127 < 2^31 / 2: a sum of u8 x s8 products (and oneDNN's zero-point correction) fits int32.
constexpr int64_t kMaxDepth = 33000;
// A conv's batch runs in chunks of images whose buffers take about this much (half of Zen 5's L2).
constexpr int64_t kChunkBytes = int64_t{512} << 10;

int64_t blocks(int64_t c) {
  return (c + kB - 1) / kB;
}

__mmask16 lane_mask(int64_t lanes) {
  return lanes >= kB ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << lanes) - 1);
}

// `pixels` vectors of 16 fp32 (16 apart) to u8 codes, `dst_stride` bytes apart, the first `lanes` of each.
void quantize_pixels_avx512(const float* src, int64_t pixels, uint8_t* dst, int64_t dst_stride, int64_t lanes,
                            float inverse, int32_t zero) {
  const __m512 inv = _mm512_set1_ps(inverse), lo = _mm512_set1_ps(static_cast<float>(-zero)),
               hi = _mm512_set1_ps(static_cast<float>(255 - zero));
  const __m512i z = _mm512_set1_epi32(zero);
  const __mmask16 m = lane_mask(lanes);
  for (int64_t p = 0; p < pixels; ++p) {
    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(src + p * kB), inv);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);                   // (v > lo ? v : lo), then (v < hi ? v : hi)
    const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), z);  // nearest even (MXCSR default)
    _mm_mask_storeu_epi8(dst + p * dst_stride, m, _mm512_cvtepi32_epi8(q));
  }
}

// Rows r[k] of 16 bytes to columns: out[p] holds byte p of every row (r[0][p] .. r[15][p]).
inline void transpose_16x16(const __m128i (&r)[16], __m128i (&out)[16]) {
  __m128i t[16], u[16];
  // t[i] / t[i + 8]: pixels 0-7 / 8-15, each rows 2i and 2i + 1.
  for (int i = 0; i < 8; ++i) {
    t[i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
    t[i + 8] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
  }
  // u[h + i] / u[h + 4 + i]: pixels h .. h + 3 / h + 4 .. h + 7, each rows 4i .. 4i + 3.
  for (int h = 0; h < 16; h += 8)
    for (int i = 0; i < 4; ++i) {
      u[h + i] = _mm_unpacklo_epi16(t[h + 2 * i], t[h + 2 * i + 1]);
      u[h + 4 + i] = _mm_unpackhi_epi16(t[h + 2 * i], t[h + 2 * i + 1]);
    }
  for (int px = 0; px < 16; px += 4) {
    const __m128i* q = u + px;  // pixels px .. px + 3, rows 0-3, 4-7, 8-11, 12-15
    const __m128i lo03 = _mm_unpacklo_epi32(q[0], q[1]), hi03 = _mm_unpackhi_epi32(q[0], q[1]);
    const __m128i lo47 = _mm_unpacklo_epi32(q[2], q[3]), hi47 = _mm_unpackhi_epi32(q[2], q[3]);
    out[px] = _mm_unpacklo_epi64(lo03, lo47);
    out[px + 1] = _mm_unpackhi_epi64(lo03, lo47);
    out[px + 2] = _mm_unpacklo_epi64(hi03, hi47);
    out[px + 3] = _mm_unpackhi_epi64(hi03, hi47);
  }
}

// `pixels` pixels of `lanes` (<= 16) channels of a plain tensor (channel k at src + k * plane) to
// codes at dst + p * dst_stride + k: 16 channels x 16 pixels quantized a channel row at a time (the
// rule of quantize_pixels_avx512), then turned into pixels in registers. A pixel's channels at a
// time (a gather and a call per pixel) took vgg's features.3 from 10 to 33 us behind a first layer
// that writes plain.
void quantize_planes_avx512(const float* src, int64_t plane, int64_t lanes, int64_t pixels, uint8_t* dst,
                            int64_t dst_stride, float inverse, int32_t zero) {
  const __m512 inv = _mm512_set1_ps(inverse), lo = _mm512_set1_ps(static_cast<float>(-zero)),
               hi = _mm512_set1_ps(static_cast<float>(255 - zero));
  const __m512i z = _mm512_set1_epi32(zero);
  const __mmask16 channel_mask = lane_mask(lanes);
  for (int64_t ix = 0; ix < pixels; ix += kB) {
    const int64_t count = std::min(kB, pixels - ix);
    const __mmask16 pixel_mask = lane_mask(count);
    __m128i rows[16], columns[16];
    for (int k = 0; k < 16; ++k) {
      if (k >= lanes) {
        rows[k] = _mm_setzero_si128();
        continue;
      }
      __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(pixel_mask, src + k * plane + ix), inv);
      v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
      rows[k] = _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), z));
    }
    transpose_16x16(rows, columns);
    for (int64_t p = 0; p < count; ++p) _mm_mask_storeu_epi8(dst + (ix + p) * dst_stride, channel_mask, columns[p]);
  }
}

// A contiguous row of `count` fp32 to u8 codes.
void quantize_row_avx512(const float* src, int64_t count, uint8_t* dst, float inverse, int32_t zero) {
  const __m512 inv = _mm512_set1_ps(inverse), lo = _mm512_set1_ps(static_cast<float>(-zero)),
               hi = _mm512_set1_ps(static_cast<float>(255 - zero));
  const __m512i z = _mm512_set1_epi32(zero);
  for (int64_t k = 0; k < count; k += kB) {
    const __mmask16 m = lane_mask(count - k);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, src + k), inv);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), z);
    _mm_mask_storeu_epi8(dst + k, m, _mm512_cvtepi32_epi8(q));
  }
}

// `pixels` sums of 16 channels (`acc_stride` apart, the first `lanes` read, the rest 0) to fp32 vectors
// 16 apart: fma(float(acc), combined, bias), then the Relu.
// `residual` (or null): 16 shortcut values per pixel, laid out as `out`, added before the Relu.
void epilogue_pixels_avx512(const int32_t* acc, int64_t acc_stride, int64_t pixels, int64_t lanes,
                            const float* combined, const float* bias, bool relu, const float* residual, float* out) {
  const __m512 c = _mm512_loadu_ps(combined), b = _mm512_loadu_ps(bias), zero = _mm512_setzero_ps();
  const __mmask16 m = lane_mask(lanes);
  for (int64_t p = 0; p < pixels; ++p) {
    __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, acc + p * acc_stride)), c, b);
    if (residual) v = _mm512_add_ps(v, _mm512_loadu_ps(residual + p * kB));
    if (relu) v = _mm512_max_ps(v, zero);  // v > 0 ? v : 0
    _mm512_storeu_ps(out + p * kB, v);
  }
}

// `pooled` 2 x 2 windows of sums (16 channels a pixel, `acc_stride` apart; the window's top left
// corners `acc_step` apart, the pixel to its right `acc_stride` on, the one below `acc_row` on) to fp32
// vectors 16 apart: each sum finished as epilogue_pixels_avx512 does, then max(max(a, c), max(b, d))
// with x > y ? x : y (rows first, then the column pair, as conv_small's pool).
void epilogue_pooled_avx512(const int32_t* acc, int64_t acc_stride, int64_t acc_row, int64_t acc_step, int64_t pooled,
                            int64_t lanes, const float* combined, const float* bias, bool relu, float* out) {
  const __m512 c = _mm512_loadu_ps(combined), b = _mm512_loadu_ps(bias), zero = _mm512_setzero_ps();
  const __mmask16 m = lane_mask(lanes);
  auto finish = [&](const int32_t* a) {
    const __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, a)), c, b);
    return relu ? _mm512_max_ps(v, zero) : v;
  };
  for (int64_t p = 0; p < pooled; ++p) {
    const int32_t* a = acc + p * acc_step;
    const __m512 m0 = _mm512_max_ps(finish(a), finish(a + acc_row));
    const __m512 m1 = _mm512_max_ps(finish(a + acc_stride), finish(a + acc_stride + acc_row));
    _mm512_storeu_ps(out + p * kB, _mm512_max_ps(m0, m1));
  }
}

// A row of `count` sums to fp32 (combined and bias hold whole blocks).
void epilogue_row_avx512(const int32_t* acc, int64_t count, const float* combined, const float* bias, bool relu,
                         float* out) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t i = 0; i < count; i += kB) {
    const __mmask16 m = lane_mask(count - i);
    __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, acc + i)), _mm512_loadu_ps(combined + i),
                               _mm512_loadu_ps(bias + i));
    if (relu) v = _mm512_max_ps(v, zero);
    _mm512_mask_storeu_ps(out + i, m, v);
  }
}

}  // namespace

}  // namespace eff::deft

#include "deft/target_pop.h"

namespace eff::deft {

namespace {

bool has_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
  return yes;
}

// The scalar forms of the loops above: the same rules per value.
void quantize_pixels_scalar(const float* src, int64_t pixels, uint8_t* dst, int64_t dst_stride, int64_t lanes,
                            float inverse, int32_t zero) {
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t l = 0; l < lanes; ++l) dst[p * dst_stride + l] = quantize_int8_input(src[p * kB + l], inverse, zero);
}

void quantize_planes_scalar(const float* src, int64_t plane, int64_t lanes, int64_t pixels, uint8_t* dst,
                            int64_t dst_stride, float inverse, int32_t zero) {
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t k = 0; k < lanes; ++k)
      dst[p * dst_stride + k] = quantize_int8_input(src[k * plane + p], inverse, zero);
}

void epilogue_pixels_scalar(const int32_t* acc, int64_t acc_stride, int64_t pixels, int64_t lanes,
                            const float* combined, const float* bias, bool relu, const float* residual, float* out) {
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t l = 0; l < kB; ++l) {
      const int32_t a = l < lanes ? acc[p * acc_stride + l] : 0;
      out[p * kB + l] = residual ? int8_output_residual(a, combined[l], bias[l], residual[p * kB + l], relu)
                                 : int8_output(a, combined[l], bias[l], relu);
    }
}

void epilogue_pooled_scalar(const int32_t* acc, int64_t acc_stride, int64_t acc_row, int64_t acc_step, int64_t pooled,
                            int64_t lanes, const float* combined, const float* bias, bool relu, float* out) {
  for (int64_t p = 0; p < pooled; ++p)
    for (int64_t l = 0; l < kB; ++l) {
      auto finish = [&](const int32_t* a) { return int8_output(l < lanes ? a[l] : 0, combined[l], bias[l], relu); };
      const int32_t* a = acc + p * acc_step;
      const float v00 = finish(a), v10 = finish(a + acc_row), v01 = finish(a + acc_stride),
                  v11 = finish(a + acc_stride + acc_row);
      const float m0 = v00 > v10 ? v00 : v10, m1 = v01 > v11 ? v01 : v11;
      out[p * kB + l] = m0 > m1 ? m0 : m1;
    }
}

// A 2 x 2, stride 2 MaxPool (floor) of `planes` NCHW planes, in epilogue_pooled's order.
void pool_planes(const float* in, int64_t planes, int64_t oh, int64_t ow, float* out) {
  const int64_t ph = oh / 2, pw = ow / 2;
  for (int64_t q = 0; q < planes; ++q)
    for (int64_t r = 0; r < ph; ++r)
      for (int64_t c = 0; c < pw; ++c) {
        const float* a = in + q * oh * ow + 2 * r * ow + 2 * c;
        const float m0 = a[0] > a[ow] ? a[0] : a[ow], m1 = a[1] > a[ow + 1] ? a[1] : a[ow + 1];
        out[(q * ph + r) * pw + c] = m0 > m1 ? m0 : m1;
      }
}

// Channel-blocked <-> plain copies of one image (C channels, P pixels), padded channels 0.
void to_blocked(const float* plain, int64_t c, int64_t pixels, float* blocked) {
  for (int64_t b = 0; b < blocks(c); ++b)
    for (int64_t p = 0; p < pixels; ++p)
      for (int64_t l = 0; l < kB; ++l) {
        const int64_t ch = b * kB + l;
        blocked[(b * pixels + p) * kB + l] = ch < c ? plain[ch * pixels + p] : 0.f;
      }
}

void to_plain(const float* blocked, int64_t c, int64_t pixels, float* plain) {
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t p = 0; p < pixels; ++p) plain[ch * pixels + p] = blocked[((ch / kB) * pixels + p) * kB + ch % kB];
}

}  // namespace

bool int8_vnni_available() {
  static const bool yes = has_avx512() && __builtin_cpu_supports("avx512vnni");
  return yes;
}

void quantize_int8_row(const float* src, int64_t count, uint8_t* dst, float inverse, int32_t zero) {
  if (has_avx512()) {
    quantize_row_avx512(src, count, dst, inverse, zero);
    return;
  }
  for (int64_t i = 0; i < count; ++i) dst[i] = quantize_int8_input(src[i], inverse, zero);
}

void quantize_int8_pixels(const float* src, int64_t pixels, uint8_t* dst, int64_t dst_stride, int64_t lanes,
                          float inverse, int32_t zero) {
  (has_avx512() ? quantize_pixels_avx512 : quantize_pixels_scalar)(src, pixels, dst, dst_stride, lanes, inverse, zero);
}

void quantize_int8_planes(const float* src, int64_t plane, int64_t lanes, int64_t pixels, uint8_t* dst,
                          int64_t dst_stride, float inverse, int32_t zero) {
  (has_avx512() ? quantize_planes_avx512 : quantize_planes_scalar)(src, plane, lanes, pixels, dst, dst_stride, inverse,
                                                                   zero);
}

Int8Layer make_int8_layer(const float* w, int64_t m, int64_t k, const float* bias, const Int8Input& input, bool relu) {
  if (m <= 0 || k <= 0) fail<ShapeError>("deft int8: an empty weight matrix");
  if (k > kMaxDepth) fail<ShapeError>("deft int8: depth {} is above {} (int32 sums could overflow)", k, kMaxDepth);
  if (!valid_int8_input(input))
    fail<ShapeError>("deft int8: input scale {} / zero point {} unusable", input.scale, input.zero);
  Int8Layer l;
  l.rows = m;
  l.depth = k;
  l.input = input;
  l.relu = relu;
  l.codes.resize(static_cast<size_t>(m * k));
  l.weight_scale.resize(static_cast<size_t>(m));
  const int64_t padded = blocks(m) * kB;
  l.combined.assign(static_cast<size_t>(padded), 0.f);
  l.bias.assign(static_cast<size_t>(padded), 0.f);
  for (int64_t i = 0; i < m; ++i) {
    const float s = int8_weight_scale(w + i * k, k);
    l.weight_scale[i] = s;
    for (int64_t j = 0; j < k; ++j) l.codes[i * k + j] = quantize_int8_weight(w[i * k + j], s);
    l.combined[i] = input.scale * s;
    l.bias[i] = bias ? bias[i] : 0.f;
  }
  return l;
}

void int8_conv_reference(const Int8Layer& l, const float* x, int64_t n, const ConvShape& s, float* y,
                         const float* residual) {
  const int64_t in_pixels = s.h * s.w, taps = s.kh * s.kw;
  const float inverse = l.input.inverse();
  const int32_t zero = l.input.zero;
  std::vector<int32_t> q(static_cast<size_t>(s.c * in_pixels));  // codes less the zero point
  for (int64_t img = 0; img < n; ++img) {
    const float* xi = x + img * s.c * in_pixels;
    for (size_t i = 0; i < q.size(); ++i) q[i] = int32_t{quantize_int8_input(xi[i], inverse, zero)} - zero;
    for (int64_t m = 0; m < l.rows; ++m) {
      const int8_t* wm = l.codes.data() + m * s.c * taps;
      for (int64_t oy = 0; oy < s.oh; ++oy)
        for (int64_t ox = 0; ox < s.ow; ++ox) {
          int32_t acc = 0;
          for (int64_t c = 0; c < s.c; ++c)
            for (int64_t ky = 0; ky < s.kh; ++ky)
              for (int64_t kx = 0; kx < s.kw; ++kx) {
                const int64_t iy = oy * s.sh + ky * s.dh - s.pad_top, ix = ox * s.sw + kx * s.dw - s.pad_left;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;  // the zero point: 0
                acc += q[c * in_pixels + iy * s.w + ix] * int32_t{wm[(c * s.kh + ky) * s.kw + kx]};
              }
          const int64_t at = ((img * l.rows + m) * s.oh + oy) * s.ow + ox;
          y[at] = residual ? int8_output_residual(acc, l.combined[m], l.bias[m], residual[at], l.relu)
                           : int8_output(acc, l.combined[m], l.bias[m], l.relu);
        }
    }
  }
}

void int8_fc_reference(const Int8Layer& l, const float* x, int64_t n, float* y) {
  const float inverse = l.input.inverse();
  for (int64_t r = 0; r < n; ++r)
    for (int64_t m = 0; m < l.rows; ++m) {
      int32_t acc = 0;
      for (int64_t k = 0; k < l.depth; ++k)
        acc += (int32_t{quantize_int8_input(x[r * l.depth + k], inverse, l.input.zero)} - l.input.zero) *
               int32_t{l.codes[m * l.depth + k]};
      y[r * l.rows + m] = int8_output(acc, l.combined[m], l.bias[m], l.relu);
    }
}

// ---- conv ----------------------------------------------------------------------------------------

struct Int8ConvKernel::State {
  // oneDNN 2.6's VNNI convs (brgconv, jit_int8) take u8 NHWC in and int32 NHWC out; given nChw16c
  // they fall to ref_int8. Without a fast kernel: the scalar reference.
  ops::DnnlInt8Conv conv, tail;  // a chunk of images, and the last, shorter chunk
  bool reference = false;
  std::vector<uint8_t> src;
  std::vector<int32_t> acc;
  // Split runs: one worker per thread, each its own one-thread oneDNN plans, buffers, stream and scratchpad.
  struct Worker {
    DnnlEnv env;
    ops::DnnlInt8Conv conv, tail;
    std::vector<uint8_t> src;
    std::vector<int32_t> acc;
  };
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<float> plain_in, plain_out;  // the reference's NCHW copies
  std::string impl = "dnnl-u8s8";          // until the first run names oneDNN's kernel
};

Int8ConvKernel::Int8ConvKernel() : st_(std::make_unique<State>()) {}
Int8ConvKernel::~Int8ConvKernel() = default;

std::string Int8ConvKernel::impl() const {
  return st_->impl;
}

void Int8ConvKernel::run(DnnlEnv& env, const Int8Layer& l, const float* x, ActLayout in, int64_t n, const ConvShape& s,
                         float* y, ActLayout out, int threads, const float* residual, bool pool) {
  State& st = *st_;
  if (pool && residual) fail<ShapeError>("deft int8: a conv fuses a residual or a pool, not both");
  if (pool && (s.oh < 2 || s.ow < 2)) fail<ShapeError>("deft int8: the conv output is smaller than its 2 x 2 pool");
  const int64_t c = s.c, m = l.rows, in_pixels = s.h * s.w, out_pixels = s.oh * s.ow;
  // What y holds per channel: the conv's pixels, or with `pool` the pooled ones (an odd last row or column dropped).
  const int64_t y_pixels = pool ? (s.oh / 2) * (s.ow / 2) : out_pixels;
  const int64_t cb = blocks(c), mb = blocks(m);
  const float inverse = l.input.inverse();
  const int32_t zero = l.input.zero;
  const bool avx512 = has_avx512();
  ops::Int8ConvGeometry g;
  g.channels = c, g.out_channels = m;
  g.in[0] = s.h, g.in[1] = s.w, g.kernel[0] = s.kh, g.kernel[1] = s.kw, g.out[0] = s.oh, g.out[1] = s.ow;
  g.stride[0] = s.sh, g.stride[1] = s.sw, g.dilation[0] = s.dh, g.dilation[1] = s.dw;
  g.pad_begin[0] = s.pad_top, g.pad_begin[1] = s.pad_left;
  const int64_t in_image = in == ActLayout::kBlocked ? cb * kB * in_pixels : c * in_pixels;
  const int64_t out_image = out == ActLayout::kBlocked ? mb * kB * y_pixels : m * y_pixels;
  // Pixels [p0, p1) of image `img` of `xc`, channel block `b`, quantized into the NHWC u8 codes at `src`
  // (images of p1 - p0 pixels).
  auto quantize_block = [&](const float* xc, int64_t img, int64_t b, uint8_t* src, int64_t p0, int64_t p1) {
    const int64_t lanes = std::min(kB, c - b * kB);
    uint8_t* dst = src + img * (p1 - p0) * c + b * kB;
    if (in == ActLayout::kBlocked) {
      const float* xs = xc + ((img * cb + b) * in_pixels + p0) * kB;
      (avx512 ? quantize_pixels_avx512 : quantize_pixels_scalar)(xs, p1 - p0, dst, c, lanes, inverse, zero);
    } else {
      const float* xs = xc + (img * c + b * kB) * in_pixels + p0;
      (avx512 ? quantize_planes_avx512 : quantize_planes_scalar)(xs, in_pixels, lanes, p1 - p0, dst, c, inverse, zero);
    }
  };
  // Output pixels [p0, p1) of image `img`'s channel block `b` of `yc` (shortcut `rc`) from their sums `a`,
  // pixels `stride` apart.
  auto epilogue_block = [&](const int32_t* a, int64_t stride, int64_t img, int64_t b, float* yc, const float* rc,
                            int64_t p0, int64_t p1) {
    const int64_t lanes = std::min(kB, m - b * kB);
    const float* cs = l.combined.data() + b * kB;
    const float* bs = l.bias.data() + b * kB;
    if (out == ActLayout::kBlocked) {
      const int64_t at = ((img * mb + b) * out_pixels + p0) * kB;
      (avx512 ? epilogue_pixels_avx512 : epilogue_pixels_scalar)(a, stride, p1 - p0, lanes, cs, bs, l.relu,
                                                                 rc ? rc + at : nullptr, yc + at);
    } else {
      const int64_t at = (img * m + b * kB) * out_pixels + p0;
      float v[kB], rv[kB] = {};
      for (int64_t p = 0; p < p1 - p0; ++p) {
        if (rc)
          for (int64_t k = 0; k < lanes; ++k) rv[k] = rc[at + k * out_pixels + p];
        epilogue_pixels_scalar(a + p * stride, stride, 1, lanes, cs, bs, l.relu, rc ? rv : nullptr, v);
        for (int64_t k = 0; k < lanes; ++k) yc[at + k * out_pixels + p] = v[k];
      }
    }
  };
  // Conv rows [r0, r1) (even r0) of image `img`'s channel block `b` from their sums `a` (row r0's first, pixels
  // `stride` apart); with `pool` the pooled rows [r0 / 2, r1 / 2).
  auto epilogue_rows = [&](const int32_t* a, int64_t stride, int64_t img, int64_t b, float* yc, const float* rc,
                           int64_t r0, int64_t r1) {
    if (!pool) return epilogue_block(a, stride, img, b, yc, rc, r0 * s.ow, r1 * s.ow);
    const int64_t lanes = std::min(kB, m - b * kB), pw = s.ow / 2;
    const float* cs = l.combined.data() + b * kB;
    const float* bs = l.bias.data() + b * kB;
    float v[kB * 8];
    for (int64_t pr = r0 / 2; pr < r1 / 2; ++pr) {
      const int32_t* ar = a + (2 * pr - r0) * s.ow * stride;
      for (int64_t px = 0; px < pw; px += 8) {
        const int64_t count = std::min<int64_t>(8, pw - px);
        const int64_t at = pr * pw + px;
        float* dst = out == ActLayout::kBlocked ? yc + ((img * mb + b) * y_pixels + at) * kB : v;
        (avx512 ? epilogue_pooled_avx512 : epilogue_pooled_scalar)(ar + 2 * px * stride, stride, s.ow * stride,
                                                                   2 * stride, count, lanes, cs, bs, l.relu, dst);
        if (out == ActLayout::kPlain)
          for (int64_t k = 0; k < lanes; ++k)
            for (int64_t p = 0; p < count; ++p) yc[(img * m + b * kB + k) * y_pixels + at + p] = v[p * kB + k];
      }
    }
  };
  // Output rows [r0, r1) of every image on one thread: the input rows they read quantized, and a
  // conv over those rows alone (padding where the layer has it). False: no fast kernel.
  auto run_rows = [&](State::Worker& worker, int64_t r0, int64_t r1) {
    const int64_t top = r0 * s.sh - s.pad_top, bottom = (r1 - 1) * s.sh - s.pad_top + (s.kh - 1) * s.dh;
    const int64_t ia = std::max<int64_t>(0, top), ib = std::min(s.h, bottom + 1);  // input rows read
    const int64_t p0 = ia * s.w, p1 = ib * s.w, q0 = r0 * s.ow, q1 = r1 * s.ow;
    worker.src.resize(static_cast<size_t>(n * (p1 - p0) * c));
    for (int64_t img = 0; img < n; ++img)
      for (int64_t b = 0; b < cb; ++b) quantize_block(x, img, b, worker.src.data(), p0, p1);
    ops::Int8ConvGeometry gc = g;
    gc.batch = n, gc.in[0] = ib - ia, gc.out[0] = r1 - r0, gc.pad_begin[0] = ia - top;
    worker.acc.resize(static_cast<size_t>(n * (q1 - q0) * m));
    if (!worker.conv.compute_u8(worker.env, gc, worker.src.data(), zero, l.codes.data(), worker.acc.data()))
      return false;
    for (int64_t img = 0; img < n; ++img)
      for (int64_t b = 0; b < mb; ++b)
        epilogue_rows(worker.acc.data() + img * (q1 - q0) * m + b * kB, m, img, b, y, residual, r0, r1);
    return true;
  };
  // Images `count` from `xc` (their outputs to `yc`, shortcut `rc`) through `conv` on `cenv`, the quantization and
  // epilogue split into tasks on `task_threads`; false: no fast kernel.
  auto run_images = [&](DnnlEnv& cenv, const float* xc, int64_t count, float* yc, const float* rc,
                        ops::DnnlInt8Conv& conv, std::vector<uint8_t>& src, std::vector<int32_t>& acc,
                        int task_threads) {
    src.resize(static_cast<size_t>(count * in_pixels * c));
    for_tasks(count * cb, task_threads,
              [&](int64_t t) { quantize_block(xc, t / cb, t % cb, src.data(), 0, in_pixels); });
    acc.resize(static_cast<size_t>(count * out_pixels * m));
    ops::Int8ConvGeometry gc = g;
    gc.batch = count;
    if (!conv.compute_u8(cenv, gc, src.data(), zero, l.codes.data(), acc.data())) return false;
    for_tasks(count * mb, task_threads, [&](int64_t t) {
      epilogue_rows(acc.data() + (t / mb) * out_pixels * m + (t % mb) * kB, m, t / mb, t % mb, yc, rc, 0, s.oh);
    });
    return true;
  };
  // A batch in chunks of images whose u8 input, int32 sums and fp32 input and output fit in L2
  // together, so that the epilogue reads the sums (and oneDNN the codes) from cache: vgg's
  // features.3 at batch 32 went through 3 MB of sums per pass. Each image's sums are exact, so
  // chunks and splits change no bit.
  const int64_t per_image = in_pixels * c + out_pixels * m * 4 + in_image * 4 + out_image * 4;
  const int64_t chunk = std::max<int64_t>(1, kChunkBytes / std::max<int64_t>(per_image, 1));
  // Images [i0, i1) in chunks on one thread: the chunk's plan and the last, shorter chunk's.
  auto run_range = [&](DnnlEnv& cenv, int64_t i0, int64_t i1, ops::DnnlInt8Conv& conv, ops::DnnlInt8Conv& tail,
                       std::vector<uint8_t>& src, std::vector<int32_t>& acc) {
    for (int64_t i = i0; i < i1; i += chunk) {
      const int64_t count = std::min(chunk, i1 - i);
      if (!run_images(cenv, x + i * in_image, count, y + i * out_image, residual ? residual + i * out_image : nullptr,
                      count == chunk ? conv : tail, src, acc, 1))
        return false;
    }
    return true;
  };
  if (!st.reference) {
    // Two threads or more: one worker per thread, each with one-thread oneDNN plans, instead of
    // oneDNN's team plus two team splits of our own. A team splits a small conv poorly and meets
    // three times per layer (fmnist_wide's features.3 at batch 1: 0.060 ms on one thread, 0.039 on
    // two; 0.036 by rows); workers meet never (by images or output rows) or once (output channels,
    // after the shared quantization). Rows where the input rows two workers both read are few
    // (14 x 14 maps and up; resnet at batch 1 on two threads: 0.075 -> 0.068 ms), channels on
    // smaller maps (resnet's 7 x 7 3x3 convs: 0.0094 ms by channels, 0.0101 by rows).
    const int team = std::max(1, threads);
    const bool by_images = n >= team && (n % team == 0 || n >= 8 * team || mb < team);
    // Worker t's conv rows (with `pool`, a share of the pooled rows: two conv rows each).
    const int64_t row_units = pool ? s.oh / 2 : s.oh, row_scale = pool ? 2 : 1;
    auto rows_of = [&](int t, int workers) {
      return std::pair<int64_t, int64_t>{row_units * t / workers * row_scale,
                                         row_units * (t + 1) / workers * row_scale};
    };
    int64_t most_rows_read = 0;
    for (int t = 0; t < team; ++t) {
      const auto [r0, r1] = rows_of(t, team);
      if (r1 == r0) continue;
      const int64_t top = r0 * s.sh - s.pad_top, bottom = (r1 - 1) * s.sh - s.pad_top + (s.kh - 1) * s.dh;
      most_rows_read = std::max(most_rows_read, std::min(s.h, bottom + 1) - std::max<int64_t>(0, top));
    }
    const bool few_rows_twice = most_rows_read * team * 10 <= s.h * 13;  // at most 30% more than a share
    const bool by_rows = !by_images && row_units >= team && (few_rows_twice || mb < 2);
    const bool by_channels = !by_images && !by_rows && mb >= 2;
    if (team >= 2 && (by_images || by_rows || by_channels)) {
      while (st.workers.size() < static_cast<size_t>(team)) st.workers.push_back(std::make_unique<State::Worker>());
      if (by_channels) st.src.resize(static_cast<size_t>(n * in_pixels * c));
      int failed = 0;
      std::vector<std::exception_ptr> errors(static_cast<size_t>(team));
#pragma omp parallel num_threads(team) reduction(+ : failed)
      {
        const int t = omp_get_thread_num(), workers = omp_get_num_threads();
        omp_set_num_threads(1);  // this thread's oneDNN plans: for one thread (this region's copy of the setting)
        State::Worker& worker = *st.workers[static_cast<size_t>(t)];
        try {
          if (by_rows) {
            const auto [r0, r1] = rows_of(t, workers);
            failed += !run_rows(worker, r0, r1);
          } else if (by_images) {
            failed += !run_range(worker.env, n * t / workers, n * (t + 1) / workers, worker.conv, worker.tail,
                                 worker.src, worker.acc);
          } else {
#pragma omp for schedule(static)
            for (int64_t task = 0; task < n * cb; ++task)
              quantize_block(x, task / cb, task % cb, st.src.data(), 0, in_pixels);
            const int64_t b0 = mb * t / workers, b1 = mb * (t + 1) / workers;
            if (b1 > b0) {
              const int64_t m0 = b0 * kB, mt = std::min(m, b1 * kB) - m0;
              ops::Int8ConvGeometry gc = g;
              gc.batch = n, gc.out_channels = mt;
              worker.acc.resize(static_cast<size_t>(n * out_pixels * mt));
              if (worker.conv.compute_u8(worker.env, gc, st.src.data(), zero, l.codes.data() + m0 * s.depth(),
                                         worker.acc.data())) {
                for (int64_t img = 0; img < n; ++img)
                  for (int64_t b = b0; b < b1; ++b)
                    epilogue_rows(worker.acc.data() + img * out_pixels * mt + (b - b0) * kB, mt, img, b, y, residual, 0,
                                  s.oh);
              } else {
                failed += 1;
              }
            }
          }
        } catch (...) {  // out of memory in a plan or buffer: rethrown after the region
          errors[static_cast<size_t>(t)] = std::current_exception();
        }
      }
      for (const std::exception_ptr& e : errors)
        if (e) std::rethrow_exception(e);
      if (failed == 0) {
        st.impl = (st.workers[0]->conv.impl().empty() ? st.workers[0]->tail.impl() : st.workers[0]->conv.impl()) +
                  (by_images ? "/workers-by-images"
                   : by_rows ? "/workers-by-rows"
                             : "/workers-by-channels");
        return;
      }
    } else {
      // One thread, or a layer too small to split: oneDNN's team on a chunk of `team` times as many images.
      const int64_t team_chunk = std::min(n, std::max<int64_t>(team, chunk * team));
      bool fast = true;
      for (int64_t i0 = 0; i0 < n && fast; i0 += team_chunk) {
        const int64_t count = std::min(team_chunk, n - i0);
        fast = run_images(env, x + i0 * in_image, count, y + i0 * out_image,
                          residual ? residual + i0 * out_image : nullptr, count == team_chunk ? st.conv : st.tail,
                          st.src, st.acc, threads);
      }
      if (fast) {
        st.impl = st.conv.impl().empty() ? st.tail.impl() : st.conv.impl();
        return;
      }
    }
    st.reference = true;
  }
  // oneDNN has no fast int8 kernel for this shape: the scalar reference (same bits, slowly).
  st.impl = "reference";
  const float* xp = x;
  std::vector<float> plain_residual;
  if (residual && out == ActLayout::kBlocked) {
    plain_residual.resize(static_cast<size_t>(n * m * out_pixels));
    for (int64_t img = 0; img < n; ++img)
      to_plain(residual + img * mb * kB * out_pixels, m, out_pixels, plain_residual.data() + img * m * out_pixels);
  }
  const float* rp = residual && out == ActLayout::kBlocked ? plain_residual.data() : residual;
  if (in == ActLayout::kBlocked) {
    st.plain_in.resize(static_cast<size_t>(n * c * in_pixels));
    for (int64_t img = 0; img < n; ++img)
      to_plain(x + img * cb * kB * in_pixels, c, in_pixels, st.plain_in.data() + img * c * in_pixels);
    xp = st.plain_in.data();
  }
  if (out == ActLayout::kPlain && !pool) {
    int8_conv_reference(l, xp, n, s, y, rp);
    return;
  }
  st.plain_out.resize(static_cast<size_t>(n * m * out_pixels));
  int8_conv_reference(l, xp, n, s, st.plain_out.data(), rp);
  const float* result = st.plain_out.data();
  std::vector<float> pooled;
  if (pool) {
    pooled.resize(static_cast<size_t>(n * m * y_pixels));
    pool_planes(result, n * m, s.oh, s.ow, pooled.data());
    result = pooled.data();
  }
  if (out == ActLayout::kPlain) {
    std::copy(result, result + n * m * y_pixels, y);
    return;
  }
  for (int64_t img = 0; img < n; ++img)
    to_blocked(result + img * m * y_pixels, m, y_pixels, y + img * mb * kB * y_pixels);
}

// ---- FC ------------------------------------------------------------------------------------------

struct Int8FcKernel::State {
  int64_t rows = -1;
  int threads = 0;
  const void* weights = nullptr;
  dnnl::matmul prim;
  dnnl::memory src, wei, dst, zero;
  std::unordered_map<int, dnnl::memory> args;
  std::vector<uint8_t> q;
  std::vector<int32_t> acc;
  std::string impl = "dnnl-u8s8";  // until the first run names oneDNN's kernel
};

Int8FcKernel::Int8FcKernel() : st_(std::make_unique<State>()) {}
Int8FcKernel::~Int8FcKernel() = default;

std::string Int8FcKernel::impl() const {
  return st_->impl;
}

void Int8FcKernel::run(DnnlEnv& env, const Int8Layer& l, const float* x, int64_t n, float* y, int threads) {
  using memory = dnnl::memory;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  State& st = *st_;
  const int64_t k = l.depth, m = l.rows;
  const int32_t zero = l.input.zero;
  const int omp_threads = ops::current_threads();
  if (st.rows != n || st.threads != omp_threads || st.weights != l.codes.data()) {
    dnnl::primitive_attr attr = ops::user_scratchpad_attr();
    if (zero != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    const dnnl::matmul::primitive_desc pd(
        dnnl::matmul::desc(memory::desc({n, k}, dt::u8, tag::ab), memory::desc({k, m}, dt::s8, tag::any),
                           memory::desc({n, m}, dt::s32, tag::ab)),
        attr, env.engine);
    st.prim = dnnl::matmul(pd);
    st.impl = ops::dnnl_impl_name(pd);
    st.src = memory(pd.src_desc(), env.engine, nullptr);
    st.dst = memory(pd.dst_desc(), env.engine, nullptr);
    memory wei_user(memory::desc({k, m}, dt::s8, tag::ba), env.engine, const_cast<int8_t*>(l.codes.data()));
    st.wei = memory(pd.weights_desc(), env.engine);
    dnnl::reorder(wei_user, st.wei).execute(env.stream, wei_user, st.wei);
    st.zero = memory(memory::desc({1}, dt::s32, tag::a), env.engine);
    st.args = {{DNNL_ARG_SRC, st.src}, {DNNL_ARG_WEIGHTS, st.wei}, {DNNL_ARG_DST, st.dst}};
    if (zero != 0) st.args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = st.zero;
    if (pd.scratchpad_desc().get_size() > 0)
      st.args[DNNL_ARG_SCRATCHPAD] = memory(pd.scratchpad_desc(), env.engine, nullptr);
    st.rows = n, st.threads = omp_threads, st.weights = l.codes.data();
  }
  const bool avx512 = has_avx512();
  const float inverse = l.input.inverse();
  st.q.resize(static_cast<size_t>(n * k));
  st.acc.resize(static_cast<size_t>(n * m));
  for_tasks(n, n * k >= 4096 ? threads : 1, [&](int64_t r) {
    if (avx512) {
      quantize_row_avx512(x + r * k, k, st.q.data() + r * k, inverse, zero);
    } else {
      for (int64_t i = 0; i < k; ++i) st.q[r * k + i] = quantize_int8_input(x[r * k + i], inverse, zero);
    }
  });
  *static_cast<int32_t*>(st.zero.get_data_handle()) = zero;
  st.src.set_data_handle(st.q.data());
  st.dst.set_data_handle(st.acc.data());
  ops::bind_scratchpad(st.args, env);
  st.prim.execute(env.stream, st.args);
  env.stream.wait();
  for_tasks(n, n * m >= 4096 ? threads : 1, [&](int64_t r) {
    if (avx512) {
      epilogue_row_avx512(st.acc.data() + r * m, m, l.combined.data(), l.bias.data(), l.relu, y + r * m);
    } else {
      for (int64_t i = 0; i < m; ++i) y[r * m + i] = int8_output(st.acc[r * m + i], l.combined[i], l.bias[i], l.relu);
    }
  });
}

}  // namespace eff::deft
