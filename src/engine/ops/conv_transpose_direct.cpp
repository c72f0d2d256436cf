#include "engine/ops/conv_transpose_direct.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/ops/dnnl_common.h"

// The 16-lane vector helpers below are internal (anonymous namespace, inlined): their calling
// convention without AVX-512 (the sanitizer build is not -march=native) concerns no other code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace eff::ops {

namespace {

using v16 = float __attribute__((vector_size(64)));
constexpr int64_t kLanes = 16;
constexpr int64_t kChannelStep = 8;  // output channels per step of the register-blocked loop

inline v16 load16(const float* p) {
  v16 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Lanes 0-7 (low) or 8-15 (high) of a and b, interleaved: a0 b0 a1 b1 ... GCC and clang spell the
// two-vector shuffle differently.
inline v16 interleave_low(v16 a, v16 b) {
#if defined(__clang__)
  return __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
#else
  using i16 = int32_t __attribute__((vector_size(64)));
  return __builtin_shuffle(a, b, i16{0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23});
#endif
}

inline v16 interleave_high(v16 a, v16 b) {
#if defined(__clang__)
  return __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
#else
  using i16 = int32_t __attribute__((vector_size(64)));
  return __builtin_shuffle(a, b, i16{8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31});
#endif
}

// 2-wide kernels (2x2 stride 2, the usual upsampling), eight output channels at a time: 16
// accumulators of 16 lanes stay in registers while the input channels stream past, where the
// plain loop below loads and stores its accumulator row for every input channel.
void patches_kw2_block(const float* x, const float* w, const float* bias, float* y, const PatchGeometry& g,
                       const FusedActivation& act, int64_t n, int64_t m0, int64_t i, int64_t a) {
  const int64_t oh = g.h * g.kh, ow = g.w * 2;
  int64_t j0 = 0;
  for (; j0 + kLanes <= g.w; j0 += kLanes) {
    v16 acc[kChannelStep][2];
#pragma GCC unroll 8
    for (int64_t mb = 0; mb < kChannelStep; ++mb) {
      acc[mb][0] = v16{};
      acc[mb][1] = v16{};
    }
    for (int64_t c = 0; c < g.c; ++c) {
      const v16 xv = load16(x + ((n * g.c + c) * g.h + i) * g.w + j0);
      const float* wc = w + ((c * g.m + m0) * g.kh + a) * 2;
#pragma GCC unroll 8
      for (int64_t mb = 0; mb < kChannelStep; ++mb) {
        acc[mb][0] += xv * wc[mb * g.kh * 2];
        acc[mb][1] += xv * wc[mb * g.kh * 2 + 1];
      }
    }
    for (int64_t mb = 0; mb < kChannelStep; ++mb) {
      const float b = bias ? bias[m0 + mb] : 0.f;
      float* out = y + ((n * g.m + m0 + mb) * oh + i * g.kh + a) * ow + 2 * j0;
      v16 lo = interleave_low(acc[mb][0], acc[mb][1]) + b;  // columns j, kernel columns 0, 1
      v16 hi = interleave_high(acc[mb][0], acc[mb][1]) + b;
      if (act.kind == FusedActivation::Kind::kRelu) {
        lo = lo > 0.f ? lo : 0.f;
        hi = hi > 0.f ? hi : 0.f;
      } else if (act.any()) {
        for (int64_t l = 0; l < kLanes; ++l) {
          lo[l] = act.apply(lo[l]);
          hi[l] = act.apply(hi[l]);
        }
      }
      std::memcpy(out, &lo, sizeof(lo));
      std::memcpy(out + kLanes, &hi, sizeof(hi));
    }
  }
  for (; j0 < g.w; ++j0) {  // the last columns one by one, summed in the same order
    for (int64_t mb = 0; mb < kChannelStep; ++mb) {
      float s0 = 0.f, s1 = 0.f;
      for (int64_t c = 0; c < g.c; ++c) {
        const float xv = x[((n * g.c + c) * g.h + i) * g.w + j0];
        const float* wc = w + ((c * g.m + m0 + mb) * g.kh + a) * 2;
        s0 += xv * wc[0];
        s1 += xv * wc[1];
      }
      const float b = bias ? bias[m0 + mb] : 0.f;
      float* out = y + ((n * g.m + m0 + mb) * oh + i * g.kh + a) * ow + 2 * j0;
      out[0] = act.apply(s0 + b);
      out[1] = act.apply(s1 + b);
    }
  }
}

}  // namespace

void conv_transpose_patches(const float* x, const float* w, const float* bias, float* y, const PatchGeometry& g,
                            const FusedActivation& act) {
  const int64_t oh = g.h * g.kh, ow = g.w * g.kw;
  // Work units: blocks of eight output channels (2-wide kernels), then single channels.
  const int64_t blocks = g.kw == 2 ? g.m / kChannelStep : 0;
  const int64_t units = blocks + (g.m - blocks * kChannelStep);
  const int64_t rows = g.n * units * g.h;  // one task: one input row of one unit
  const bool parallel = rows > 1 && g.n * g.m * g.h * g.w * g.c * g.kh * g.kw >= kParallelMin;
#pragma omp parallel if (parallel)
  {
    // One accumulator row per kernel column, contiguous over the input width so that the inner
    // loop vectorises; interleaved into the output row at the end.
    std::vector<float> acc(static_cast<size_t>(g.kw * g.w));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = r % g.h;
      const int64_t u = (r / g.h) % units;
      const int64_t n = r / (g.h * units);
      if (u < blocks) {
        for (int64_t a = 0; a < g.kh; ++a) patches_kw2_block(x, w, bias, y, g, act, n, u * kChannelStep, i, a);
        continue;
      }
      const int64_t m = blocks * kChannelStep + (u - blocks);
      const float b = bias ? bias[m] : 0.f;
      for (int64_t a = 0; a < g.kh; ++a) {
        std::fill(acc.begin(), acc.end(), 0.f);
        for (int64_t c = 0; c < g.c; ++c) {
          const float* xr = x + ((n * g.c + c) * g.h + i) * g.w;
          const float* wr = w + ((c * g.m + m) * g.kh + a) * g.kw;
          for (int64_t kb = 0; kb < g.kw; ++kb) {
            const float wv = wr[kb];
            float* ar = acc.data() + kb * g.w;
#pragma omp simd
            for (int64_t j = 0; j < g.w; ++j) ar[j] += xr[j] * wv;
          }
        }
        float* out = y + ((n * g.m + m) * oh + i * g.kh + a) * ow;
        for (int64_t kb = 0; kb < g.kw; ++kb) {
          const float* ar = acc.data() + kb * g.w;
          if (act.kind == FusedActivation::Kind::kRelu) {
            for (int64_t j = 0; j < g.w; ++j) out[j * g.kw + kb] = std::max(ar[j] + b, 0.f);
          } else {
            for (int64_t j = 0; j < g.w; ++j) out[j * g.kw + kb] = act.apply(ar[j] + b);
          }
        }
      }
    }
  }
}

