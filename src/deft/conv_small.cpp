// The small-channel direct conv (deft/conv_small.h): plane layout, weights, the portable kernel and
// the AVX-512 one (compiled for AVX-512 whatever the build's -march, called only where best_isa()
// has it).
#include "deft/conv_small.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace eff::deft {

namespace {

constexpr int64_t kFilters = 8;     // filters per register block
constexpr int64_t kVectors = 2;     // 16-pixel row segments per register block
constexpr int64_t kTaskBlocks = 8;  // register blocks (of pixels) per task

int64_t round_up(int64_t x, int64_t m) {
  return (x + m - 1) / m * m;
}

// How vdpbf16ps reads an fp32 activation: rounded to bf16 (to_bf16's rule), a denormal read as
// zero. Branch-free so that the plane copy vectorises.
inline float bf16_operand(float x) {
  const uint32_t u = float_to_bits(x);
  const bool nan = (u & 0x7FFFFFFFu) > 0x7F800000u;
  uint32_t r = nan ? (u | 0x00400000u) : u + 0x7FFFu + ((u >> 16) & 1u);
  r &= 0xFFFF0000u;
  if ((r & 0x7F800000u) == 0) r &= 0x80000000u;
  return bits_to_float(r);
}

}  // namespace

// Output pixels go in row segments of up to 16 (a row of 28: 16 + 12), two segments per register
// block; a segment's 16 inputs for a synapse are 16 consecutive floats of the padded plane.
struct SmallConvGeometry {
  int64_t wp = 0, hp = 0;
  int64_t plane_len = 0;        // floats per channel plane (+ what the last segment's taps read)
  std::vector<int64_t> offset;  // per step: plane offset (channel * plane_len + tap), or -1
  // Per segment (a multiple of kVectors; the padding ones store nothing): where its pixels start in
  // the plane (before the tap's offset) and in the image's OH x OW output, and its lanes.
  std::vector<int64_t> in, out;
  std::vector<uint16_t> lanes;
  int64_t image_len(int64_t c) const { return c * plane_len; }
  int64_t blocks() const { return static_cast<int64_t>(in.size()) / kVectors; }
};

