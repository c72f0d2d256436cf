#include "engine/blocked_layout.h"

#include "engine/buffer_pool.h"
#include "graph/passes.h"

namespace eff {

bool reads_blocked(const Node& n) {
  return n.attr_int(kBlockedInputAttr, 0) != 0;
}

bool writes_blocked(const Node& n) {
  return n.attr_int(kBlockedOutputAttr, 0) != 0;
}

Tensor unblocked_copy(const Tensor& t, BufferPool& pool) {
  EFF_ASSERT(t.rank() == 4 && t.dim(1) % kBlockedChannels == 0);
  Tensor out = pool.acquire(t.dtype(), t.shape());
  const int64_t n = t.dim(0), blocks = t.dim(1) / kBlockedChannels, plane = t.dim(2) * t.dim(3);
  const float* src = t.data<float>();
  float* dst = out.data<float>();
  for (int64_t b = 0; b < n * blocks; ++b) {
    const float* s = src + b * plane * kBlockedChannels;
    float* d = dst + b * plane * kBlockedChannels;
    for (int64_t p = 0; p < plane; ++p) {
      for (int64_t c = 0; c < kBlockedChannels; ++c) d[c * plane + p] = s[p * kBlockedChannels + c];
    }
  }
  return out;
}

}  // namespace eff
