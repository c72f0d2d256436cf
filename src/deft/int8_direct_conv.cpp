// The int8 VNNI conv over channel groups (deft/int8_direct_conv.h): u8 images pixel by pixel, one
// vpdpbusd per group of four input channels of one pixel and 16 filters, the epilogue in registers.
#include "deft/int8_direct_conv.h"

#include <omp.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <array>
#include <cstring>

#include "core/error.h"

#define EFF_DEFT_TARGET_ISA "avx512f,avx512bw,avx512vl,avx512vnni,fma"
#include "deft/target_push.h"
// Built for this file's instruction set: after target_push.h.
#include "deft/int8_plain_store.h"

namespace eff::deft {

namespace {

constexpr int64_t kB = 16;  // filters per block: the lanes
// Independent sums a kernel keeps in registers (beside the weight vectors and the broadcast), and
// the most output pixels of a row and filter blocks it takes at once.
constexpr int kMaxSums = 24;
constexpr int kMaxPixels = 12;
constexpr int kMaxBlocks = 2;

// The quantized input all convs of a call read: n images of padded rows, each pixel `pixel` bytes.
struct Planes {
  ConvShape input;  // the layer's (the first conv's) input, which the quantization reads
  Int8Input quant;
  int64_t pad_top = 0, pad_left = 0, width = 0;  // the padding and the pixels of a row
  int64_t sample = 1;  // > 1: a lone 1 x 1 conv of that stride, run as stride 1 on the pixels it reads
  int64_t pixel = 0;   // bytes a quantized pixel takes (groups * 4)
  int64_t rows = 0;    // padded rows
  int64_t row = 0;     // bytes a padded row takes
  int64_t image = 0;   // bytes a padded image takes
};

// One conv's constants.
struct Job {
  const Int8Layer* l = nullptr;
  const Int8DirectConvWeights* w = nullptr;
  ConvShape s;                 // the conv the kernels run
  int64_t pixel = 0, row = 0;  // as Planes
  int64_t origin = 0;          // bytes from an image's start to this conv's first padded pixel
  int64_t block_bytes = 0;     // weight bytes of one filter block
  int64_t out_pixels = 0;      // per channel of y (pooled with `pool`)
  int64_t out_image = 0;       // floats of y per image
  float* y = nullptr;
  const float* residual = nullptr;
  bool blocked_out = false, pool = false;
  // A task's shape: one output row (with a pool: two conv rows) of `blocks` filter blocks, in pieces
  // at most `piece` pixels wide, so that rows * piece * blocks <= kMaxSums.
  int blocks = 1;
  int64_t piece = kMaxPixels;
  int64_t mb = 0, task_rows = 0, tasks = 0;  // filter blocks, task rows, tasks per image
  double task_cost = 0;                      // dot products per task
};

// The sums of output pixels ox .. ox + P - 1 of conv rows oy .. oy + R - 1, for filter blocks
// fb .. fb + OB - 1: R * P * OB independent sums, each weight vector loaded once for R * P of them.
template <int R, int P, int OB>
inline void vnni_sums(const uint8_t* image, const Job& j, int64_t fb, int64_t oy, int64_t ox,
                      __m512i (&acc)[R][OB][P]) {
  const Int8DirectConvWeights& w = *j.w;
  for (int r = 0; r < R; ++r)
    for (int o = 0; o < OB; ++o)
      for (int p = 0; p < P; ++p) acc[r][o][p] = _mm512_setzero_si512();
  const int8_t* wb = w.w.data() + fb * j.block_bytes;
  const int64_t step = j.s.sw * j.pixel;    // bytes between the inputs of neighbouring output pixels
  const int64_t row_step = j.s.sh * j.row;  // and of neighbouring output rows
  // A kernel row's taps are neighbouring pixels, each its groups in order, and its weights are in the
  // same order: one loop over the row's kw * groups fours of bytes.
  const int64_t fours = w.kw * w.groups;
  for (int64_t ky = 0; ky < w.kh; ++ky) {
    const uint8_t* px = image + j.origin + (oy * j.s.sh + ky) * j.row + ox * step;
    const int8_t* wk = wb + ky * fours * 64;
    for (int64_t g = 0; g < fours; ++g) {
      __m512i wv[OB];
      for (int o = 0; o < OB; ++o) wv[o] = _mm512_load_si512(wk + o * j.block_bytes + g * 64);
      for (int r = 0; r < R; ++r)
        for (int p = 0; p < P; ++p) {
          const __m512i b = _mm512_broadcastd_epi32(_mm_loadu_si32(px + r * row_step + p * step + 4 * g));
          for (int o = 0; o < OB; ++o) acc[r][o][p] = _mm512_dpbusd_epi32(acc[r][o][p], b, wv[o]);
        }
    }
  }
}

// int8_output per lane: fma(float(sum - correction), combined, bias).
inline __m512 vnni_value(__m512i acc, __m512i correction, __m512 combined, __m512 bias) {
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc, correction)), combined, bias);
}

