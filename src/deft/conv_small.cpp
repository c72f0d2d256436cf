// The small-channel direct conv (deft/conv_small.h): plane layout, weights, the driver and the
// portable instance of the register-block template (deft/conv_small_body.h); the AVX-512 instance
// is in conv_small_avx512.cpp.
#include "deft/conv_small.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "deft/conv_small_body.h"

namespace eff::deft {

namespace {

using small::kFilters;
using small::kTaskBlocks;
using small::kVectors;

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

void small_conv(const SmallConvWeights& w, const float* x, int64_t images, const ConvShape& s, int64_t pad_bottom,
                int64_t pad_right, const Epilogue& e, float* y, SmallConvScratch& scratch, Isa isa, int threads,
                bool pool) {
  if (pool && e.residual) throw ShapeError("deft: the small conv fuses a residual or a pool, not both");
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
  auto run_blocks = [&](const float* pl, int64_t img, int64_t f0, int64_t b0, int64_t b1) {
    float* out = y + img * out_len;
    Epilogue ei = e;  // the image's shortcut
    if (e.residual) ei.residual = e.residual + img * out_len;
    if (lanes_filters) return small::filters_avx512(w, g.offset.data(), g.wp, s, pl, f0, ei, out);
    for (int64_t b = b0; b < b1;) {
      const size_t seg = static_cast<size_t>(b * kVectors);
      // Up to 6 filters leave registers for two blocks at once (4 x F accumulators): each
      // broadcast weight then feeds 4 FMAs, and the loop overhead is paid once for both.
      const bool two = b + 1 < b1 && w.m - f0 <= 6;
      (avx512 ? small::blocks_avx512 : small::blocks_portable)(w, g.offset.data(), &g.in[seg], &g.out[seg],
                                                               &g.lanes[seg], pixels, pl, f0, ei, pool, out, two);
      b += two ? 2 : 1;
    }
  };
  auto lay = [&](int64_t img, float* pl) {
    for (int64_t c = 0; c < s.c; ++c) lay_plane(x + img * in_len + c * s.h * s.w, s, g, w.bf16, pl + c * g.plane_len);
  };
  auto image_task = [&](float* mine, int64_t img) {
    lay(img, mine);
    for (int64_t f0 = 0; f0 < w.m; f0 += block_filters) run_blocks(mine, img, f0, 0, qblocks);
  };
  auto block_task = [&](float* mine, int64_t img, int64_t task) {
    const int64_t b0 = task % qtasks * kTaskBlocks;
    run_blocks(mine, img, task / qtasks * block_filters, b0, std::min(qblocks, b0 + kTaskBlocks));
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

namespace eff::deft::small {

namespace {

float finish(float acc, const Epilogue& e, int64_t i, const float* residual) {
  if (e.bias) acc += e.bias[i];
  if (residual) acc += *residual;
  if (e.relu) acc = acc > 0.f ? acc : 0.f;
  return acc;
}

// Filters [f0, f0 + 8) x the kVectors segments of one register block: the portable instance keeps
// plain scalar loops over arrays rather than block<body::Portable, ...>. Those are the same
// operations per output (same bits: DeftConvSmall), but GCC 12 vectorises these loops and not the
// template's 16-float structs returned by value: the template instance ran 2-5x slower on blocks of
// 8 filters (lenet5 conv2, vgg features.0; -march=native on this CPU, one thread).
void block_scalar(const SmallConvWeights& w, const int64_t* offset, const int64_t* in, const int64_t* out,
                  const uint16_t* lanes, int64_t pixels, const float* planes, int64_t f0, const Epilogue& e, bool pool,
                  float* y) {
  float acc[kFilters][kVectors][16] = {};
  const float* wt = w.w.data() + f0 / kFilters * w.steps * kFilters;
  for (int64_t st = 0; st < w.steps; ++st) {
    const int64_t off = offset[st];
    for (int64_t f = 0; f < kFilters; ++f)
      for (int64_t v = 0; v < kVectors; ++v) {
        if (off < 0) {
          for (float& a : acc[f][v]) a += 0.f;
          continue;
        }
        const float wv = wt[st * kFilters + f];
        const float* xp = planes + off + in[v];
        for (int64_t t = 0; t < 16; ++t) acc[f][v][t] = std::fma(xp[t], wv, acc[f][v][t]);
      }
  }
  for (int64_t f = 0; f < kFilters && f0 + f < w.m; ++f) {
    float* dst = y + (f0 + f) * pixels;
    if (pool) {  // the AVX-512 kernel's order: rows first, then the column pair
      for (int64_t t = 0; t < 16; t += 2) {
        if (!(lanes[0] >> t & 1)) break;
        float m[2];
        for (int64_t d = 0; d < 2; ++d) {
          const float a = finish(acc[f][0][t + d], e, f0 + f, nullptr);
          const float c = finish(acc[f][1][t + d], e, f0 + f, nullptr);
          m[d] = a > c ? a : c;
        }
        dst[out[0] + t / 2] = m[0] > m[1] ? m[0] : m[1];
      }
      continue;
    }
    const float* r = e.residual ? e.residual + (f0 + f) * pixels : nullptr;
    for (int64_t v = 0; v < kVectors; ++v)
      for (int64_t t = 0; t < 16; ++t)
        if (lanes[v] >> t & 1) dst[out[v] + t] = finish(acc[f][v][t], e, f0 + f, r ? r + out[v] + t : nullptr);
  }
}

}  // namespace

void blocks_portable(const SmallConvWeights& w, const int64_t* offset, const int64_t* in, const int64_t* out,
                     const uint16_t* lanes, int64_t pixels, const float* planes, int64_t f0, const Epilogue& e,
                     bool pool, float* y, bool two) {
  for (int64_t b = 0; b < (two ? 2 : 1); ++b)
    block_scalar(w, offset, in + b * kVectors, out + b * kVectors, lanes + b * kVectors, pixels, planes, f0, e, pool,
                 y);
}

}  // namespace eff::deft::small