namespace {

using Geometry = SmallConvGeometry;

Geometry geometry(const SmallConvWeights& w, const ConvShape& s, int64_t pad_bottom, int64_t pad_right, bool pool) {
  Geometry g;
  g.wp = s.w + s.pad_left + pad_right;
  g.hp = s.h + s.pad_top + pad_bottom;
  if (pool) {
    // A block: the same columns of conv rows 2 py and 2 py + 1 (one pooled row); segments start
    // on even columns so that lanes (2t, 2t + 1) are one pooling window.
    const int64_t ph = s.oh / 2, pw = s.ow / 2;
    for (int64_t py = 0; py < ph; ++py)
      for (int64_t ox = 0; ox < 2 * pw; ox += 16)
        for (int64_t r = 0; r < 2; ++r) {
          g.in.push_back((2 * py + r) * g.wp + ox);
          g.out.push_back(py * pw + ox / 2);
          g.lanes.push_back(static_cast<uint16_t>((1u << std::min<int64_t>(16, 2 * pw - ox)) - 1));
        }
  } else {
    for (int64_t oy = 0; oy < s.oh; ++oy)
      for (int64_t ox = 0; ox < s.ow; ox += 16) {
        g.in.push_back(oy * g.wp + ox);
        g.out.push_back(oy * s.ow + ox);
        g.lanes.push_back(static_cast<uint16_t>((1u << std::min<int64_t>(16, s.ow - ox)) - 1));
      }
  }
  while (g.in.size() % kVectors) g.in.push_back(0), g.out.push_back(0), g.lanes.push_back(0);
  const int64_t last_tap = (s.kh - 1) * s.dh * g.wp + (s.kw - 1) * s.dw;
  // (+ 16: the filter-lane kernel reads up to 15 pixels past a row's last run)
  g.plane_len = round_up(std::max(g.hp * g.wp, (s.oh - 1) * g.wp + round_up(s.ow, 16) + last_tap) + 16, 16);
  for (int32_t k : w.synapse)
    g.offset.push_back(k < 0 ? -1 : w.c[k] * g.plane_len + w.ky[k] * s.dh * g.wp + w.kx[k] * s.dw);
  return g;
}

void lay_plane(const float* x, const ConvShape& s, const Geometry& g, bool bf16, float* plane) {
  std::fill(plane, plane + g.plane_len, 0.f);
  for (int64_t y = 0; y < s.h; ++y) {
    const float* src = x + y * s.w;
    float* dst = plane + (y + s.pad_top) * g.wp + s.pad_left;
    if (bf16) {
      for (int64_t i = 0; i < s.w; ++i) dst[i] = bf16_operand(src[i]);
    } else {
      std::copy(src, src + s.w, dst);
    }
  }
}

float finish(float acc, const Epilogue& e, int64_t i) {
  if (e.bias) acc += e.bias[i];
  if (e.relu) acc = acc > 0.f ? acc : 0.f;
  return acc;
}

// Filters [f0, f0 + 8) x the segments of register block b of one image.
void block_portable(const SmallConvWeights& w, const Geometry& g, const float* planes, int64_t f0, int64_t b,
                    const Epilogue& e, bool pool, int64_t pixels, float* y) {
  float acc[kFilters][kVectors][16] = {};
  const float* wt = w.w.data() + f0 / kFilters * w.steps * kFilters;
  for (int64_t st = 0; st < w.steps; ++st) {
    const int64_t off = g.offset[static_cast<size_t>(st)];
    for (int64_t f = 0; f < kFilters; ++f)
      for (int64_t v = 0; v < kVectors; ++v) {
        if (off < 0) {
          for (float& a : acc[f][v]) a += 0.f;
          continue;
        }
        const float wv = wt[st * kFilters + f];
        const float* xp = planes + off + g.in[static_cast<size_t>(b * kVectors + v)];
        for (int64_t t = 0; t < 16; ++t) acc[f][v][t] = std::fma(xp[t], wv, acc[f][v][t]);
      }
  }
  const size_t seg0 = static_cast<size_t>(b * kVectors);
  for (int64_t f = 0; f < kFilters && f0 + f < w.m; ++f) {
    float* out = y + (f0 + f) * pixels;
    if (pool) {  // the AVX-512 kernel's order: rows first, then the column pair
      for (int64_t t = 0; t < 16; t += 2) {
        if (!(g.lanes[seg0] >> t & 1)) break;
        float m[2];
        for (int64_t d = 0; d < 2; ++d) {
          const float a = finish(acc[f][0][t + d], e, f0 + f), c = finish(acc[f][1][t + d], e, f0 + f);
          m[d] = a > c ? a : c;
        }
        out[g.out[seg0] + t / 2] = m[0] > m[1] ? m[0] : m[1];
      }
      continue;
    }
    for (int64_t v = 0; v < kVectors; ++v) {
      const size_t seg = seg0 + static_cast<size_t>(v);
      for (int64_t t = 0; t < 16; ++t)
        if (g.lanes[seg] >> t & 1) out[g.out[seg] + t] = finish(acc[f][v][t], e, f0 + f);
    }
  }
}

}  // namespace

bool small_conv_fits(const ConvShape& s) {
  return s.c >= 1 && s.c <= kSmallConvChannels && s.sh == 1 && s.sw == 1 && s.dh >= 1 && s.dw >= 1;
}