// Output pixels [ox, ox + P) of conv rows oy .. oy + R - 1, filter blocks fb .. fb + OB - 1:
// finished, the shortcut added, the Relu, stored. With `pool` (R = 2, P even): pooled pixels
// [ox / 2, (ox + P) / 2) of pooled row oy / 2, each sum finished with its Relu, then
// max(max(a, c), max(b, d)) with x > y ? x : y (rows first, then the column pair, as conv_small's pool).
template <int R, int P, int OB>
void vnni_pixels(const uint8_t* image, const Job& j, int64_t fb, int64_t oy, int64_t ox, float* y_image,
                 const float* r_image) {
  static_assert(P <= 16, "a pixel block is at most one transpose wide");
  __m512i acc[R][OB][P];
  vnni_sums<R, P, OB>(image, j, fb, oy, ox, acc);
  const Int8Layer& l = *j.l;
  for (int o = 0; o < OB; ++o) {
    const int64_t b = fb + o, lanes = std::min(kB, j.w->m - b * kB);
    const __m512i correction = _mm512_loadu_si512(j.w->correction.data() + b * kB);
    const __m512 combined = _mm512_loadu_ps(l.combined.data() + b * kB), bias = _mm512_loadu_ps(l.bias.data() + b * kB);
    // Blocked: each pixel's vector stored as it is finished. Plain: all of them through one transpose
    // (deft/int8_plain_store.h). Only the plain path holds the 16 vectors, so the blocked one keeps
    // its registers for the sums.
    if constexpr (R == 2 && P % 2 == 0) {
      if (j.pool) {
        auto finish = [&](__m512i a) {
          const __m512 v = vnni_value(a, correction, combined, bias);
          return l.relu ? _mm512_max_ps(v, _mm512_setzero_ps()) : v;
        };
        auto pooled = [&](int p) {
          const __m512 m0 = _mm512_max_ps(finish(acc[0][o][p]), finish(acc[1][o][p]));
          const __m512 m1 = _mm512_max_ps(finish(acc[0][o][p + 1]), finish(acc[1][o][p + 1]));
          return _mm512_max_ps(m0, m1);
        };
        const int64_t pix = (oy / 2) * (j.s.ow / 2) + ox / 2;
        if (j.blocked_out) {
          for (int p = 0; p < P; p += 2) _mm512_storeu_ps(y_image + (b * j.out_pixels + pix + p / 2) * kB, pooled(p));
        } else {
          __m512 plain[16];
          for (__m512& v : plain) v = _mm512_setzero_ps();
          for (int p = 0; p < P; p += 2) plain[p / 2] = pooled(p);
          store_plain(plain, P / 2, lanes, j.out_pixels, y_image + b * kB * j.out_pixels + pix, nullptr, false);
        }
        continue;
      }
    }
    for (int r = 0; r < R; ++r) {
      const int64_t pix = (oy + r) * j.s.ow + ox;
      if (j.blocked_out) {
        for (int p = 0; p < P; ++p) {
          __m512 v = vnni_value(acc[r][o][p], correction, combined, bias);
          const int64_t at = (b * j.out_pixels + pix + p) * kB;
          if (r_image) v = _mm512_add_ps(v, _mm512_loadu_ps(r_image + at));
          if (l.relu) v = _mm512_max_ps(v, _mm512_setzero_ps());  // v > 0 ? v : 0
          _mm512_storeu_ps(y_image + at, v);
        }
        continue;
      }
      __m512 plain[16];
      for (__m512& v : plain) v = _mm512_setzero_ps();
      for (int p = 0; p < P; ++p) plain[p] = vnni_value(acc[r][o][p], correction, combined, bias);
      const int64_t at = b * kB * j.out_pixels + pix;
      store_plain(plain, P, lanes, j.out_pixels, y_image + at, r_image ? r_image + at : nullptr, l.relu);
    }
  }
}

