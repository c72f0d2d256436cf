// The int8 direct conv for few input channels (deft/int8_small_conv.h): u8 planes, VNNI over four
// taps of a kernel row, 16 filters in the lanes; the scalar loops make the same int32 sums.
#include "deft/int8_small_conv.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "deft/conv_small.h"
#include "deft/tasks.h"

#define EFF_DEFT_TARGET_ISA "avx512f,avx512bw,avx512vl,avx512vnni,fma"
#include "deft/target_push.h"
// Built for this file's instruction set: after target_push.h.
#include "deft/int8_plain_store.h"

namespace eff::deft {

namespace {

constexpr int64_t kB = 16;  // filters per block: the lanes

// Where the planes are: padded rows `stride` bytes apart, channel planes `plane` bytes apart.
struct PlaneGeometry {
  int64_t stride = 0, plane = 0;
};

// The 16 filters' sums of output pixels ox .. ox + P - 1 of conv row oy (each its own vector).
template <int P>
inline void vnni_sums(const uint8_t* planes, const PlaneGeometry& g, const int8_t* wb, const Int8SmallConvWeights& w,
                      int64_t oy, int64_t ox, __m512i* acc) {
  for (int p = 0; p < P; ++p) acc[p] = _mm512_setzero_si512();
  for (int64_t ch = 0; ch < w.c; ++ch)
    for (int64_t ky = 0; ky < w.kh; ++ky) {
      const uint8_t* row = planes + ch * g.plane + (oy + ky) * g.stride + ox;
      const int8_t* wr = wb + (ch * w.kh + ky) * w.quads * 64;
      for (int64_t q = 0; q < w.quads; ++q) {
        const __m512i wv = _mm512_loadu_si512(wr + q * 64);
        // The four taps' codes, broadcast from memory.
        for (int p = 0; p < P; ++p)
          acc[p] = _mm512_dpbusd_epi32(acc[p], _mm512_broadcastd_epi32(_mm_loadu_si32(row + p + 4 * q)), wv);
      }
    }
}

// int8_output per lane: fma(float(sum - correction), combined, bias), then the Relu (v > 0 ? v : 0).
inline __m512 vnni_finish(__m512i acc, __m512i correction, __m512 combined, __m512 bias, bool relu) {
  const __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc, correction)), combined, bias);
  return relu ? _mm512_max_ps(v, _mm512_setzero_ps()) : v;
}

// Up to kMaxPixels output pixels of a row at once: as many independent sums as the registers hold
// (two rows of them with a pool), so that no dot product waits for the one before it.
constexpr int kMaxPixels = 12;

// Output pixels [ox, ox + P) of conv row oy (with `pool`: pooled pixels [ox / 2, (ox + P) / 2) of
// pooled row oy / 2, from conv rows oy and oy + 1) of filter block fb, finished and stored.
template <int P>
void vnni_pixels(const Int8Layer& l, const Int8SmallConvWeights& w, const uint8_t* planes, const PlaneGeometry& g,
                 const ConvShape& s, int64_t fb, int64_t oy, int64_t ox, bool pool, float* y_image, int64_t out_pixels,
                 bool blocked) {
  const int8_t* wb = w.w.data() + fb * w.c * w.kh * w.quads * 64;
  const __m512i correction = _mm512_loadu_si512(w.correction.data() + fb * kB);
  const __m512 combined = _mm512_loadu_ps(l.combined.data() + fb * kB), bias = _mm512_loadu_ps(l.bias.data() + fb * kB);
  const int64_t lanes = std::min(kB, w.m - fb * kB);
  __m512i a[P];
  vnni_sums<P>(planes, g, wb, w, oy, ox, a);
  // Blocked: each pixel's vector stored as it is finished. Plain: all of them through one transpose
  // (deft/int8_plain_store.h; a scatter per vector took lenet5's 6-filter conv1 6.1 us, now 3.1).
  // Only the plain path holds the 16 vectors, so the blocked one keeps its registers for the sums.
  auto store = [&](int count, int64_t pix, auto&& value) {
    if (blocked) {
      for (int p = 0; p < count; ++p) _mm512_storeu_ps(y_image + (fb * out_pixels + pix + p) * kB, value(p));
      return;
    }
    __m512 v[16];
    for (__m512& x : v) x = _mm512_setzero_ps();
    for (int p = 0; p < count; ++p) v[p] = value(p);
    store_plain(v, count, lanes, out_pixels, y_image + fb * kB * out_pixels + pix, nullptr, false);
  };
  if (!pool) {
    store(P, oy * s.ow + ox, [&](int p) { return vnni_finish(a[p], correction, combined, bias, l.relu); });
    return;
  }
  if constexpr (P % 2 == 0) {  // a pool's pieces are whole column pairs
    __m512i c[P];
    vnni_sums<P>(planes, g, wb, w, oy + 1, ox, c);
    // Rows first (a > c ? a : c per column), then the column pair, as conv_small's pool.
    store(P / 2, (oy / 2) * (s.ow / 2) + ox / 2, [&](int q) {
      const int p = 2 * q;
      const __m512 m0 = _mm512_max_ps(vnni_finish(a[p], correction, combined, bias, l.relu),
                                      vnni_finish(c[p], correction, combined, bias, l.relu));
      const __m512 m1 = _mm512_max_ps(vnni_finish(a[p + 1], correction, combined, bias, l.relu),
                                      vnni_finish(c[p + 1], correction, combined, bias, l.relu));
      return _mm512_max_ps(m0, m1);
    });
  }
}

