// The AMX-BF16 direct convolution (deft/conv_amx.h). The tile code is compiled for AMX and
// AVX512-BF16 whatever the build's -march (target pragmas, as deft/gemm_avx512.cpp does) and only
// called after amx_available() said yes.
#include "deft/conv_amx.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "core/error.h"

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#define EFF_DEFT_AMX 1
#endif

namespace eff::deft {

namespace {

constexpr int64_t kBlock = 32;  // filters and pixels per block: 2 x 2 tiles of 16 x 16

}  // namespace

#if EFF_DEFT_AMX
bool amx_available() {
  static const bool ok = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    const bool amx_bf16 = d & (1u << 22), amx_tile = d & (1u << 24);
    __builtin_cpu_init();
    if (!amx_bf16 || !amx_tile || !__builtin_cpu_supports("avx512bf16") || !__builtin_cpu_supports("avx512bw"))
      return false;
    // Linux keeps the 8 KiB tile state off until a process asks for it (arch/x86 xstate.c).
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return ok;
}
#else
bool amx_available() {
  return false;
}
#endif

bool amx_conv_fits(const ConvShape& s) {
  return s.sh >= 1 && s.sw >= 1;
}

AmxConvWeights amx_pack_conv(const float* w, int64_t m, const std::vector<int32_t>& synapses, int64_t c, int64_t kh,
                             int64_t kw) {
  if (m <= 0 || c <= 0 || kh <= 0 || kw <= 0) throw ShapeError("deft: packing an empty conv for AMX");
  AmxConvWeights p;
  p.m = m, p.m_pad = round_up(m, kBlock), p.c = c, p.c_pad = round_up(c, 32), p.kh = kh, p.kw = kw;
  p.w.assign(static_cast<size_t>(p.m_pad * p.row()), 0);
  const int64_t taps = kh * kw, kept = static_cast<int64_t>(synapses.size());
  for (int64_t f = 0; f < m; ++f)
    for (int64_t q = 0; q < kept; ++q) {
      const int64_t k = synapses[q], ch = k / taps, t = k % taps;
      p.w[p.tile_offset(f / 16 * 16, t, ch / 32) + f % 16 * 32 + ch % 32] = to_deft16(w[f * kept + q]);
    }
  return p;
}

}  // namespace eff::deft

#if EFF_DEFT_AMX

#define EFF_DEFT_TARGET_ISA "avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,amx-tile,amx-bf16,fma"
#include "deft/target_push.h"
// The family's backend and epilogue, inside the target region so their functions build for it.
#include "deft/gemm_amx_tiles.h"
#include "deft/gemm_body.h"
#include "deft/gemm_vec_avx512.h"