// The kernel for a run-time pixel count (1 .. kMaxPixels) and filter block count (1 .. kMaxBlocks).
template <int R, int OB, int P = kMaxPixels>
void vnni_pixels_upto(int count, const uint8_t* image, const Job& j, int64_t fb, int64_t oy, int64_t ox, float* y_image,
                      const float* r_image) {
  if constexpr (P > 1) {
    if (count < P) return vnni_pixels_upto<R, OB, P - 1>(count, image, j, fb, oy, ox, y_image, r_image);
  }
  if constexpr (R * P * OB <= kMaxSums) vnni_pixels<R, P, OB>(image, j, fb, oy, ox, y_image, r_image);
}

template <int R>
void vnni_dispatch(int count, int blocks, const uint8_t* image, const Job& j, int64_t fb, int64_t oy, int64_t ox,
                   float* y_image, const float* r_image) {
  if (blocks == kMaxBlocks) return vnni_pixels_upto<R, kMaxBlocks>(count, image, j, fb, oy, ox, y_image, r_image);
  vnni_pixels_upto<R, 1>(count, image, j, fb, oy, ox, y_image, r_image);
}

// Output row `row` (with `pool` pooled row `row`, from conv rows 2 row and 2 row + 1) of filter blocks fb .. fb +
// blocks - 1, in pieces of about equal width, each at most `piece` output pixels wide.
void vnni_row(const uint8_t* image, const Job& j, int64_t fb, int blocks, int64_t row, float* y_image,
              const float* r_image) {
  const int64_t width = j.pool ? 2 * (j.s.ow / 2) : j.s.ow;  // a pool drops an odd last column
  const int64_t scale = j.pool ? 2 : 1, units = width / scale, step = j.piece / scale;
  const int64_t parts = (units + step - 1) / step;
  for (int64_t i = 0; i < parts; ++i) {
    const int64_t u0 = units * i / parts, u1 = units * (i + 1) / parts;
    const int count = static_cast<int>((u1 - u0) * scale);
    if (j.pool)
      vnni_dispatch<2>(count, blocks, image, j, fb, 2 * row, u0 * scale, y_image, r_image);
    else
      vnni_dispatch<1>(count, blocks, image, j, fb, row, u0 * scale, y_image, r_image);
  }
}

}  // namespace

}  // namespace eff::deft

#include "deft/target_pop.h"

