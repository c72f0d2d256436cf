// Plain (NCHW) stores for the int8 VNNI convs (deft/int8_small_conv.cpp, deft/int8_direct_conv.cpp),
// whose sums come out one vector of 16 channels per pixel. Included inside each file's target
// region (deft/target_push.h), so it builds for the instruction set of the kernels that call it.
#pragma once

#include <cstdint>

namespace eff::deft {

constexpr int64_t kPlainStoreLanes = 16;

// The first `lanes` (at most 16) lanes.
inline __mmask16 first_lanes(int64_t lanes) {
  return lanes >= kPlainStoreLanes ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << lanes) - 1);
}

// Rows r[k] of 16 floats to columns: out[c] holds element c of every row (r[0][c] .. r[15][c]).
inline void transpose_16x16(const __m512 (&r)[16], __m512 (&out)[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {  // per 128-bit lane: rows 2i, 2i + 1 interleaved, elements 0-1 / 2-3
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // u[4i + e], lane L: element 4L + e of rows 4i .. 4i + 3
    u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int e = 0; e < 4; ++e) {  // out[4L + e]: lane L of u[e], u[4 + e], u[8 + e], u[12 + e]
    const __m512 lo01 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0x44), lo23 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0xEE);
    const __m512 hi01 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0x44);
    const __m512 hi23 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0xEE);
    out[e] = _mm512_shuffle_f32x4(lo01, hi01, 0x88);
    out[4 + e] = _mm512_shuffle_f32x4(lo01, hi01, 0xDD);
    out[8 + e] = _mm512_shuffle_f32x4(lo23, hi23, 0x88);
    out[12 + e] = _mm512_shuffle_f32x4(lo23, hi23, 0xDD);
  }
}

// `count` (<= 16) pixels' vectors of 16 channels, stored to the plain (NCHW) layout from `y` (the
// first channel's plane at the first pixel, planes `plane` apart): turned into channel rows in
// registers, then per real channel (`lanes`) the shortcut's row (from `r`, laid out as y, or null)
// added, the Relu, one masked store. With a scatter per pixel vector, resnet's stage-0 conv2 took
// 34 us at batch 1 on two threads behind a stem written plain (10-13 us blocked); now a plain
// output with its shortcut costs that conv 5% more than a blocked one (10.3 vs 9.9 us).
inline void store_plain(const __m512 (&pixels)[16], int count, int64_t lanes, int64_t plane, float* y, const float* r,
                        bool relu) {
  __m512 rows[16];
  transpose_16x16(pixels, rows);
  const __mmask16 mask = first_lanes(count);
  for (int64_t k = 0; k < lanes; ++k) {
    __m512 v = rows[k];
    if (r) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, r + k * plane));
    if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
    _mm512_mask_storeu_ps(y + k * plane, mask, v);
  }
}

}  // namespace eff::deft
