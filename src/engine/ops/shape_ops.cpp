// Ops that only change a tensor's shape (Reshape, Flatten, Squeeze, Unsqueeze: the output is a
// view sharing the input's storage), Shape, which reports one, and Size, its element count.
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>
#include <optional>

#include "engine/ops/tensor_helpers.h"

namespace eff {

namespace {

class ReshapeKernel final : public Kernel {
 public:
  explicit ReshapeKernel(bool allow_zero) : allow_zero_(allow_zero) {}

  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const ops::IntOperand target = ops::int_operand(ctx, "shape", 1);
    if (!target.present) fail<ShapeError>("{}: the target shape is missing", ctx.where());
    Shape out;
    out.reserve(target.values.size());
    int inferred = -1;
    int64_t known = 1;
    for (size_t i = 0; i < target.values.size(); ++i) {
      int64_t d = target.values[i];
      if (d == 0 && !allow_zero_) {
        if (static_cast<int>(i) >= in.rank()) {
          fail<ShapeError>("{}: shape entry {} is 0 (copy) but the input {} has no dimension {}", ctx.where(), i,
                           shape_str(in.shape()), i);
        }
        d = in.dim(static_cast<int>(i));
      }
      if (d == -1) {
        if (inferred >= 0) fail<ShapeError>("{}: the target shape has more than one -1", ctx.where());
        inferred = static_cast<int>(i);
        out.push_back(1);
        continue;
      }
      if (d < -1) fail<ShapeError>("{}: the target shape has the invalid dimension {}", ctx.where(), d);
      out.push_back(d);
      if (d != 0 && known > std::numeric_limits<int64_t>::max() / d) {
        fail<ShapeError>("{}: the target shape [{}] has too many elements", ctx.where(),
                         fmt::join(target.values, ", "));
      }
      known *= d;
    }
    if (inferred >= 0) {
      if (known == 0 || in.numel() % known != 0) {
        fail<ShapeError>("{}: cannot reshape {} to {} (the -1 dimension cannot be inferred)", ctx.where(),
                         shape_str(in.shape()), fmt::format("[{}]", fmt::join(target.values, ", ")));
      }
      out[inferred] = in.numel() / known;
    }
    if (shape_numel(out) != in.numel()) {
      fail<ShapeError>("{}: cannot reshape {} ({} elements) to {}", ctx.where(), shape_str(in.shape()), in.numel(),
                       shape_str(out));
    }
    ctx.set_output(0, in.reshaped(std::move(out)));
  }

 private:
  bool allow_zero_;
};

class FlattenKernel final : public Kernel {
 public:
  explicit FlattenKernel(int64_t axis) : axis_(axis) {}

  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const int r = in.rank();
    if (axis_ < -r || axis_ > r) {
      fail<ShapeError>("{}: axis {} is out of range for a rank-{} input", ctx.where(), axis_, r);
    }
    const int axis = static_cast<int>(axis_ < 0 ? axis_ + r : axis_);
    int64_t outer = 1;
    for (int d = 0; d < axis; ++d) outer *= in.dim(d);
    int64_t inner = 1;
    for (int d = axis; d < r; ++d) inner *= in.dim(d);
    ctx.set_output(0, in.reshaped({outer, inner}));
  }

 private:
  int64_t axis_;
};

class SqueezeKernel final : public Kernel {
 public:
  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const ops::IntOperand axes = ops::int_operand(ctx, "axes", 1);
    std::vector<char> drop(static_cast<size_t>(in.rank()), 0);
    if (axes.present && !axes.values.empty()) {
      for (int a : ops::normalize_axes(axes.values, in.rank(), ctx)) {
        if (in.dim(a) != 1) {
          fail<ShapeError>("{}: cannot squeeze axis {} of shape {} (size is not 1)", ctx.where(), a,
                           shape_str(in.shape()));
        }
        drop[a] = 1;
      }
    } else {
      for (int d = 0; d < in.rank(); ++d) drop[d] = in.dim(d) == 1;
    }
    Shape out;
    for (int d = 0; d < in.rank(); ++d) {
      if (!drop[d]) out.push_back(in.dim(d));
    }
    ctx.set_output(0, in.reshaped(std::move(out)));
  }
};

class UnsqueezeKernel final : public Kernel {
 public:
  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const ops::IntOperand axes = ops::int_operand(ctx, "axes", 1);
    if (!axes.present) fail<ShapeError>("{}: axes are missing", ctx.where());
    const int out_rank = in.rank() + static_cast<int>(axes.values.size());
    std::vector<char> inserted(static_cast<size_t>(out_rank), 0);
    for (int a : ops::normalize_axes(axes.values, out_rank, ctx)) inserted[a] = 1;
    Shape out;
    int next = 0;
    for (int d = 0; d < out_rank; ++d) out.push_back(inserted[d] ? 1 : in.dim(next++));
    ctx.set_output(0, in.reshaped(std::move(out)));
  }
};

class ShapeKernel final : public Kernel {
 public:
  ShapeKernel(int64_t start, std::optional<int64_t> end) : start_(start), end_(end) {}

  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const int64_t r = in.rank();
    auto clamp = [r](int64_t v) { return std::clamp(v < 0 ? v + r : v, int64_t{0}, r); };
    const int64_t begin = clamp(start_);
    const int64_t end = end_ ? clamp(*end_) : r;
    const int64_t n = std::max<int64_t>(0, end - begin);
    Tensor& out = ctx.output(0, DType::kInt64, {n});
    int64_t* d = out.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) d[i] = in.dim(static_cast<int>(begin + i));
  }

 private:
  int64_t start_;
  std::optional<int64_t> end_;
};

class SizeKernel final : public Kernel {
 public:
  void run(OpContext& ctx) override {
    const int64_t n = ctx.input(0).numel();
    Tensor& out = ctx.output(0, DType::kInt64, {});
    out.data<int64_t>()[0] = n;
  }
};

}  // namespace

std::unique_ptr<Kernel> make_reshape(const Node& node, const Graph& graph) {
  if (node.num_inputs() < 2 && !node.has_attr("shape")) {
    fail<ModelError>("{}: needs a shape input or attribute", graph.where(node));
  }
  return std::make_unique<ReshapeKernel>(node.attr_int("allowzero", 0) != 0);
}

std::unique_ptr<Kernel> make_flatten(const Node& node, const Graph&) {
  return std::make_unique<FlattenKernel>(node.attr_int("axis", 1));
}

std::unique_ptr<Kernel> make_squeeze(const Node&, const Graph&) {
  return std::make_unique<SqueezeKernel>();
}

std::unique_ptr<Kernel> make_unsqueeze(const Node& node, const Graph& graph) {
  if (node.num_inputs() < 2 && !node.has_attr("axes")) {
    fail<ModelError>("{}: needs axes (input or attribute)", graph.where(node));
  }
  return std::make_unique<UnsqueezeKernel>();
}

std::unique_ptr<Kernel> make_shape(const Node& node, const Graph&) {
  std::optional<int64_t> end;
  if (node.has_attr("end")) end = node.attr_int("end", 0);
  return std::make_unique<ShapeKernel>(node.attr_int("start", 0), end);
}

std::unique_ptr<Kernel> make_size(const Node& node, const Graph& graph) {
  if (node.num_inputs() != 1) fail<ModelError>("{}: expects 1 input, got {}", graph.where(node), node.num_inputs());
  return std::make_unique<SizeKernel>();
}

}  // namespace eff