SmallConvWeights small_pack_conv(const PackedWeights& p, const std::vector<int32_t>& synapses, int64_t kh, int64_t kw) {
  static std::atomic<uint64_t> next_id{1};
  SmallConvWeights w;
  w.id = next_id++;
  w.m = p.rows;
  w.bf16 = p.format == Format::kBf16Dot;
  const int64_t kept = static_cast<int64_t>(synapses.size());
  for (int32_t k : synapses) {
    w.c.push_back(static_cast<int32_t>(k / (kh * kw)));
    w.ky.push_back(static_cast<int32_t>(k % (kh * kw) / kw));
    w.kx.push_back(static_cast<int32_t>(k % kw));
  }
  // The reference's order: synapses in order; bf16 pairs (2p, 2p + 1) summed odd element first.
  if (w.bf16) {
    for (int64_t q = 0; q < kept; q += 2) {
      w.synapse.push_back(q + 1 < kept ? static_cast<int32_t>(q + 1) : -1);
      w.synapse.push_back(static_cast<int32_t>(q));
    }
  } else {
    for (int64_t q = 0; q < kept; ++q) w.synapse.push_back(static_cast<int32_t>(q));
  }
  w.steps = static_cast<int64_t>(w.synapse.size());
  const int64_t blocks = (w.m + kFilters - 1) / kFilters;
  w.w.assign(static_cast<size_t>(blocks * w.steps * kFilters), 0.f);
  for (int64_t i = 0; i < w.m; ++i)
    for (int64_t st = 0; st < w.steps; ++st) {
      const int32_t q = w.synapse[static_cast<size_t>(st)];
      float v = q < 0 ? 0.f : p.decoded(i, q);
      if (w.bf16) v = bf16_operand(v);
      w.w[static_cast<size_t>((i / kFilters * w.steps + st) * kFilters + i % kFilters)] = v;
    }
  w.w16.assign(static_cast<size_t>((w.m + 15) / 16 * w.steps * 16), 0.f);
  for (int64_t i = 0; i < w.m; ++i)
    for (int64_t st = 0; st < w.steps; ++st)
      w.w16[static_cast<size_t>((i / 16 * w.steps + st) * 16 + i % 16)] =
          w.w[static_cast<size_t>((i / kFilters * w.steps + st) * kFilters + i % kFilters)];
  return w;
}

void small_conv_block_avx512(const SmallConvWeights& w, const int64_t* offset, const int64_t* in, const int64_t* out,
                             const uint16_t* lanes, int64_t pixels, const float* planes, int64_t f0, const Epilogue& e,
                             bool pool, float* y, bool two);

void small_conv_filters_avx512(const SmallConvWeights& w, const int64_t* offset, int64_t wp, const ConvShape& s,
                               const float* planes, int64_t f0, const Epilogue& e, float* y);