namespace eff::deft {

namespace {

int64_t blocks_of(int64_t c) {
  return (c + kB - 1) / kB;
}

// Padded row `r` of image `img` of x quantized into `dst`: the zero point's code in the padding and
// in the channels past c of each pixel's last group. With sample > 1 (a lone 1 x 1 strided conv) the
// row holds only the pixels the conv reads: input row r * sample, every sample-th pixel.
void quantize_row(const Planes& q, const float* x, ActLayout in, int64_t img, int64_t r, uint8_t* dst) {
  const ConvShape& s = q.input;
  const auto zero = static_cast<uint8_t>(q.quant.zero);
  const int64_t iy = r * q.sample - q.pad_top;
  if (iy < 0 || iy >= s.h) {
    std::memset(dst, zero, static_cast<size_t>(q.row));
    return;
  }
  const int64_t in_pixels = s.h * s.w, cb = blocks_of(s.c);
  const float inverse = q.quant.inverse();
  std::memset(dst, zero, static_cast<size_t>(q.pad_left * q.pixel));
  uint8_t* inside = dst + q.pad_left * q.pixel;
  std::memset(inside + q.width * q.pixel, zero, static_cast<size_t>(q.row - (q.pad_left + q.width) * q.pixel));
  if (in == ActLayout::kBlocked) {
    const float* xi = x + img * cb * kB * in_pixels;
    for (int64_t b = 0; b < cb; ++b) {
      const float* src = xi + (b * in_pixels + iy * s.w) * kB;
      const int64_t lanes = std::min(kB, s.c - b * kB);
      if (q.sample == 1) {
        quantize_int8_pixels(src, s.w, inside + b * kB, q.pixel, lanes, inverse, q.quant.zero);
      } else {
        for (int64_t ix = 0; ix < q.width; ++ix)
          quantize_int8_pixels(src + ix * q.sample * kB, 1, inside + ix * q.pixel + b * kB, q.pixel, lanes, inverse,
                               q.quant.zero);
      }
    }
  } else if (q.sample == 1) {
    const float* xi = x + img * s.c * in_pixels + iy * s.w;
    for (int64_t b = 0; b < cb; ++b)
      quantize_int8_planes(xi + b * kB * in_pixels, in_pixels, std::min(kB, s.c - b * kB), s.w, inside + b * kB,
                           q.pixel, inverse, q.quant.zero);
  } else {
    const float* xi = x + img * s.c * in_pixels + iy * s.w;
    float v[kB];
    for (int64_t ix = 0; ix < q.width; ++ix)
      for (int64_t b = 0; b < cb; ++b) {
        const int64_t lanes = std::min(kB, s.c - b * kB);
        for (int64_t k = 0; k < lanes; ++k) v[k] = xi[(b * kB + k) * in_pixels + ix * q.sample];
        quantize_int8_pixels(v, 1, inside + ix * q.pixel + b * kB, q.pixel, lanes, inverse, q.quant.zero);
      }
  }
  if (q.pixel > s.c)
    for (int64_t ix = 0; ix < q.width; ++ix)
      std::memset(inside + ix * q.pixel + s.c, zero, static_cast<size_t>(q.pixel - s.c));
}

// Task t of image img of conv j, on that image's quantized planes.
void compute_task(const Job& j, const uint8_t* image, int64_t img, int64_t t) {
  const int64_t fb = t / j.task_rows * j.blocks, row = t % j.task_rows;
  vnni_row(image, j, fb, static_cast<int>(std::min<int64_t>(j.blocks, j.mb - fb)), row, j.y + img * j.out_image,
           j.residual ? j.residual + img * j.out_image : nullptr);
}

}  // namespace

bool int8_direct_conv_preferred() {
  static const bool yes = [] {
    if (!int8_vnni_available()) return false;
#if defined(__x86_64__)
    // AMX-INT8: CPUID leaf 7, EDX bit 25.
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 25))) return false;
#endif
    return true;
  }();
  return yes;
}

bool int8_direct_conv_fits(const ConvShape& s) {
  return int8_vnni_available() && s.c >= 1 && s.dh == 1 && s.dw == 1 && s.sh >= 1 && s.sw >= 1;
}

Int8DirectConvWeights int8_direct_pack(const Int8Layer& l, int64_t c, int64_t kh, int64_t kw) {
  if (c * kh * kw != l.depth) fail<ShapeError>("deft int8: depth {} is not {} x {} x {}", l.depth, c, kh, kw);
  Int8DirectConvWeights w;
  w.m = l.rows, w.c = c, w.kh = kh, w.kw = kw, w.groups = (c + 3) / 4;
  w.w.assign(static_cast<size_t>(blocks_of(w.m) * kh * kw * w.groups * kB * 4), 0);
  w.correction = place_int8_conv_codes(l, c, kh, kw, [&](int64_t f, int64_t ch, int64_t ky, int64_t kx, int8_t code) {
    w.w[static_cast<size_t>((((((f / kB) * kh + ky) * kw + kx) * w.groups + ch / 4) * kB + f % kB) * 4 + ch % 4)] =
        code;
  });
  return w;
}