namespace eff::deft {

namespace {

// Tiles 0-3: C (16 filters x 16 pixels fp32); 4-5: A (16 filters x 32 channels bf16);
// 6-7: B (16 channel pairs x 16 pixels): every tile is 16 rows of 64 bytes (body::configure_tiles).

// Stride s is folded into the layout: the padded input is split into s x s phase planes (phase
// (py % sh, px % sw) holds the pixels of those residues, at (py / sh, px / sw)), so tap (ky, kx) of
// output pixel (oy, ox) reads phase ((ky dh) % sh, (kx dw) % sw) at (oy + ky dh / sh, ox + kx dw / sw):
// stride 1 again inside one phase, and 16 consecutive pixels are still one tile row.
struct Geometry {
  int64_t images = 1;
  int64_t wp = 0, hp = 0;           // padded input
  int64_t wps = 0, hps = 0;         // one phase plane; pixels are numbered q = oy * wps + ox
  int64_t phase_len = 0;            // elements of one phase plane (64-byte multiple)
  int64_t plane_len = 0;            // elements of one channel pair's phases (+ the tail tiles read)
  int64_t q = 0, q_pad = 0;         // pixels along the phase width, padded to blocks
  std::vector<int64_t> tap_offset;  // plane index of tap t relative to the output pixel's q
  std::vector<char> phase_read;     // [sh * sw]: some tap reads this phase (1x1 stride 2: one of 4)
  // Stride > 1: where the 16 input columns [x0, x0 + 16) of a row go. Phase p takes every sw-th
  // lane (`lanes`, `count` of them), which land on consecutive columns of its phase row from
  // `dest` on (phase p's offset included). Worked out once per call: the divisions by the stride
  // per pixel, then per 16 pixels, were most of a strided layer's time (resnet's shortcuts).
  struct ColumnRun {
    int64_t x0, dest;
    uint32_t lanes, count;
  };
  std::vector<ColumnRun> column_runs;  // by x0, only the column phases some tap reads
  int64_t image_len(const AmxConvWeights& w) const { return w.c_pad / 2 * plane_len; }
};

constexpr int64_t kGroup = 8;                         // pixel blocks per task
constexpr int64_t kAccStride = kGroup * kBlock + 16;  // floats; off a power of two for L1's sets

// 32 filters [f0, f0 + 32) by 32 pixels [q0, q0 + 32) of one image, over every tap of the channel
// block cb, into the task's accumulator columns [a0, a0 + 32); the partial sums of earlier channel
// blocks come back from it.
void block(const AmxConvWeights& w, const uint32_t* planes, const Geometry& g, float* acc, int64_t a0, int64_t f0,
           int64_t q0, int64_t cb) {
  float* o = acc + a0;
  constexpr int64_t o_stride = kAccStride * 4;
  if (cb == 0) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  } else {
    _tile_loadd(0, o, o_stride);
    _tile_loadd(1, o + 16, o_stride);
    _tile_loadd(2, o + 16 * kAccStride, o_stride);
    _tile_loadd(3, o + 16 * kAccStride + 16, o_stride);
  }
  const int64_t b_stride = g.plane_len * 4, next_filters = w.tile_offset(16, 0, 0);
  const uint32_t* b = planes + cb * 16 * g.plane_len + q0;
  const int64_t taps = static_cast<int64_t>(g.tap_offset.size());
  for (int64_t t = 0; t < taps; ++t) {
    const uint16_t* at = w.w.data() + w.tile_offset(f0, t, cb);
    const uint32_t* bt = b + g.tap_offset[t];
    // Tiles are not renamed: a load waits for the last product reading its tile, so loads sit
    // right before their first use rather than all up front.
    _tile_loadd(4, at, 64);
    _tile_loadd(6, bt, b_stride);
    _tile_dpbf16ps(0, 4, 6);
    _tile_loadd(7, bt + 16, b_stride);
    _tile_dpbf16ps(1, 4, 7);
    _tile_loadd(5, at + next_filters, 64);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, o, o_stride);
  _tile_stored(1, o + 16, o_stride);
  _tile_stored(2, o + 16 * kAccStride, o_stride);
  _tile_stored(3, o + 16 * kAccStride + 16, o_stride);
}

// The bias, the residual (r: that image's shortcut, laid out as y, or null) and ReLU while a
// task's valid pixels (ox < OW) of filters [f0, f1) are copied out of its accumulator (pixels
// [qa, qe) of one image, column 0 = pixel qa) into y (that image's output). Each output is
// ((acc + bias) + r) then max(., 0): the unfused Add and Relu nodes' sums, bit for bit.
void epilogue(const float* acc, const Geometry& g, const ConvShape& s, const Epilogue& e, int64_t f0, int64_t f1,
              int64_t qa, int64_t qe, float* y, const float* r) {
  // The task's row segments (at most 16 pixels each) once for all its filters: where each starts in
  // the accumulator and in a filter's output plane, and which lanes are valid. Worked out per filter
  // (divisions, bounds) this loop cost a third of the epilogue (resnet's layers 15-35% faster).
  // Every segment holds at least one of the task's at most kGroup * kBlock pixels.
  struct Segment {
    int32_t src, dst;
    __mmask16 mask;
  };
  Segment seg[kGroup * kBlock];
  int n = 0;
  for (int64_t oy = qa / g.wps; oy * g.wps < qe; ++oy) {
    const int64_t x0 = std::max<int64_t>(0, qa - oy * g.wps), x1 = std::min(s.ow, qe - oy * g.wps);
    for (int64_t ox = x0; ox < x1; ox += 16)
      seg[n++] = {static_cast<int32_t>(oy * g.wps + ox - qa), static_cast<int32_t>(oy * s.ow + ox),
                  x1 - ox >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (x1 - ox)) - 1)};
  }
  // The family's epilogue (deft/gemm_body.h); the bias is added as 0 where there is none.
  const body::Avx512 v;
  const int64_t plane = s.oh * s.ow;
  for (int64_t f = f0; f < f1; ++f) {
    const __m512 bias = v.bcast(e.bias ? e.bias[f] : 0.f);
    const float* src = acc + (f - f0) * kAccStride;
    float* dst = y + f * plane;
    const float* res = r ? r + f * plane : nullptr;
    for (int k = 0; k < n; ++k)
      body::finish_store(v, dst + seg[k].dst, v.load(src + seg[k].src, seg[k].mask), seg[k].mask, &bias,
                         res ? res + seg[k].dst : nullptr, e.relu);
  }
}

