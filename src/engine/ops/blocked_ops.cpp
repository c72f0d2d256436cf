// Kernels for the few non-conv nodes that read channel-blocked activations (graph/passes.h
// assign_blocked_layouts), so that the activations around them stay blocked (a blocked Resize is
// in ops/resize.cpp):
// - a squeeze-and-excitation block's GlobalAveragePool (blocked in, plain [N, C, 1, 1] out) and
//   its Mul of the activations by the per-channel gate (blocked in and out);
// - a residual Add of activations whose channels do not fill whole blocks;
// - a channel Concat written blocked from plain and blocked inputs.
#include <algorithm>
#include <memory>
#include <vector>

#include "engine/blocked_layout.h"
#include "engine/ops/dnnl_common.h"
#include "graph/passes.h"

namespace eff {

namespace {

using ops::kParallelMin;

// Channel means of a blocked [N, C, H, W]: plain [N, C, 1, 1]. Each mean sums its plane in order,
// whatever the thread count.
class BlockedGlobalAveragePoolKernel final : public Kernel {
 public:
  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.rank() != 4 || x.dtype() != DType::kFloat32 || x.dim(2) * x.dim(3) == 0) {
      fail("internal error: {}: blocked input of shape {}", ctx.where(), shape_str(x.shape()));
    }
    const int64_t n = x.dim(0), c = x.dim(1), plane = x.dim(2) * x.dim(3);
    const int64_t blocks = (c + kBlockedChannels - 1) / kBlockedChannels;
    Tensor& y = ctx.output(0, DType::kFloat32, {n, c, 1, 1});
    const float* src = x.data<float>();
    float* dst = y.data<float>();
    constexpr int64_t kB = kBlockedChannels;
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelMin)
    for (int64_t nb = 0; nb < n * blocks; ++nb) {
      float sum[kB] = {};
      const float* in = src + nb * plane * kB;
      for (int64_t p = 0; p < plane; ++p) {
#pragma omp simd
        for (int64_t l = 0; l < kB; ++l) sum[l] += in[p * kB + l];
      }
      const int64_t i = nb / blocks, cb = nb % blocks;
      for (int64_t l = 0; l < kB && cb * kB + l < c; ++l) dst[i * c + cb * kB + l] = sum[l] / static_cast<float>(plane);
    }
  }
  std::string impl() const override {
    return "loop:blocked_global_average";
  }
};

// x (blocked [N, C, H, W]) times a plain per-channel gate [N or 1, C, 1, 1], in either order.
class BlockedChannelScaleKernel final : public Kernel {
 public:
  explicit BlockedChannelScaleKernel(int blocked_operand) : x_(blocked_operand) {}

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(x_);
    const Tensor& s = ctx.input(1 - x_);
    const int64_t n = x.rank() == 4 ? x.dim(0) : 0, c = x.rank() == 4 ? x.dim(1) : 0;
    if (x.rank() != 4 || x.dtype() != DType::kFloat32 || s.dtype() != DType::kFloat32 || s.rank() != 4 ||
        s.dim(1) != c || s.dim(2) != 1 || s.dim(3) != 1 || (s.dim(0) != n && s.dim(0) != 1)) {
      fail("internal error: {}: blocked scale of {} by {}", ctx.where(), shape_str(x.shape()), shape_str(s.shape()));
    }
    const int64_t plane = x.dim(2) * x.dim(3);
    const int64_t blocks = (c + kBlockedChannels - 1) / kBlockedChannels;
    Tensor y = blocked_output(ctx, 0, x.shape());
    const float* src = x.data<float>();
    const float* gate = s.data<float>();
    float* dst = y.data<float>();
    constexpr int64_t kB = kBlockedChannels;
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelMin)
    for (int64_t nb = 0; nb < n * blocks; ++nb) {
      const int64_t i = nb / blocks, cb = nb % blocks;
      float g[kB] = {};  // padded channels: zero, like the activations there
      for (int64_t l = 0; l < kB && cb * kB + l < c; ++l) g[l] = gate[(s.dim(0) == 1 ? 0 : i) * c + cb * kB + l];
      const float* in = src + nb * plane * kB;
      float* out = dst + nb * plane * kB;
      for (int64_t p = 0; p < plane; ++p) {
#pragma omp simd
        for (int64_t l = 0; l < kB; ++l) out[p * kB + l] = in[p * kB + l] * g[l];
      }
    }
  }
  std::string impl() const override {
    return "loop:blocked_channel_scale";
  }

 private:
  int x_;
};