void int8_direct_convs(const Int8DirectConvCall* convs, int count, const float* x, ActLayout in, int64_t n, int threads,
                       std::vector<uint8_t>& scratch) {
  if (count < 1 || count > kMaxConvs)
    fail<ShapeError>("deft int8: {} convs in one direct call (1 .. {})", count, kMaxConvs);
  const ConvShape& first = convs[0].shape;
  Planes q;
  q.input = first;
  q.quant = convs[0].layer->input;
  for (int i = 0; i < count; ++i) {
    const Int8DirectConvCall& c = convs[i];
    const ConvShape& s = c.shape;
    if (!int8_direct_conv_fits(s) || s.c != c.weights->c || s.kh != c.weights->kh || s.kw != c.weights->kw ||
        c.layer->rows != c.weights->m)
      fail<ShapeError>("deft int8: the direct conv does not fit this layer");
    if (s.c != first.c || s.h != first.h || s.w != first.w || c.layer->input.scale != q.quant.scale ||
        c.layer->input.zero != q.quant.zero)
      fail<ShapeError>("deft int8: convs in one direct call read the same input with the same quantization");
    if (c.pool && c.residual) fail<ShapeError>("deft int8: a conv fuses a residual or a pool, not both");
    if (c.pool && (s.oh < 2 || s.ow < 2)) fail<ShapeError>("deft int8: the conv output is smaller than its 2 x 2 pool");
  }
  // The padding is the most any conv has; each conv starts at its own.
  int64_t pad_bottom = 0, pad_right = 0;
  for (int i = 0; i < count; ++i) {
    q.pad_top = std::max(q.pad_top, convs[i].shape.pad_top), q.pad_left = std::max(q.pad_left, convs[i].shape.pad_left);
    pad_bottom = std::max(pad_bottom, convs[i].pad_bottom), pad_right = std::max(pad_right, convs[i].pad_right);
  }
  q.pixel = convs[0].weights->groups * 4;
  q.width = first.w;
  int64_t height = first.h;
  std::array<Job, kMaxConvs> jobs;
  jobs[0].s = first;
  // A lone 1 x 1 strided conv reads a quarter of its input (stride 2, resnet's shortcuts): only that
  // is quantized, and the conv runs at stride 1 over it.
  if (count == 1 && first.kh == 1 && first.kw == 1 && first.sh == first.sw && first.sh > 1 && q.pad_top == 0 &&
      q.pad_left == 0 && pad_bottom == 0 && pad_right == 0) {
    q.sample = first.sh;
    q.width = first.ow, height = first.oh;
    jobs[0].s.h = first.oh, jobs[0].s.w = first.ow, jobs[0].s.sh = jobs[0].s.sw = 1;
  }
  q.rows = height + q.pad_top + pad_bottom;
  q.row = (q.width + q.pad_left + pad_right) * q.pixel;
  q.image = q.rows * q.row;
  double image_cost = 0;
  for (int i = 0; i < count; ++i) {
    const Int8DirectConvCall& c = convs[i];
    Job& j = jobs[i];
    if (i > 0) j.s = c.shape;
    j.l = c.layer, j.w = c.weights, j.pool = c.pool, j.blocked_out = c.out == ActLayout::kBlocked;
    j.y = c.y, j.residual = c.residual;
    j.pixel = q.pixel, j.row = q.row;
    j.origin = (q.pad_top - c.shape.pad_top) * q.row + (q.pad_left - c.shape.pad_left) * q.pixel;
    j.block_bytes = j.w->kh * j.w->kw * j.w->groups * kB * 4;
    const int64_t rows_out = c.pool ? c.shape.oh / 2 : c.shape.oh;
    j.out_pixels = rows_out * (c.pool ? c.shape.ow / 2 : c.shape.ow);
    j.mb = blocks_of(j.w->m);
    j.out_image = j.blocked_out ? j.mb * kB * j.out_pixels : j.w->m * j.out_pixels;
    // Two filter blocks share each broadcast (measured on fmnist_wide at batch 1: one block 20-40%
    // slower on its 64- to 256-channel convs, three or four no faster); a pool's two rows share each
    // weight load.
    j.blocks = static_cast<int>(std::min<int64_t>(j.mb, kMaxBlocks));
    j.piece = std::min<int64_t>(kMaxPixels, kMaxSums / ((c.pool ? 2 : 1) * j.blocks));
    if (c.pool) j.piece -= j.piece % 2;
    j.task_rows = rows_out;
    j.tasks = (j.mb + j.blocks - 1) / j.blocks * j.task_rows;
    const double macs = double(c.shape.oh * c.shape.ow) * double(j.w->m) * double(c.layer->depth);
    j.task_cost = macs / double(j.tasks);
    image_cost += macs;
  }
  const int team = std::max(1, threads);
  // Images [i0, i1), one after the other through one buffer that stays in this core's cache.
  auto run_images = [&](uint8_t* image, int64_t i0, int64_t i1) {
    for (int64_t img = i0; img < i1; ++img) {
      for (int64_t r = 0; r < q.rows; ++r) quantize_row(q, x, in, img, r, image + r * q.row);
      for (int i = 0; i < count; ++i)
        for (int64_t t = 0; t < jobs[i].tasks; ++t) compute_task(jobs[i], image, img, t);
    }
  };
  if (team == 1) {
    scratch.resize(static_cast<size_t>(q.image));
    run_images(scratch.data(), 0, n);
    return;
  }
  // Whole images per thread where the batch splits evenly enough: each thread quantizes an image
  // into its own buffer and runs all of it, without meeting the others.
  if (n >= team && (n % team == 0 || n >= 8 * team)) {
    scratch.resize(static_cast<size_t>(team * q.image));
#pragma omp parallel num_threads(team)
    {
      const int t = omp_get_thread_num(), workers = omp_get_num_threads();
      run_images(scratch.data() + t * q.image, n * t / workers, n * (t + 1) / workers);
    }
    return;
  }
  // Otherwise the batch is quantized together and, after one barrier, each thread takes an equal
  // share of the dot products: the (image, conv, filter blocks, row) tasks in order, each to the
  // thread whose share holds its middle (a shortcut's tasks are a ninth of its sibling's).
  scratch.resize(static_cast<size_t>(n * q.image));
  const double total = image_cost * double(n);
#pragma omp parallel num_threads(team)
  {
#pragma omp for schedule(static)
    for (int64_t t = 0; t < n * q.rows; ++t)
      quantize_row(q, x, in, t / q.rows, t % q.rows, scratch.data() + t / q.rows * q.image + t % q.rows * q.row);
    const int me = omp_get_thread_num(), workers = omp_get_num_threads();
    const double from = total * me / workers, to = total * (me + 1) / workers;
    // Every thread computes each conv's start and each task's middle by the same operations, so a
    // task's middle is the same number on every thread and falls in exactly one share.
    double start = 0;
    for (int64_t img = 0; img < n; ++img)
      for (int i = 0; i < count; ++i) {
        const Job& j = jobs[i];
        const double end = start + j.task_cost * double(j.tasks);
        // Whole images and convs outside the share are skipped without a look at their tasks.
        if (end > from && start < to)
          for (int64_t t = 0; t < j.tasks; ++t) {
            const double middle = start + j.task_cost * (double(t) + 0.5);
            if (middle >= from && middle < to) compute_task(j, scratch.data() + img * q.image, img, t);
          }
        start = end;
      }
  }
}

void int8_direct_conv(const Int8Layer& l, const Int8DirectConvWeights& w, const float* x, ActLayout in, int64_t n,
                      const ConvShape& s, int64_t pad_bottom, int64_t pad_right, float* y, ActLayout out, int threads,
                      const float* residual, bool pool, std::vector<uint8_t>& scratch) {
  const Int8DirectConvCall call{&l, &w, s, pad_bottom, pad_right, y, out, residual, pool};
  int8_direct_convs(&call, 1, x, in, n, threads, scratch);
}

}  // namespace eff::deft
