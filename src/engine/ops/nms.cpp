// NonMaxSuppression, the last op of exported detectors (SSD, YOLO and RetinaNet exports): per
// batch and class, boxes above the score threshold are taken greedily by descending score (ties:
// lower box index first), each one suppressing the later boxes that overlap it by more than the
// IoU threshold.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "engine/ops/broadcast.h"

namespace eff {

namespace {

using namespace ops;

struct Box {
  float y1, x1, y2, x2;
};

float iou(const Box& a, const Box& b) {
  const float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  const float iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  if (ih <= 0.f || iw <= 0.f) return 0.f;
  const float inter = ih * iw;
  const float uni = (a.y2 - a.y1) * (a.x2 - a.x1) + (b.y2 - b.y1) * (b.x2 - b.x1) - inter;
  return uni > 0.f ? inter / uni : 0.f;
}

class NmsKernel final : public Kernel {
 public:
  explicit NmsKernel(bool center_point_box) : center_(center_point_box) {}

  void run(OpContext& ctx) override {
    const Tensor& boxes = ctx.input(0);
    const Tensor& scores = ctx.input(1);
    if (boxes.dtype() != DType::kFloat32 || scores.dtype() != DType::kFloat32 || boxes.rank() != 3 ||
        boxes.dim(2) != 4 || scores.rank() != 3 || scores.dim(0) != boxes.dim(0) || scores.dim(2) != boxes.dim(1)) {
      fail<ShapeError>("{}: boxes {} {} and scores {} {} must be float32 [B, N, 4] and [B, C, N]", ctx.where(),
                       dtype_name(boxes.dtype()), shape_str(boxes.shape()), dtype_name(scores.dtype()),
                       shape_str(scores.shape()));
    }
    const double max_given = scalar_or(ctx, 2, 0.0);
    const int64_t max_per_class = max_given > 0 ? static_cast<int64_t>(std::min(max_given, 9e18)) : 0;
    const float iou_threshold = static_cast<float>(scalar_or(ctx, 3, 0.0));
    const float score_threshold = static_cast<float>(scalar_or(ctx, 4, -std::numeric_limits<double>::infinity()));
    if (!(iou_threshold >= 0.f && iou_threshold <= 1.f)) {
      fail<ShapeError>("{}: iou_threshold {} is outside [0, 1]", ctx.where(), iou_threshold);
    }
    const int64_t batches = boxes.dim(0), n = boxes.dim(1), classes = scores.dim(1);
    const float* bd = boxes.data<float>();
    const float* sd = scores.data<float>();
    std::vector<int64_t> selected;  // (batch, class, box) triples
    std::vector<Box> corner(static_cast<size_t>(n));
    std::vector<int64_t> order;
    std::vector<int64_t> kept;
    for (int64_t b = 0; b < batches; ++b) {
      for (int64_t i = 0; i < n; ++i) {
        const float* p = bd + (b * n + i) * 4;
        if (center_) {  // [x_center, y_center, width, height]
          corner[i] = {p[1] - p[3] / 2, p[0] - p[2] / 2, p[1] + p[3] / 2, p[0] + p[2] / 2};
        } else {  // [y1, x1, y2, x2], corners in either order
          corner[i] = {std::min(p[0], p[2]), std::min(p[1], p[3]), std::max(p[0], p[2]), std::max(p[1], p[3])};
        }
      }
      for (int64_t c = 0; c < classes && max_per_class > 0; ++c) {
        const float* s = sd + (b * classes + c) * n;
        order.clear();
        for (int64_t i = 0; i < n; ++i) {
          if (s[i] > score_threshold) order.push_back(i);
        }
        std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return s[x] > s[y]; });
        kept.clear();
        for (int64_t i : order) {
          if (static_cast<int64_t>(kept.size()) >= max_per_class) break;
          const bool overlaps = std::any_of(kept.begin(), kept.end(),
                                            [&](int64_t k) { return iou(corner[k], corner[i]) > iou_threshold; });
          if (!overlaps) kept.push_back(i);
        }
        for (int64_t i : kept) selected.insert(selected.end(), {b, c, i});
      }
    }
    const int64_t count = static_cast<int64_t>(selected.size() / 3);
    Tensor& out = ctx.output(0, DType::kInt64, {count, 3});
    std::copy(selected.begin(), selected.end(), out.data<int64_t>());
  }

 private:
  // Optional scalar input i, or `fallback` when it is omitted.
  static double scalar_or(const OpContext& ctx, int i, double fallback) {
    if (!ctx.has_input(i)) return fallback;
    const Tensor& t = ctx.input(i);
    if (t.numel() != 1 || !is_numeric(t.dtype())) {
      fail<ShapeError>("{}: input {} must be one number, got {} {}", ctx.where(), i, dtype_name(t.dtype()),
                       shape_str(t.shape()));
    }
    return t.get_f64(0);
  }

  bool center_;
};

}  // namespace

std::unique_ptr<Kernel> make_non_max_suppression(const Node& node, const Graph& graph) {
  if (node.num_inputs() < 2 || node.num_inputs() > 5) {
    fail<ModelError>("{}: expects 2 to 5 inputs, got {}", graph.where(node), node.num_inputs());
  }
  const int64_t center = node.attr_int("center_point_box", 0);
  if (center != 0 && center != 1) {
    fail<ModelError>("{}: center_point_box must be 0 or 1, got {}", graph.where(node), center);
  }
  return std::make_unique<NmsKernel>(center == 1);
}

}  // namespace eff
