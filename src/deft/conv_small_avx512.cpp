// The AVX-512 instance of the small-channel conv's register-block template (deft/conv_small_body.h
// with deft/gemm_vec_avx512.h), and the filters-in-lanes kernel for a fused pool, which only this
// backend has (it scatters 16 filters' outputs per vector). Compiled for AVX-512 whatever the
// build's -march, called only where best_isa() has it.
#include <algorithm>
#include <cstdint>

// Every header with code of its own before the target region, so none of it is built for AVX-512.
#include "core/error.h"
#include "deft/conv_small.h"
#include "deft/gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define EFF_DEFT_TARGET_ISA "avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma"
#include "deft/target_push.h"
// The templates and the family's backend, inside the target region so their functions build for it.
#include "deft/conv_small_body.h"
#include "deft/gemm_vec_avx512.h"

namespace eff::deft::small {

namespace {

// With a fused pool: 16 filters [f0, f0 + 16) in the lanes, R pixels of the two conv rows of one
// pooled row per register block, each input value broadcast. Same chains as the pixel kernel.
template <int R>
void filters_lanes(const SmallConvWeights& w, const int64_t* offset, int64_t wp, const ConvShape& s,
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
  const body::Avx512 v;
  auto finish = [&](__m512 r) { return body::finish(v, r, e.bias ? &bias : nullptr, nullptr, fm, e.relu); };
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

void filters_avx512(const SmallConvWeights& w, const int64_t* offset, int64_t wp, const ConvShape& s,
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
      return filters_lanes<8>(w, offset, wp, s, planes, f0, e, y);
    case 10:
      return filters_lanes<10>(w, offset, wp, s, planes, f0, e, y);
    case 12:
      return filters_lanes<12>(w, offset, wp, s, planes, f0, e, y);
    default:
      return filters_lanes<14>(w, offset, wp, s, planes, f0, e, y);
  }
}

void blocks_avx512(const SmallConvWeights& w, const int64_t* offset, const int64_t* in, const int64_t* out,
                   const uint16_t* lanes, int64_t pixels, const float* planes, int64_t f0, const Epilogue& e, bool pool,
                   float* y, bool two) {
  blocks(body::Avx512{}, w, offset, in, out, lanes, pixels, planes, f0, e, pool, y, two);
}

}  // namespace eff::deft::small

#include "deft/target_pop.h"
#else
#include "deft/conv_small_body.h"

namespace eff::deft::small {
void blocks_avx512(const SmallConvWeights&, const int64_t*, const int64_t*, const int64_t*, const uint16_t*, int64_t,
                   const float*, int64_t, const Epilogue&, bool, float*, bool) {
  throw ShapeError("deft: AVX-512 is not available on this build");
}
void filters_avx512(const SmallConvWeights&, const int64_t*, int64_t, const ConvShape&, const float*, int64_t,
                    const Epilogue&, float*) {
  throw ShapeError("deft: AVX-512 is not available on this build");
}
}  // namespace eff::deft::small
#endif