template <int P = kMaxPixels>
void vnni_pixels_upto(int count, const Int8Layer& l, const Int8SmallConvWeights& w, const uint8_t* planes,
                      const PlaneGeometry& g, const ConvShape& s, int64_t fb, int64_t oy, int64_t ox, bool pool,
                      float* y_image, int64_t out_pixels, bool blocked) {
  if constexpr (P > 1) {
    if (count < P)
      return vnni_pixels_upto<P - 1>(count, l, w, planes, g, s, fb, oy, ox, pool, y_image, out_pixels, blocked);
  }
  vnni_pixels<P>(l, w, planes, g, s, fb, oy, ox, pool, y_image, out_pixels, blocked);
}

// One output row (with `pool`: one pooled row, from conv rows 2 row and 2 row + 1) of filter block fb.
void vnni_row(const Int8Layer& l, const Int8SmallConvWeights& w, const uint8_t* planes, const PlaneGeometry& g,
              const ConvShape& s, int64_t fb, int64_t row, bool pool, float* y_image, int64_t out_pixels,
              bool blocked) {
  const int64_t width = pool ? 2 * (s.ow / 2) : s.ow;  // conv columns read (a pool drops an odd last one)
  const int64_t oy = pool ? 2 * row : row;
  // Blocks of about equal size (even with a pool), none over kMaxPixels.
  const int64_t step = pool ? kMaxPixels / 2 : kMaxPixels, units = pool ? width / 2 : width;
  const int64_t parts = (units + step - 1) / step;
  for (int64_t i = 0; i < parts; ++i) {
    const int64_t u0 = units * i / parts, u1 = units * (i + 1) / parts, scale = pool ? 2 : 1;
    vnni_pixels_upto(static_cast<int>((u1 - u0) * scale), l, w, planes, g, s, fb, oy, u0 * scale, pool, y_image,
                     out_pixels, blocked);
  }
}

}  // namespace

}  // namespace eff::deft

#include "deft/target_pop.h"

