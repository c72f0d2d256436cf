#include "engine/blocked_layout.h"

#include <algorithm>
#include <cmath>

#include "engine/buffer_pool.h"
#include "engine/kernel.h"
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

Tensor blocked_output(OpContext& ctx, int i, const Shape& s) {
  const Tensor& storage = ctx.output(i, DType::kFloat32, blocked_storage_shape(s));
  Tensor t(DType::kFloat32, s, storage.storage(), storage.capacity());
  ctx.set_output(i, t);
  return t;
}

bool integer_nearest_upsample(const Graph& g, const Node& n, int64_t& fh, int64_t& fw) {
  if (n.op != "Resize" || !(n.domain.empty() || n.domain == "ai.onnx") || n.outputs.size() != 1) return false;
  if (n.attr_string("mode", "nearest") != "nearest" ||
      n.attr_string("coordinate_transformation_mode", "half_pixel") != "asymmetric" ||
      n.attr_string("nearest_mode", "round_prefer_floor") != "floor" || n.input(3) != kNoValue) {
    return false;
  }
  const ValueId sv = n.input(2);
  if (!g.is_constant(sv) || g.constant(sv).dtype() != DType::kFloat32 || g.constant(sv).numel() != 4) return false;
  const float* s = g.constant(sv).data<float>();
  if (s[0] != 1.f || s[1] != 1.f) return false;
  for (int k = 2; k < 4; ++k) {
    if (!(s[k] >= 1.f && s[k] <= 64.f) || s[k] != std::floor(s[k])) return false;
  }
  fh = static_cast<int64_t>(s[2]);
  fw = static_cast<int64_t>(s[3]);
  return true;
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