void conv_transpose_patches_blocked(const float* x, const float* w, const float* bias, float* y, const PatchGeometry& g,
                                    const FusedActivation& act) {
  const int64_t cb = (g.c + kLanes - 1) / kLanes, mbs = (g.m + kLanes - 1) / kLanes;
  const int64_t oh = g.h * g.kh, ow = g.w * g.kw;
  // Weights as [M block][kernel row][kernel column][C][16 output channels], zero past M.
  std::vector<float> packed(static_cast<size_t>(mbs * g.kh * g.kw * g.c * kLanes), 0.f);
  for (int64_t c = 0; c < g.c; ++c) {
    for (int64_t m = 0; m < g.m; ++m) {
      for (int64_t a = 0; a < g.kh; ++a) {
        for (int64_t b = 0; b < g.kw; ++b) {
          packed[((((m / kLanes) * g.kh + a) * g.kw + b) * g.c + c) * kLanes + m % kLanes] =
              w[((c * g.m + m) * g.kh + a) * g.kw + b];
        }
      }
    }
  }
  const int64_t rows = g.n * mbs * g.h;
  const bool parallel = rows > 1 && g.n * g.m * g.h * g.w * g.c * g.kh * g.kw >= kParallelMin;
  constexpr int64_t kPixels = 8;  // accumulators per step: 8 input pixels, one kernel position
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = r % g.h, mb = (r / g.h) % mbs, n = r / (g.h * mbs);
    v16 bv{};
    for (int64_t l = 0; l < kLanes && mb * kLanes + l < g.m; ++l) bv[l] = bias ? bias[mb * kLanes + l] : 0.f;
    const int64_t live = std::min(kLanes, g.m - mb * kLanes);  // output lanes that are channels
    for (int64_t a = 0; a < g.kh; ++a) {
      float* out_row = y + ((n * mbs + mb) * oh + i * g.kh + a) * ow * kLanes;
      for (int64_t b = 0; b < g.kw; ++b) {
        const float* wk = packed.data() + ((mb * g.kh + a) * g.kw + b) * g.c * kLanes;
        for (int64_t j0 = 0; j0 < g.w; j0 += kPixels) {
          const int64_t pixels = std::min(kPixels, g.w - j0);
          v16 acc[kPixels];
          for (int64_t p = 0; p < kPixels; ++p) acc[p] = v16{};
          for (int64_t c = 0; c < g.c; ++c) {
            const v16 wv = load16(wk + c * kLanes);
            const float* xc = x + ((n * cb + c / kLanes) * g.h + i) * g.w * kLanes + c % kLanes;
            if (pixels == kPixels) {
#pragma GCC unroll 8
              for (int64_t p = 0; p < kPixels; ++p) acc[p] += xc[(j0 + p) * kLanes] * wv;
            } else {
              for (int64_t p = 0; p < pixels; ++p) acc[p] += xc[(j0 + p) * kLanes] * wv;
            }
          }
          for (int64_t p = 0; p < pixels; ++p) {
            v16 v = acc[p] + bv;
            if (act.kind == FusedActivation::Kind::kRelu) {
              v = v > 0.f ? v : 0.f;
            } else if (act.any()) {
              for (int64_t l = 0; l < live; ++l) v[l] = act.apply(v[l]);
            }
            std::memcpy(out_row + ((j0 + p) * g.kw + b) * kLanes, &v, sizeof(v));
          }
        }
      }
    }
  }
}

}  // namespace eff::ops
