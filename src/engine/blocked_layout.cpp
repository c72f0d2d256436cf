#include "engine/blocked_layout.h"

#include <algorithm>
#include <string>
#include <vector>

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

bool blockable_resize(const Graph& g, const Node& n) {
  if (n.op != "Resize" || !(n.domain.empty() || n.domain == "ai.onnx") || n.outputs.size() != 1 ||
      n.outputs[0] == kNoValue || n.input(0) == kNoValue) {
    return false;
  }
  const std::string mode = n.attr_string("mode", "nearest");
  if ((mode != "nearest" && mode != "linear") ||
      n.attr_string("coordinate_transformation_mode", "half_pixel") == "tf_crop_and_resize" ||
      n.attr_int("antialias", 0) != 0 || n.attr_string("keep_aspect_ratio_policy", "stretch") != "stretch") {
    return false;
  }
  const Value& x = g.value(n.input(0));
  if (!x.has_type || x.dtype != DType::kFloat32 || !x.has_shape || x.shape.size() != 4) return false;
  std::vector<int64_t> axes = n.attr_ints("axes");
  for (int64_t& a : axes) a = a < 0 ? a + 4 : a;
  if (axes == std::vector<int64_t>{2, 3}) return true;  // N and C are not resized at all
  if (!axes.empty()) return false;
  // Otherwise N and C must keep their length with a scale of exactly 1, so that they map to
  // themselves in every coordinate mode.
  const bool old_resize = g.opset > 0 && g.opset < 11;
  const ValueId sizes = old_resize ? kNoValue : n.input(3);
  const ValueId scales = old_resize ? n.input(1) : n.input(2);
  if (sizes != kNoValue && !(g.is_constant(sizes) && g.constant(sizes).numel() == 0)) {
    if (!g.is_constant(sizes) || g.constant(sizes).numel() != 4) return false;
    const std::vector<int64_t> s = g.constant(sizes).to_i64_vector();
    return x.shape[0] > 0 && x.shape[1] > 0 && s[0] == x.shape[0] && s[1] == x.shape[1];
  }
  if (scales == kNoValue || !g.is_constant(scales) || g.constant(scales).numel() != 4) return false;
  const std::vector<float> s = g.constant(scales).to_f32_vector();
  return s[0] == 1.f && s[1] == 1.f;
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