// The sum of two blocked tensors of one shape whose channels do not fill whole blocks: over the
// whole storage, so the padded channels (zero in both) stay zero for the convs that read them.
class BlockedAddKernel final : public Kernel {
 public:
  void run(OpContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    if (a.rank() != 4 || a.dtype() != DType::kFloat32 || b.dtype() != DType::kFloat32 || a.shape() != b.shape()) {
      fail("internal error: {}: blocked sum of {} and {}", ctx.where(), shape_str(a.shape()), shape_str(b.shape()));
    }
    const int64_t stored = shape_numel(blocked_storage_shape(a.shape()));
    EFF_ASSERT(a.capacity() >= static_cast<size_t>(stored) * sizeof(float) &&
               b.capacity() >= static_cast<size_t>(stored) * sizeof(float));
    Tensor y = blocked_output(ctx, 0, a.shape());
    const float* pa = a.data<float>();
    const float* pb = b.data<float>();
    float* out = y.data<float>();
#pragma omp parallel for simd schedule(static) if (stored >= kParallelMin)
    for (int64_t i = 0; i < stored; ++i) out[i] = pa[i] + pb[i];
  }
  std::string impl() const override {
    return "loop:blocked_add";
  }
};

// [N, C_k, H, W] inputs joined along the channels straight into one blocked output (a feature
// pyramid's Concat before its head conv, a U-Net's skip Concat): one pass instead of a copy and
// a reorder. Plain inputs are interleaved lane by lane; blocked ones (blocked_inputs: the layout
// pass lets them start on a block boundary, a partial block only last) are copied block by block.
class BlockedConcatKernel final : public Kernel {
 public:
  BlockedConcatKernel(const Node& node, const Graph& graph) {
    blocked_.assign(node.inputs.size(), 0);
    if (node.has_attr(kBlockedInputsAttr)) {
      const std::vector<int64_t> which = node.attr_ints(kBlockedInputsAttr);
      if (which.size() != node.inputs.size()) {
        fail("internal error: {}: {} blocked_inputs for {} inputs", graph.where(node), which.size(),
             node.inputs.size());
      }
      for (size_t k = 0; k < which.size(); ++k) blocked_[k] = which[k] != 0;
    }
  }

