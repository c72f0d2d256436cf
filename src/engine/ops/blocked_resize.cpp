// Nearest-neighbour upsampling by whole factors of a channel-blocked tensor (the top-down path of
// a feature pyramid: Resize then Add with the next lateral conv). Each output pixel is a copy of
// one input pixel's 16-channel block, so the activations between the FPN's convs stay blocked.
#include <algorithm>
#include <memory>

#include "engine/blocked_layout.h"
#include "engine/ops/dnnl_common.h"
#include "graph/passes.h"

namespace eff {

namespace {

using ops::kParallelMin;

class BlockedResizeKernel final : public Kernel {
 public:
  BlockedResizeKernel(const Node& node, const Graph& graph) {
    if (!integer_nearest_upsample(graph, node, fh_, fw_) || !writes_blocked(node)) {
      fail("internal error: {}: not a blocked nearest upsampling", graph.where(node));
    }
  }

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.rank() != 4 || x.dtype() != DType::kFloat32) {
      fail("internal error: {}: blocked input of shape {}", ctx.where(), shape_str(x.shape()));
    }
    const int64_t n = x.dim(0), h = x.dim(2), w = x.dim(3);
    const int64_t blocks = (x.dim(1) + kBlockedChannels - 1) / kBlockedChannels;
    const int64_t oh = h * fh_, ow = w * fw_;
    Tensor y = blocked_output(ctx, 0, {n, x.dim(1), oh, ow});
    const float* src = x.data<float>();
    float* dst = y.data<float>();
    constexpr int64_t kB = kBlockedChannels;
    const int64_t rows = n * blocks * oh;
#pragma omp parallel for schedule(static) if (rows * ow * kB >= kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t plane = r / oh, orow = r % oh;
      const float* in = src + (plane * h + orow / fh_) * w * kB;
      float* out = dst + r * ow * kB;
      for (int64_t j = 0; j < ow; ++j) std::copy_n(in + (j / fw_) * kB, kB, out + j * kB);
    }
  }

  std::string impl() const override {
    return "loop:blocked_nearest_upsample";
  }

 private:
  int64_t fh_ = 1, fw_ = 1;
};

}  // namespace

std::unique_ptr<Kernel> make_blocked_resize(const Node& node, const Graph& graph) {
  return std::make_unique<BlockedResizeKernel>(node, graph);
}

}  // namespace eff
