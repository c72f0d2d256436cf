#include "engine/ops/max_pool_ort_order.h"

#include <algorithm>
#include <vector>

#include "engine/ops/dnnl_common.h"

namespace eff {

namespace {

// x86 maxps: the second operand whenever either is NaN.
inline float maxps(float a, float b) {
  return a > b ? a : b;
}

// std::max: the first operand whenever either is NaN.
inline float std_max(float a, float b) {
  return a < b ? b : a;
}

void taps_plane(const float* x, float* y, const MaxPoolWindow2d& w, float lowest) {
  for (int64_t oh = 0; oh < w.out_h; ++oh) {
    for (int64_t ow = 0; ow < w.out_w; ++ow) {
      float m = lowest;
      for (int64_t i = 0; i < w.kernel_h; ++i) {
        const int64_t ih = oh * w.stride_h - w.pad_top + i;
        if (ih < 0 || ih >= w.in_h) continue;
        for (int64_t j = 0; j < w.kernel_w; ++j) {
          const int64_t iw = ow * w.stride_w - w.pad_left + j;
          if (iw >= 0 && iw < w.in_w) m = maxps(m, x[ih * w.in_w + iw]);
        }
      }
      y[oh * w.out_w + ow] = m;
    }
  }
}

// MLAS's generic 2-D kernel: std::max over the in-bounds taps from `lowest`.
void generic_plane(const float* x, float* y, const MaxPoolWindow2d& w, float lowest) {
  for (int64_t oh = 0; oh < w.out_h; ++oh) {
    const int64_t h0 = std::max<int64_t>(oh * w.stride_h - w.pad_top, 0);
    const int64_t h1 = std::min(oh * w.stride_h - w.pad_top + w.kernel_h, w.in_h);
    for (int64_t ow = 0; ow < w.out_w; ++ow) {
      const int64_t w0 = std::max<int64_t>(ow * w.stride_w - w.pad_left, 0);
      const int64_t w1 = std::min(ow * w.stride_w - w.pad_left + w.kernel_w, w.in_w);
      float m = lowest;
      for (int64_t ih = h0; ih < h1; ++ih) {
        for (int64_t iw = w0; iw < w1; ++iw) m = std_max(m, x[ih * w.in_w + iw]);
      }
      y[oh * w.out_w + ow] = m;
    }
  }
}

// MLAS's vector 2-D kernel; `row` holds pad_left + in_w + the right pads' worth of floats.
void columns_plane(const float* x, float* y, const MaxPoolWindow2d& w, float lowest, std::vector<float>& row) {
  const int64_t vector_cols = w.in_w - w.in_w % 4;
  std::fill(row.begin(), row.end(), lowest);
  for (int64_t oh = 0; oh < w.out_h; ++oh) {
    int64_t h0 = oh * w.stride_h - w.pad_top;
    const int64_t h1 = std::min(h0 + w.kernel_h, w.in_h);
    if (h0 < 0 || h0 >= w.in_h) h0 = 0;  // MLAS: an unsigned start past the input wraps to row 0
    for (int64_t iw = 0; iw < w.in_w; ++iw) {
      float r = x[h0 * w.in_w + iw];
      for (int64_t ih = h0 + 1; ih < h1; ++ih) {
        r = iw < vector_cols ? maxps(r, x[ih * w.in_w + iw]) : std_max(r, x[ih * w.in_w + iw]);
      }
      row[w.pad_left + iw] = r;
    }
    for (int64_t ow = 0; ow < w.out_w; ++ow) {
      const float* window = row.data() + ow * w.stride_w;
      float m = window[0];
      for (int64_t j = 1; j < w.kernel_w; ++j) m = maxps(m, window[j]);
      y[oh * w.out_w + ow] = m;
    }
  }
}

}  // namespace

void max_pool_ort_order(const float* x, float* y, int64_t planes, const MaxPoolWindow2d& w, MaxPoolFoldOrder order,
                        float lowest) {
  const bool vector_kernel = w.stride_w <= 2 && w.kernel_h <= 32 && w.kernel_w <= 32;
  // The window reaches past the right edge by at most (out_w - 1) * stride + kernel - pad_left - in_w.
  const int64_t row_len = std::max(w.pad_left + w.in_w, (w.out_w - 1) * w.stride_w + w.kernel_w) + 1;
  const int64_t in_plane = w.in_h * w.in_w, out_plane = w.out_h * w.out_w;
#pragma omp parallel for schedule(static) if (planes * out_plane >= ops::kParallelMin)
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * in_plane;
    float* yp = y + p * out_plane;
    if (order == MaxPoolFoldOrder::kTaps) {
      taps_plane(xp, yp, w, lowest);
    } else if (vector_kernel) {
      std::vector<float> row(static_cast<size_t>(row_len));
      columns_plane(xp, yp, w, lowest, row);
    } else {
      generic_plane(xp, yp, w, lowest);
    }
  }
}

}  // namespace eff
