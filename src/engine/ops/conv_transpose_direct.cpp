#include "engine/ops/conv_transpose_direct.h"

#include <algorithm>
#include <vector>

#include "engine/ops/dnnl_common.h"

namespace eff::ops {

void conv_transpose_patches(const float* x, const float* w, const float* bias, float* y, const PatchGeometry& g,
                            const FusedActivation& act) {
  const int64_t oh = g.h * g.kh, ow = g.w * g.kw;
  const int64_t rows = g.n * g.m * g.h;  // one task: one input row of one output channel
  const bool parallel = rows > 1 && rows * g.w * g.c * g.kh * g.kw >= kParallelMin;
#pragma omp parallel if (parallel)
  {
    // One accumulator row per kernel column, contiguous over the input width so that the inner
    // loop vectorises; interleaved into the output row at the end.
    std::vector<float> acc(static_cast<size_t>(g.kw * g.w));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = r % g.h;
      const int64_t m = (r / g.h) % g.m;
      const int64_t n = r / (g.h * g.m);
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

}  // namespace eff::ops