// Channel pair cp of one image into its phase planes (borders and channels >= C stay 0), rounded
// to bf16 by vcvtneps2bf16 (nearest even; denormals read as 0, as the tile unit reads them).
// Stride > 1 deinterleaves each row into its column phases: a compress of phase p's lanes is a run
// of consecutive phase columns (g.column_runs).
void lay_pair(const float* x, const ConvShape& s, const Geometry& g, int64_t cp, uint32_t* plane) {
  const int64_t hw = s.h * s.w;
  const float* lo_plane = x + 2 * cp * hw;
  const float* hi_plane = 2 * cp + 1 < s.c ? lo_plane + hw : nullptr;
  const bool unit = s.sh == 1 && s.sw == 1;
  int64_t row_phase = s.pad_top % s.sh, phase_y = s.pad_top / s.sh;  // of py = y + pad_top
  for (int64_t y = 0; y < s.h; ++y) {
    const int64_t py = y + s.pad_top;
    const char* read = g.phase_read.data() + row_phase * s.sw;
    uint32_t* phase_row = plane + row_phase * s.sw * g.phase_len + phase_y * g.wps;
    if (++row_phase == s.sh) row_phase = 0, ++phase_y;
    if (std::find(read, read + s.sw, 1) == read + s.sw) continue;  // no tap reads this row
    uint32_t* dst = unit ? plane + py * g.wp + s.pad_left : nullptr;
    size_t run = 0;
    for (int64_t x0 = 0; x0 < s.w; x0 += 16) {
      const __mmask16 mask = s.w - x0 >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (s.w - x0)) - 1);
      const __m512 lo = _mm512_maskz_loadu_ps(mask, lo_plane + y * s.w + x0);
      const __m512 hi = hi_plane ? _mm512_maskz_loadu_ps(mask, hi_plane + y * s.w + x0) : _mm512_setzero_ps();
      const __m512i lo32 = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo));
      const __m512i hi32 = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(hi));
      const __m512i pairs = _mm512_or_si512(lo32, _mm512_slli_epi32(hi32, 16));
      if (unit) {
        _mm512_mask_storeu_epi32(dst + x0, mask, pairs);
        continue;
      }
      for (; run < g.column_runs.size() && g.column_runs[run].x0 == x0; ++run) {
        const Geometry::ColumnRun& r = g.column_runs[run];
        _mm512_mask_storeu_epi32(phase_row + r.dest, __mmask16((1u << r.count) - 1),
                                 _mm512_maskz_compress_epi32(__mmask16(r.lanes), pairs));
      }
    }
  }
}

}  // namespace