void small_conv(const SmallConvWeights& w, const float* x, int64_t images, const ConvShape& s, int64_t pad_bottom,
                int64_t pad_right, const Epilogue& e, float* y, SmallConvScratch& scratch, Isa isa, int threads,
                bool pool) {
  const SmallConvScratch::Key key{s, pad_bottom, pad_right, pool, w.id};
  if (!scratch.geometry || scratch.key != key) {
    scratch.geometry = std::make_shared<const Geometry>(geometry(w, s, pad_bottom, pad_right, pool));
    scratch.key = key;
  }
  const Geometry& g = *scratch.geometry;
  std::vector<float>& planes = scratch.planes;
  const int64_t pixels = pool ? (s.oh / 2) * (s.ow / 2) : s.pixels();
  const int64_t image_len = g.image_len(s.c), in_len = s.c * s.h * s.w, out_len = w.m * pixels;
  const bool avx512 = isa == Isa::kAvx512 && best_isa() == Isa::kAvx512;
  // 16 or more filters and a fused pool, on AVX-512: filters in the lanes, one task per 16 filters
  // of an image. (Without the pool, scattering every output pixel's 16 filters costs more than the
  // lanes the pixel kernel leaves idle: vgg features.0 9 -> 14 us.)
  const bool lanes_filters = avx512 && w.m >= 16 && pool;
  const int64_t block_filters = lanes_filters ? 16 : kFilters;
  const int64_t fblocks = (w.m + block_filters - 1) / block_filters, qblocks = lanes_filters ? 1 : g.blocks();
  const double flops = 2.0 * double(w.m) * double(w.steps) * double(s.pixels()) * double(images);
  // A team's start and barrier cost microseconds: a layer below ~2 MFLOP runs on one thread.
  const int nthreads = flops < 2e6 ? 1 : threads > 0 ? threads : omp_get_max_threads();
  // Whole images per thread when there are enough of them (each image's planes are laid and read
  // while in L1/L2); else (filter block, pixel blocks) tasks of the one image at a time.
  const bool by_image = images >= 2 * nthreads;
  const int64_t qtasks = (qblocks + kTaskBlocks - 1) / kTaskBlocks;
  const int team = nthreads > 1 && (by_image || fblocks * qtasks > 1) ? nthreads : 1;
  planes.resize(static_cast<size_t>(team * image_len));
  auto run_blocks = [&](const float* pl, float* out, int64_t f0, int64_t b0, int64_t b1) {
    if (lanes_filters) return small_conv_filters_avx512(w, g.offset.data(), g.wp, s, pl, f0, e, out);
    for (int64_t b = b0; b < b1;) {
      const size_t seg = static_cast<size_t>(b * kVectors);
      if (avx512) {
        // Up to 6 filters leave registers for two blocks at once (4 x F accumulators): each
        // broadcast weight then feeds 4 FMAs, and the loop overhead is paid once for both.
        const bool two = b + 1 < b1 && w.m - f0 <= 6;
        small_conv_block_avx512(w, g.offset.data(), &g.in[seg], &g.out[seg], &g.lanes[seg], pixels, pl, f0, e, pool,
                                out, two);
        b += two ? 2 : 1;
      } else {
        block_portable(w, g, pl, f0, b, e, pool, pixels, out);
        ++b;
      }
    }
  };
  auto lay = [&](int64_t img, float* pl) {
    for (int64_t c = 0; c < s.c; ++c) lay_plane(x + img * in_len + c * s.h * s.w, s, g, w.bf16, pl + c * g.plane_len);
  };
  auto image_task = [&](float* mine, int64_t img) {
    lay(img, mine);
    for (int64_t f0 = 0; f0 < w.m; f0 += block_filters) run_blocks(mine, y + img * out_len, f0, 0, qblocks);
  };
  auto block_task = [&](float* mine, int64_t img, int64_t task) {
    const int64_t b0 = task % qtasks * kTaskBlocks;
    run_blocks(mine, y + img * out_len, task / qtasks * block_filters, b0, std::min(qblocks, b0 + kTaskBlocks));
  };
  // One thread: no OpenMP region at all (libgomp allocates a team even for one thread: a few
  // hundred ns a layer at batch 1).
  if (team == 1) {
    for (int64_t img = 0; img < images; ++img) image_task(planes.data(), img);
    return;
  }
  // Each output's chain is the same whoever runs it: results do not depend on the split.
#pragma omp parallel num_threads(team)
  {
    float* mine = planes.data() + omp_get_thread_num() * image_len;
    if (by_image) {
#pragma omp for schedule(static)
      for (int64_t img = 0; img < images; ++img) image_task(mine, img);
    } else {
      for (int64_t img = 0; img < images; ++img) {
        // Every thread lays the image in its own buffer (a few KiB): no barrier between laying and use.
        lay(img, mine);
#pragma omp for schedule(static)
        for (int64_t task = 0; task < fblocks * qtasks; ++task) block_task(mine, img, task);
      }
    }
  }
}

}  // namespace eff::deft

#if defined(__x86_64__) && defined(__GNUC__)
#define EFF_DEFT_TARGET_ISA "avx512f,avx512bw,avx512vl,avx512dq,fma"
#include "deft/target_push.h"

