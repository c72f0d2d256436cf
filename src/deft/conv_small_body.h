// The small-channel direct conv's register blocks (deft/conv_small.h) as a template over the
// family's vector backend V, as deft/gemm_body.h is for the GEMMs, leaving through the family's
// epilogue (body::finish). conv_small_avx512.cpp instantiates it (inside its target region) with
// the AVX-512 backend. The portable kernel (conv_small.cpp, block_scalar) does the same operations
// per output in plain scalar loops instead of block<body::Portable>: GCC 12 vectorises those and
// not the portable backend's 16-float structs (the instance was 2-5x slower on 8-filter blocks).
#pragma once

#include <cstdint>

#include "deft/conv_small.h"
#include "deft/gemm.h"
#include "deft/gemm_body.h"

namespace eff::deft::small {

constexpr int64_t kFilters = 8;     // filters per register block
constexpr int64_t kVectors = 2;     // 16-pixel row segments per register block
constexpr int64_t kTaskBlocks = 8;  // register blocks (of pixels) per task

// Filters [f0, f0 + F) by NV row segments (one register block, or two when few filters leave
// registers for 4 x F accumulators). Segment v's 16 inputs of step st start at planes + offset[st]
// + in[v]; its outputs go to y + filter * pixels + out[v], in the lanes of lanes[v] (the shortcut
// e.residual, if any, laid out as y). With `pool` (and no residual), segments (v, v + 1) are the two
// conv rows of one pooled row, starting on an even column.
template <class V, int F, int NV, bool RESIDUAL>
void block(const V& v, const SmallConvWeights& w, const int64_t* offset, const int64_t* in, const int64_t* out,
           const uint16_t* lanes, int64_t pixels, const float* planes, int64_t f0, const Epilogue& epilogue, bool pool,
           float* y) {
  using Vec = typename V::F;
  using Mask = typename V::Mask;
  const Epilogue e = epilogue;  // a local copy: the stores to y could alias it, forcing reloads
  Vec acc[F][NV];
  for (int f = 0; f < F; ++f)
    for (int s = 0; s < NV; ++s) acc[f][s] = v.zero();
  const float* wt = w.w.data() + f0 / kFilters * w.steps * kFilters;
  for (int64_t st = 0; st < w.steps; ++st, wt += kFilters) {
    const int64_t off = offset[st];
    if (off < 0) {  // the zero half of an odd K's last bf16 pair: acc + (+0), as the reference
      for (int f = 0; f < F; ++f)
        for (int s = 0; s < NV; ++s) acc[f][s] = v.add(acc[f][s], v.zero());
      continue;
    }
    Vec xv[NV];
    for (int s = 0; s < NV; ++s) xv[s] = v.load(planes + off + in[s]);
    for (int f = 0; f < F; ++f) {
      const Vec wv = v.bcast(wt[f]);
      for (int s = 0; s < NV; ++s) acc[f][s] = v.fma(xv[s], wv, acc[f][s]);
    }
  }
  if (pool) {
    // Rows first (lane by lane), then each lane pair: max(a, b) is a > b ? a : b.
    for (int s = 0; s < NV; s += 2) {
      const Mask store = V::prefix(__builtin_popcount(lanes[s]) / 2);
      for (int f = 0; f < F; ++f) {
        const Vec bias = v.bcast(e.bias ? e.bias[f0 + f] : 0.f);
        const Vec* b = e.bias ? &bias : nullptr;
        const Vec rows = v.max(body::finish(v, acc[f][s], b, nullptr, store, e.relu),
                               body::finish(v, acc[f][s + 1], b, nullptr, store, e.relu));
        v.store(y + (f0 + f) * pixels + out[s], v.max_lane_pairs(rows), store);
      }
    }
    return;
  }
  for (int f = 0; f < F; ++f) {
    const Vec bias = v.bcast(e.bias ? e.bias[f0 + f] : 0.f);
    for (int s = 0; s < NV; ++s) {
      const int64_t at = (f0 + f) * pixels + out[s];
      body::finish_store(v, y + at, acc[f][s], static_cast<Mask>(lanes[s]), e.bias ? &bias : nullptr,
                         RESIDUAL ? e.residual + at : nullptr, e.relu);
    }
  }
}

template <class V, bool RESIDUAL>
void blocks_of(const V& v, const SmallConvWeights& w, const int64_t* offset, const int64_t* in, const int64_t* out,
               const uint16_t* lanes, int64_t pixels, const float* planes, int64_t f0, const Epilogue& e, bool pool,
               float* y, bool two) {
#define EFF_SMALL_BLOCK(F)                                                                                       \
  return two ? block<V, F, 2 * kVectors, RESIDUAL>(v, w, offset, in, out, lanes, pixels, planes, f0, e, pool, y) \
             : block<V, F, kVectors, RESIDUAL>(v, w, offset, in, out, lanes, pixels, planes, f0, e, pool, y)
  switch (f0 + kFilters <= w.m ? kFilters : w.m - f0) {
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
      return block<V, 7, kVectors, RESIDUAL>(v, w, offset, in, out, lanes, pixels, planes, f0, e, pool, y);
    default:
      return block<V, 8, kVectors, RESIDUAL>(v, w, offset, in, out, lanes, pixels, planes, f0, e, pool, y);
  }
#undef EFF_SMALL_BLOCK
}

// The register block of filters [f0, min(m, f0 + 8)), or of two pixel blocks (`two`, up to 6 filters).
template <class V>
void blocks(const V& v, const SmallConvWeights& w, const int64_t* offset, const int64_t* in, const int64_t* out,
            const uint16_t* lanes, int64_t pixels, const float* planes, int64_t f0, const Epilogue& e, bool pool,
            float* y, bool two) {
  // The shortcut a template argument: a run-time test per store made the loop 15% slower
  // (vgg features.0, where the epilogue is a large share).
  if (e.residual && !pool) return blocks_of<V, true>(v, w, offset, in, out, lanes, pixels, planes, f0, e, pool, y, two);
  return blocks_of<V, false>(v, w, offset, in, out, lanes, pixels, planes, f0, e, pool, y, two);
}

// The instances (conv_small.cpp, conv_small_avx512.cpp): blocks<V> of each backend, and the
// AVX-512 kernel that puts 16 filters in the lanes for a fused pool.
void blocks_portable(const SmallConvWeights& w, const int64_t* offset, const int64_t* in, const int64_t* out,
                     const uint16_t* lanes, int64_t pixels, const float* planes, int64_t f0, const Epilogue& e,
                     bool pool, float* y, bool two);
void blocks_avx512(const SmallConvWeights& w, const int64_t* offset, const int64_t* in, const int64_t* out,
                   const uint16_t* lanes, int64_t pixels, const float* planes, int64_t f0, const Epilogue& e, bool pool,
                   float* y, bool two);
void filters_avx512(const SmallConvWeights& w, const int64_t* offset, int64_t wp, const ConvShape& s,
                    const float* planes, int64_t f0, const Epilogue& e, float* y);

}  // namespace eff::deft::small