namespace eff::deft {

namespace {

// The same sums and rules one value at a time.
void scalar_row(const Int8Layer& l, const Int8SmallConvWeights& w, const uint8_t* planes, const PlaneGeometry& g,
                const ConvShape& s, int64_t fb, int64_t row, bool pool, float* y_image, int64_t out_pixels,
                bool blocked) {
  const int64_t lanes = std::min(kB, w.m - fb * kB);
  auto value = [&](int64_t f, int64_t oy, int64_t ox) {
    int32_t acc = 0;
    for (int64_t ch = 0; ch < w.c; ++ch)
      for (int64_t ky = 0; ky < w.kh; ++ky)
        for (int64_t kx = 0; kx < w.kw; ++kx)
          acc += int32_t{planes[ch * g.plane + (oy + ky) * g.stride + ox + kx]} *
                 int32_t{w.w[((((fb * w.c + ch) * w.kh + ky) * w.quads + kx / 4) * kB + f) * 4 + kx % 4]};
    return int8_output(acc - w.correction[fb * kB + f], l.combined[fb * kB + f], l.bias[fb * kB + f], l.relu);
  };
  const int64_t width = pool ? s.ow / 2 : s.ow;
  for (int64_t f = 0; f < kB; ++f)
    for (int64_t x = 0; x < width; ++x) {
      float v;
      if (pool) {
        float m[2];
        for (int64_t d = 0; d < 2; ++d) {
          const float a = value(f, 2 * row, 2 * x + d), c = value(f, 2 * row + 1, 2 * x + d);
          m[d] = a > c ? a : c;
        }
        v = m[0] > m[1] ? m[0] : m[1];
      } else {
        v = value(f, row, x);
      }
      const int64_t pix = row * width + x;
      if (blocked) {
        y_image[(fb * out_pixels + pix) * kB + f] = v;
      } else if (f < lanes) {
        y_image[(fb * kB + f) * out_pixels + pix] = v;
      }
    }
}

int64_t blocks(int64_t c) {
  return (c + kB - 1) / kB;
}

}  // namespace

bool int8_small_conv_fits(const ConvShape& s) {
  return s.c >= 1 && s.c <= kSmallConvChannels && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1;
}

bool int8_small_conv_has_vnni() {
  return int8_vnni_available();
}

Int8SmallConvWeights int8_small_pack(const Int8Layer& l, int64_t c, int64_t kh, int64_t kw) {
  if (c * kh * kw != l.depth) fail<ShapeError>("deft int8: depth {} is not {} x {} x {}", l.depth, c, kh, kw);
  Int8SmallConvWeights w;
  w.m = l.rows, w.c = c, w.kh = kh, w.kw = kw, w.quads = (kw + 3) / 4;
  w.w.assign(static_cast<size_t>(blocks(w.m) * c * kh * w.quads * kB * 4), 0);
  w.correction = place_int8_conv_codes(l, c, kh, kw, [&](int64_t f, int64_t ch, int64_t ky, int64_t kx, int8_t code) {
    w.w[static_cast<size_t>(((((f / kB) * c + ch) * kh + ky) * w.quads + kx / 4) * kB + f % kB) * 4 + kx % 4] = code;
  });
  return w;
}

void int8_small_conv(const Int8Layer& l, const Int8SmallConvWeights& w, const float* x, ActLayout in, int64_t n,
                     const ConvShape& s, int64_t pad_bottom, int64_t pad_right, float* y, ActLayout out, int threads,
                     bool pool, std::vector<uint8_t>& scratch, bool vnni) {
  if (!int8_small_conv_fits(s) || s.c != w.c || s.kh != w.kh || s.kw != w.kw)
    fail<ShapeError>("deft int8: the small conv does not fit this layer");
  if (pool && (s.oh < 2 || s.ow < 2)) fail<ShapeError>("deft int8: the conv output is smaller than its 2 x 2 pool");
  const int64_t in_pixels = s.h * s.w, cb = blocks(s.c), mb = blocks(w.m);
  PlaneGeometry g;
  // A quad past the last tap reads up to 3 bytes beyond the right padding (their weights are 0).
  g.stride = s.w + s.pad_left + pad_right + 4;
  g.plane = (s.h + s.pad_top + pad_bottom) * g.stride;
  const int64_t image_bytes = s.c * g.plane;
  scratch.resize(static_cast<size_t>(n * image_bytes));
  const float inverse = l.input.inverse();
  const int32_t zero = l.input.zero;
  const int64_t in_image = in == ActLayout::kBlocked ? cb * kB * in_pixels : s.c * in_pixels;
  // Planes: the zero point's code, the image's codes inside the padding.
  for_tasks(n, threads, [&](int64_t img) {
    uint8_t* planes = scratch.data() + img * image_bytes;
    std::memset(planes, zero, static_cast<size_t>(image_bytes));
    const float* xi = x + img * in_image;
    if (in == ActLayout::kPlain) {
      for (int64_t ch = 0; ch < s.c; ++ch)
        for (int64_t iy = 0; iy < s.h; ++iy)
          quantize_int8_row(xi + (ch * s.h + iy) * s.w, s.w,
                            planes + ch * g.plane + (iy + s.pad_top) * g.stride + s.pad_left, inverse, zero);
      return;
    }
    std::vector<uint8_t> codes(static_cast<size_t>(s.w * s.c));  // one input row, pixel by pixel
    for (int64_t iy = 0; iy < s.h; ++iy) {
      quantize_int8_pixels(xi + iy * s.w * kB, s.w, codes.data(), s.c, s.c, inverse, zero);
      for (int64_t ch = 0; ch < s.c; ++ch) {
        uint8_t* dst = planes + ch * g.plane + (iy + s.pad_top) * g.stride + s.pad_left;
        for (int64_t ix = 0; ix < s.w; ++ix) dst[ix] = codes[ix * s.c + ch];
      }
    }
  });
  const int64_t rows = pool ? s.oh / 2 : s.oh;
  const int64_t out_pixels = rows * (pool ? s.ow / 2 : s.ow);
  const int64_t out_image = out == ActLayout::kBlocked ? mb * kB * out_pixels : w.m * out_pixels;
  const bool use_vnni = vnni && int8_vnni_available(), blocked = out == ActLayout::kBlocked;
  // One task per (image, filter block, output row): no task waits for another.
  for_tasks(n * mb * rows, threads, [&](int64_t t) {
    const int64_t img = t / (mb * rows), fb = t / rows % mb, row = t % rows;
    (use_vnni ? vnni_row : scalar_row)(l, w, scratch.data() + img * image_bytes, g, s, fb, row, pool,
                                       y + img * out_image, out_pixels, blocked);
  });
}

}  // namespace eff::deft