void amx_conv(const AmxConvWeights& w, const float* x, int64_t images, const ConvShape& s, int64_t pad_bottom,
              int64_t pad_right, const Epilogue& e, float* y, AmxConvScratch& scratch, int threads) {
  if (!amx_conv_fits(s) || s.c != w.c || s.kh != w.kh || s.kw != w.kw || images <= 0)
    throw ShapeError("deft: the AMX conv does not fit this shape");
  Geometry g;
  g.images = images;
  g.wp = s.w + s.pad_left + pad_right;
  g.hp = s.h + s.pad_top + pad_bottom;
  g.wps = (g.wp + s.sw - 1) / s.sw;
  g.hps = (g.hp + s.sh - 1) / s.sh;
  g.phase_len = round_up(g.hps * g.wps, 16);
  g.q = s.oh * g.wps;
  g.q_pad = round_up(g.q, kBlock);
  int64_t last_read = s.sh * s.sw * g.phase_len;
  g.phase_read.assign(static_cast<size_t>(s.sh * s.sw), 0);
  for (int64_t ky = 0; ky < s.kh; ++ky)
    for (int64_t kx = 0; kx < s.kw; ++kx) {
      const int64_t dy = ky * s.dh, dx = kx * s.dw;
      const int64_t offset = (dy % s.sh * s.sw + dx % s.sw) * g.phase_len + dy / s.sh * g.wps + dx / s.sw;
      g.tap_offset.push_back(offset);
      g.phase_read[static_cast<size_t>(dy % s.sh * s.sw + dx % s.sw)] = 1;
      last_read = std::max(last_read, offset + g.q_pad);
    }
  if (s.sh > 1 || s.sw > 1)
    for (int64_t x0 = 0; x0 < s.w; x0 += 16) {
      const int64_t n = std::min<int64_t>(16, s.w - x0);
      for (int64_t p = 0; p < s.sw; ++p) {
        // Some row phase reads column phase p (rows no tap reads are skipped before this).
        bool read = false;
        for (int64_t rp = 0; rp < s.sh; ++rp) read = read || g.phase_read[static_cast<size_t>(rp * s.sw + p)];
        const int64_t j0 = (p - (x0 + s.pad_left) % s.sw + s.sw) % s.sw;  // first lane of phase p
        Geometry::ColumnRun r{x0, p * g.phase_len + (x0 + j0 + s.pad_left) / s.sw, 0, 0};
        for (int64_t j = j0; j < n; j += s.sw) r.lanes |= 1u << j, ++r.count;
        if (read && r.count) g.column_runs.push_back(r);
      }
    }
  // Pixels past the last output row read past their phase: those tails stay 0.
  g.plane_len = round_up(last_read, 16);
  const std::array<int64_t, 7> key{images, w.c_pad, g.wp, g.hp, g.plane_len, s.pad_top, s.pad_left};
  if (scratch.planes_key != key) {
    scratch.planes.assign(static_cast<size_t>(images * g.image_len(w)), 0);
    scratch.planes_key = key;
  }

  const int64_t image_len = g.image_len(w);
  // Images go in chunks whose planes fit in a share of L2 (laid, then read back right away; all
  // 32 images of a batch would spill to L3). Only the laying of a chunk ends in a barrier: a thread
  // done with its tasks lays the next chunk's planes (other memory) while the other finishes.
  constexpr int64_t kChunkBytes = 512 << 10;
  const int64_t chunk = std::clamp<int64_t>(kChunkBytes / (image_len * 4), 1, images);
  const int64_t fblocks = w.m_pad / kBlock, qblocks = g.q_pad / kBlock, cblocks = w.c_pad / 32;
  const int64_t pairs = (s.c + 1) / 2, in_len = s.c * s.h * s.w, out_len = w.m * s.oh * s.ow;
  const double flops = 2.0 * double(w.m) * double(w.row()) * double(g.q) * double(images);
  // A team's start and barriers cost a few microseconds on a quiet machine: the shipped models'
  // 3x3 layers (14-60 MFLOP, 15-60 us here) gain from two threads, the 1-channel first layers not.
  const int nthreads = flops < 1e7 ? 1 : threads > 0 ? threads : omp_get_max_threads();
  const int team = nthreads > 1 && fblocks * images * qblocks > 1 ? nthreads : 1;
  scratch.acc.resize(static_cast<size_t>(team * kBlock * kAccStride));
  uint32_t* planes = scratch.planes.data();
#pragma omp parallel num_threads(team) if (team > 1)
  {
    const int me = omp_get_thread_num();
    float* acc = scratch.acc.data() + me * kBlock * kAccStride;
    body::configure_tiles(16);
    for (int64_t i0 = 0; i0 < images; i0 += chunk) {
      const int64_t n = std::min(chunk, images - i0);
#pragma omp for schedule(static)
      for (int64_t job = 0; job < n * pairs; ++job) {
        const int64_t img = i0 + job / pairs, cp = job % pairs;
        lay_pair(x + img * in_len, s, g, cp, planes + img * image_len + cp * g.plane_len);
      }
      // A task: 32 filters by up to kGroup consecutive blocks of 32 pixels, numbered across the
      // chunk (image by image), so a small image's few blocks share a task with the next image's
      // and the weights of a channel block serve all of them from L1. Tasks run filter block
      // outer, so a thread's consecutive tasks reuse one filter block's weights across images;
      // channel blocks are the outer loop inside a task, so the 32 x taps x 32 weights of one
      // channel block stay in L1 while the pixel blocks stream past them. Each output sums its
      // channel blocks and taps in one fixed order whatever the thread count, batch or chunk.
      const int64_t all_blocks = n * qblocks, groups = (all_blocks + kGroup - 1) / kGroup;
      const uint32_t* chunk_planes = planes + i0 * image_len;
      float* chunk_y = y + i0 * out_len;
#pragma omp for schedule(static) nowait
      for (int64_t task = 0; task < fblocks * groups; ++task) {
        const int64_t f0 = task / groups * kBlock, b0 = task % groups * kGroup, b1 = std::min(all_blocks, b0 + kGroup);
        for (int64_t cb = 0; cb < cblocks; ++cb)
          for (int64_t b = b0; b < b1; ++b)
            block(w, chunk_planes + b / qblocks * image_len, g, acc, (b - b0) * kBlock, f0, b % qblocks * kBlock, cb);
        // The epilogue image by image: blocks [first, last) of the group belong to image img.
        for (int64_t first = b0; first < b1;) {
          const int64_t img = first / qblocks, last = std::min(b1, (img + 1) * qblocks);
          epilogue(acc + (first - b0) * kBlock, g, s, e, f0, std::min(w.m, f0 + kBlock), first % qblocks * kBlock,
                   std::min(g.q, (last - img * qblocks) * kBlock), chunk_y + img * out_len,
                   e.residual ? e.residual + (i0 + img) * out_len : nullptr);
          first = last;
        }
      }
    }
    body::release_tiles();
  }
}

}  // namespace eff::deft

#include "deft/target_pop.h"

#else

namespace eff::deft {

void amx_conv(const AmxConvWeights&, const float*, int64_t, const ConvShape&, int64_t, int64_t, const Epilogue&, float*,
              AmxConvScratch&, int) {
  throw ShapeError("deft: AMX is not available on this build");
}

}  // namespace eff::deft

#endif