  void run(OpContext& ctx) override {
    const Tensor& first = ctx.input(0);
    int64_t c = 0;
    for (int k = 0; k < ctx.num_inputs(); ++k) {
      const Tensor& x = ctx.input(k);
      if (x.rank() != 4 || x.dtype() != DType::kFloat32 || x.dim(0) != first.dim(0) || x.dim(2) != first.dim(2) ||
          x.dim(3) != first.dim(3)) {
        fail<ShapeError>("{}: input {} of shape {} does not fit {}", ctx.where(), k, shape_str(x.shape()),
                         shape_str(first.shape()));
      }
      // The layout pass placed blocked inputs on block boundaries, partial blocks last.
      if (blocked_[k] &&
          (c % kBlockedChannels != 0 || (x.dim(1) % kBlockedChannels != 0 && k + 1 != ctx.num_inputs()))) {
        fail("internal error: {}: blocked input {} at channel {}", ctx.where(), k, c);
      }
      c += x.dim(1);
    }
    const int64_t n = first.dim(0), plane = first.dim(2) * first.dim(3);
    constexpr int64_t kB = kBlockedChannels;
    const int64_t blocks = (c + kB - 1) / kB;
    Tensor y = blocked_output(ctx, 0, {n, c, first.dim(2), first.dim(3)});
    // Where each output channel of a plain input comes from, and each output block of a blocked one.
    std::vector<const float*> from(static_cast<size_t>(c), nullptr);
    std::vector<int64_t> from_channels(static_cast<size_t>(c), 0);
    std::vector<const float*> block_from(static_cast<size_t>(blocks), nullptr);
    std::vector<int64_t> block_stride(static_cast<size_t>(blocks), 0);  // floats per image of its input
    for (int k = 0, at = 0; k < ctx.num_inputs(); ++k) {
      const Tensor& x = ctx.input(k);
      const int64_t xc = x.dim(1);
      if (blocked_[k]) {
        const int64_t xb = (xc + kB - 1) / kB;
        for (int64_t b = 0; b < xb; ++b) {
          block_from[at / kB + b] = x.data<float>() + b * plane * kB;
          block_stride[at / kB + b] = xb * plane * kB;
        }
        at += static_cast<int>(xc);
        continue;
      }
      for (int64_t j = 0; j < xc; ++j, ++at) {
        from[at] = x.data<float>() + j * plane;
        from_channels[at] = xc;
      }
    }
    float* dst = y.data<float>();
    // A tile of pixels at a time: its 16 channels interleave within a few KB that stay in L1
    // (a whole channel at a time wrote every cache line of a large plane 16 times).
    constexpr int64_t kTile = 64;
    const int64_t tiles = (plane + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if (n * blocks * plane * kB >= kParallelMin)
    for (int64_t t = 0; t < n * blocks * tiles; ++t) {
      const int64_t nb = t / tiles, p0 = (t % tiles) * kTile, p1 = std::min(plane, p0 + kTile);
      const int64_t i = nb / blocks, cb = nb % blocks;
      float* out = dst + nb * plane * kB;
      if (block_from[cb] != nullptr) {
        std::copy(block_from[cb] + i * block_stride[cb] + p0 * kB, block_from[cb] + i * block_stride[cb] + p1 * kB,
                  out + p0 * kB);
        continue;
      }
      for (int64_t l = 0; l < kB; ++l) {
        const int64_t ch = cb * kB + l;
        if (ch >= c) {
          for (int64_t p = p0; p < p1; ++p) out[p * kB + l] = 0.f;
          continue;
        }
        const float* in = from[ch] + i * from_channels[ch] * plane;
        for (int64_t p = p0; p < p1; ++p) out[p * kB + l] = in[p];
      }
    }
  }
  std::string impl() const override {
    return std::count(blocked_.begin(), blocked_.end(), 1) > 0 ? "loop:blocked_concat(blocked inputs)"
                                                               : "loop:blocked_concat";
  }

 private:
  std::vector<char> blocked_;  // per input: arrives blocked
};

}  // namespace

std::unique_ptr<Kernel> make_blocked_concat(const Node& node, const Graph& graph) {
  return std::make_unique<BlockedConcatKernel>(node, graph);
}

std::unique_ptr<Kernel> make_blocked_add(const Node&, const Graph&) {
  return std::make_unique<BlockedAddKernel>();
}

std::unique_ptr<Kernel> make_blocked_global_average_pool(const Node&, const Graph&) {
  return std::make_unique<BlockedGlobalAveragePoolKernel>();
}

std::unique_ptr<Kernel> make_blocked_channel_scale(const Node& node, const Graph& graph) {
  const int64_t k = node.attr_int(kBlockedOperandAttr, -1);
  if (k != 0 && k != 1) fail("internal error: {}: blocked operand {}", graph.where(node), k);
  return std::make_unique<BlockedChannelScaleKernel>(static_cast<int>(k));
}

}  // namespace eff