namespace eff::deft {

namespace {

// V segments (one register block, or two when few filters leave registers for 4 x F accumulators).
template <int F, int V>
void block_avx512(const SmallConvWeights& w, const int64_t* offset, const int64_t* in, const int64_t* out,
                  const uint16_t* lanes, int64_t pixels, const float* planes, int64_t f0, const Epilogue& epilogue,
                  bool pool, float* y) {
  const Epilogue e = epilogue;  // a local copy: the stores to y could alias it, forcing reloads
  __m512 acc[F][V];
  for (int f = 0; f < F; ++f)
    for (int v = 0; v < V; ++v) acc[f][v] = _mm512_setzero_ps();
  const float* wt = w.w.data() + f0 / kFilters * w.steps * kFilters;
  for (int64_t st = 0; st < w.steps; ++st, wt += kFilters) {
    const int64_t off = offset[st];
    if (off < 0) {  // the zero half of an odd K's last bf16 pair: acc + (+0), as the reference
      for (int f = 0; f < F; ++f)
        for (int v = 0; v < V; ++v) acc[f][v] = _mm512_add_ps(acc[f][v], _mm512_setzero_ps());
      continue;
    }
    __m512 xv[V];
    for (int v = 0; v < V; ++v) xv[v] = _mm512_loadu_ps(planes + off + in[v]);
    for (int f = 0; f < F; ++f) {
      const __m512 wv = _mm512_set1_ps(wt[f]);
      for (int v = 0; v < V; ++v) acc[f][v] = _mm512_fmadd_ps(xv[v], wv, acc[f][v]);
    }
  }
  if (pool) {
    // Rows first (lane by lane), then each lane pair: max(a, b) is a > b ? a : b, as the
    // portable kernel's.
    const __m512i even = _mm512_set_epi32(15, 13, 11, 9, 7, 5, 3, 1, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(14, 12, 10, 8, 6, 4, 2, 0, 15, 13, 11, 9, 7, 5, 3, 1);
    for (int v = 0; v < V; v += 2) {  // segments (v, v + 1): the two conv rows of one pooled row
      const __mmask16 store = static_cast<__mmask16>((1u << (__builtin_popcount(lanes[v]) / 2)) - 1);
      for (int f = 0; f < F; ++f) {
        const __m512 bias = e.bias ? _mm512_set1_ps(e.bias[f0 + f]) : _mm512_setzero_ps();
        __m512 r[2];
        for (int h = 0; h < 2; ++h) {
          r[h] = acc[f][v + h];
          if (e.bias) r[h] = _mm512_add_ps(r[h], bias);
          if (e.relu) r[h] = _mm512_max_ps(r[h], _mm512_setzero_ps());
        }
        const __m512 rows = _mm512_max_ps(r[0], r[1]);  // r0 > r1 ? r0 : r1
        const __m512 m = _mm512_max_ps(_mm512_permutexvar_ps(even, rows), _mm512_permutexvar_ps(odd, rows));
        _mm512_mask_storeu_ps(y + (f0 + f) * pixels + out[v], store, m);
      }
    }
    return;
  }
  for (int f = 0; f < F; ++f) {
    const __m512 bias = e.bias ? _mm512_set1_ps(e.bias[f0 + f]) : _mm512_setzero_ps();
    for (int v = 0; v < V; ++v) {
      __m512 r = acc[f][v];
      if (e.bias) r = _mm512_add_ps(r, bias);
      if (e.relu) r = _mm512_max_ps(r, _mm512_setzero_ps());
      _mm512_mask_storeu_ps(y + (f0 + f) * pixels + out[v], static_cast<__mmask16>(lanes[v]), r);
    }
  }
}

// With a fused pool: 16 filters [f0, f0 + 16) in the lanes, R pixels of the two conv rows of one
// pooled row per register block, each input value broadcast. Same chains as the pixel kernel.
template <int R>
void filters_avx512(const SmallConvWeights& w, const int64_t* offset, int64_t wp, const ConvShape& s,
                    const float* planes, int64_t f0, const Epilogue& epilogue, float* y) {
  const Epilogue e = epilogue;
  const int64_t width = s.ow / 2 * 2, pairs = s.oh / 2;
  const int64_t out_w = s.ow / 2, pixels = (s.oh / 2) * out_w;
  const __mmask16 fm = static_cast<__mmask16>(w.m - f0 >= 16 ? 0xFFFF : (1u << (w.m - f0)) - 1);
  const __m512i index = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32(static_cast<int>(pixels)));
  const __m512 bias = e.bias ? _mm512_maskz_loadu_ps(fm, e.bias + f0) : _mm512_setzero_ps();
  const float* wf = w.w16.data() + f0 / 16 * w.steps * 16;
  float* yf = y + f0 * pixels;
  auto finish = [&](__m512 r) {
    if (e.bias) r = _mm512_add_ps(r, bias);
    if (e.relu) r = _mm512_max_ps(r, _mm512_setzero_ps());
    return r;
  };
  for (int64_t rp = 0; rp < pairs; ++rp) {
    const int64_t ya = 2 * rp, yb = ya + 1;
    for (int64_t ox0 = 0; ox0 < width; ox0 += R) {
      const int64_t n = std::min<int64_t>(R, width - ox0);
      const float* pa = planes + ya * wp + ox0;
      const float* pb = planes + yb * wp + ox0;
      __m512 a0[R], a1[R];
      for (int r = 0; r < R; ++r) a0[r] = a1[r] = _mm512_setzero_ps();
      for (int64_t st = 0; st < w.steps; ++st) {
        const int64_t off = offset[st];
        if (off < 0) {
          for (int r = 0; r < R; ++r) {
            a0[r] = _mm512_add_ps(a0[r], _mm512_setzero_ps());
            a1[r] = _mm512_add_ps(a1[r], _mm512_setzero_ps());
          }
          continue;
        }
        const __m512 wv = _mm512_loadu_ps(wf + st * 16);
        // One pointer per row and constant displacements: indexing pa[off + r] made the compiler
        // compute every address with its own lea/add, which compete with the FMAs for ports.
        const float* qa = pa + off;
        const float* qb = pb + off;
        for (int r = 0; r < R; ++r) {
          a0[r] = _mm512_fmadd_ps(_mm512_set1_ps(qa[r]), wv, a0[r]);
          a1[r] = _mm512_fmadd_ps(_mm512_set1_ps(qb[r]), wv, a1[r]);
        }
      }
      for (int64_t r = 0; r < n; r += 2) {
        const __m512 even = _mm512_max_ps(finish(a0[r]), finish(a1[r]));
        const __m512 odd = _mm512_max_ps(finish(a0[r + 1]), finish(a1[r + 1]));
        _mm512_mask_i32scatter_ps(yf + rp * out_w + (ox0 + r) / 2, fm, index, _mm512_max_ps(even, odd), 4);
      }
    }
  }
}

}  // namespace

void small_conv_filters_avx512(const SmallConvWeights& w, const int64_t* offset, int64_t wp, const ConvShape& s,
                               const float* planes, int64_t f0, const Epilogue& e, float* y) {
  // The run length that wastes the fewest lanes on the row width (ties: the longer run).
  const int64_t width = s.ow / 2 * 2;
  int best = 14;
  double best_use = 0;
  for (int r : {14, 12, 10, 8}) {
    const double use = double(width) / double((width + r - 1) / r * r);
    if (use > best_use + 1e-9) best = r, best_use = use;
  }
  switch (best) {
    case 8:
      return filters_avx512<8>(w, offset, wp, s, planes, f0, e, y);
    case 10:
      return filters_avx512<10>(w, offset, wp, s, planes, f0, e, y);
    case 12:
      return filters_avx512<12>(w, offset, wp, s, planes, f0, e, y);
    default:
      return filters_avx512<14>(w, offset, wp, s, planes, f0, e, y);
  }
}

void small_conv_block_avx512(const SmallConvWeights& w, const int64_t* offset, const int64_t* in, const int64_t* out,
                             const uint16_t* lanes, int64_t pixels, const float* planes, int64_t f0, const Epilogue& e,
                             bool pool, float* y, bool two) {
#define EFF_SMALL_BLOCK(F)                                                                              \
  return two ? block_avx512<F, 2 * kVectors>(w, offset, in, out, lanes, pixels, planes, f0, e, pool, y) \
             : block_avx512<F, kVectors>(w, offset, in, out, lanes, pixels, planes, f0, e, pool, y)
  switch (std::min<int64_t>(kFilters, w.m - f0)) {
    case 1:
      EFF_SMALL_BLOCK(1);
    case 2:
      EFF_SMALL_BLOCK(2);
    case 3:
      EFF_SMALL_BLOCK(3);
    case 4:
      EFF_SMALL_BLOCK(4);
    case 5:
      EFF_SMALL_BLOCK(5);
    case 6:
      EFF_SMALL_BLOCK(6);
    case 7:
      return block_avx512<7, kVectors>(w, offset, in, out, lanes, pixels, planes, f0, e, pool, y);
    default:
      return block_avx512<8, kVectors>(w, offset, in, out, lanes, pixels, planes, f0, e, pool, y);
  }
#undef EFF_SMALL_BLOCK
}

}  // namespace eff::deft

#include "deft/target_pop.h"
#else
namespace eff::deft {
void small_conv_block_avx512(const SmallConvWeights&, const int64_t*, const int64_t*, const int64_t*, const uint16_t*,
                             int64_t, const float*, int64_t, const Epilogue&, bool, float*, bool) {
  throw ShapeError("deft: AVX-512 is not available on this build");
}
void small_conv_filters_avx512(const SmallConvWeights&, const int64_t*, int64_t, const ConvShape&, const float*,
                               int64_t, const Epilogue&, float*) {
  throw ShapeError("deft: AVX-512 is not available on this build");
}
}  // namespace eff::deft
#endif
