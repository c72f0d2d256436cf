// 2-D MaxPool on channel-blocked (nChw16c) activations, between the convs of a U-Net encoder or a
// ResNet stem: 16 channels per vector, every output pixel the max of its window's in-bounds taps.
// oneDNN's pooling walks the same layout; this loop does the common 2 x 2 / 2 window with four
// vector loads per output and no per-tap bookkeeping.
#include "engine/ops/blocked_max_pool.h"

#include <algorithm>
#include <limits>

#include "engine/ops/dnnl_common.h"
#include "graph/passes.h"

namespace eff {

namespace {

constexpr int64_t kB = kBlockedChannels;

// One output row of a 2 x 2 / 2 window without pads: rows r0 and r1 of the input.
inline void pool_row_2x2(const float* r0, const float* r1, float* out, int64_t out_w) {
  for (int64_t ow = 0; ow < out_w; ++ow) {
    const float* a = r0 + 2 * ow * kB;
    const float* b = r1 + 2 * ow * kB;
    float* o = out + ow * kB;
#pragma omp simd
    for (int64_t l = 0; l < kB; ++l) o[l] = std::max(std::max(a[l], a[l + kB]), std::max(b[l], b[l + kB]));
  }
}

void pool_row_general(const float* plane, float* out, int64_t oh, const MaxPoolWindow2d& w) {
  const int64_t h_begin = oh * w.stride_h - w.pad_top;
  const int64_t h0 = std::max<int64_t>(h_begin, 0), h1 = std::min(h_begin + w.kernel_h, w.in_h);
  for (int64_t ow = 0; ow < w.out_w; ++ow) {
    const int64_t w_begin = ow * w.stride_w - w.pad_left;
    const int64_t w0 = std::max<int64_t>(w_begin, 0), w1 = std::min(w_begin + w.kernel_w, w.in_w);
    float m[kB];
    std::fill(m, m + kB, std::numeric_limits<float>::lowest());
    for (int64_t ih = h0; ih < h1; ++ih) {
      for (int64_t iw = w0; iw < w1; ++iw) {
        const float* v = plane + (ih * w.in_w + iw) * kB;
#pragma omp simd
        for (int64_t l = 0; l < kB; ++l) m[l] = std::max(m[l], v[l]);
      }
    }
    std::copy(m, m + kB, out + ow * kB);
  }
}

}  // namespace

void blocked_max_pool(const float* x, float* y, int64_t blocks, const MaxPoolWindow2d& w) {
  const int64_t in_plane = w.in_h * w.in_w * kB, out_plane = w.out_h * w.out_w * kB;
  const bool two_by_two = w.kernel_h == 2 && w.kernel_w == 2 && w.stride_h == 2 && w.stride_w == 2 && w.pad_top == 0 &&
                          w.pad_left == 0 && 2 * w.out_h <= w.in_h && 2 * w.out_w <= w.in_w;
#pragma omp parallel for schedule(static) if (blocks * out_plane >= ops::kParallelMin)
  for (int64_t r = 0; r < blocks * w.out_h; ++r) {
    const int64_t b = r / w.out_h, oh = r % w.out_h;
    const float* plane = x + b * in_plane;
    float* out = y + b * out_plane + oh * w.out_w * kB;
    if (two_by_two) {
      pool_row_2x2(plane + 2 * oh * w.in_w * kB, plane + (2 * oh + 1) * w.in_w * kB, out, w.out_w);
    } else {
      pool_row_general(plane, out, oh, w);
    }
  }
}

}  // namespace eff
