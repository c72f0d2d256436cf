#include "engine/blocked_layout.h"

#include <algorithm>

#include "engine/buffer_pool.h"
#include "graph/passes.h"

namespace eff {

namespace {

// Copies between plain [N, C, P] and blocked [N, C/16 rounded up, P, 16] (P = H * W).
template <bool kToPlain>
void convert(const float* src, float* dst, int64_t n, int64_t c, int64_t plane) {
  constexpr int64_t kB = kBlockedChannels;
  const int64_t blocks = (c + kB - 1) / kB;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t lanes = std::min(kB, c - b * kB);
      const int64_t blocked_at = (i * blocks + b) * plane * kB;
      const int64_t plain_at = (i * c + b * kB) * plane;
      for (int64_t p = 0; p < plane; ++p) {
        for (int64_t l = 0; l < kB; ++l) {
          if constexpr (kToPlain) {
            if (l < lanes) dst[plain_at + l * plane + p] = src[blocked_at + p * kB + l];
          } else {
            dst[blocked_at + p * kB + l] = l < lanes ? src[plain_at + l * plane + p] : 0.f;
          }
        }
      }
    }
  }
}

}  // namespace

bool reads_blocked(const Node& n) {
  return n.attr_int(kBlockedInputAttr, 0) != 0;
}

bool writes_blocked(const Node& n) {
  return n.attr_int(kBlockedOutputAttr, 0) != 0;
}

Shape blocked_storage_shape(const Shape& s) {
  EFF_ASSERT(s.size() == 4);
  Shape p = s;
  p[1] = (s[1] + kBlockedChannels - 1) / kBlockedChannels * kBlockedChannels;
  return p;
}

Tensor acquire_blocked(BufferPool& pool, const Shape& s) {
  Tensor t = pool.acquire(DType::kFloat32, blocked_storage_shape(s));
  return Tensor(DType::kFloat32, s, t.storage(), t.capacity());
}

Tensor unblocked_copy(const Tensor& t, BufferPool& pool) {
  EFF_ASSERT(t.rank() == 4 && t.dtype() == DType::kFloat32 &&
             t.capacity() >= static_cast<size_t>(shape_numel(blocked_storage_shape(t.shape()))) * sizeof(float));
  Tensor out = pool.acquire(DType::kFloat32, t.shape());
  convert<true>(t.data<float>(), out.data<float>(), t.dim(0), t.dim(1), t.dim(2) * t.dim(3));
  return out;
}

Tensor blocked_copy(const Tensor& plain, BufferPool& pool) {
  EFF_ASSERT(plain.rank() == 4 && plain.dtype() == DType::kFloat32);
  Tensor out = acquire_blocked(pool, plain.shape());
  convert<false>(plain.data<float>(), out.data<float>(), plain.dim(0), plain.dim(1), plain.dim(2) * plain.dim(3));
  return out;
}

}  // namespace eff
