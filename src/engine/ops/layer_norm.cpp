// LayerNormalization (opset 17: normalises over the axes from `axis` on, optional bias, optional
// Mean and InvStdDev outputs) and InstanceNormalization (per sample and channel over the spatial
// axes). Statistics accumulate in double per row, so results do not depend on the thread count.
#include <cmath>

#include "engine/ops/broadcast.h"

namespace eff {

namespace {

using namespace ops;

// Mean and 1/sqrt(variance + epsilon) of n floats.
struct RowStats {
  double mean;
  double inv_std;
};

inline RowStats row_stats(const float* x, int64_t n, double epsilon) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const double mean = n > 0 ? sum / static_cast<double>(n) : 0.0;
  double sq = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = x[i] - mean;
    sq += d * d;
  }
  const double var = n > 0 ? sq / static_cast<double>(n) : 0.0;
  return {mean, 1.0 / std::sqrt(var + epsilon)};
}

class LayerNormKernel final : public Kernel {
 public:
  LayerNormKernel(const Node& node, const Graph& graph)
      : axis_(node.attr_int("axis", -1)), epsilon_(node.attr_float("epsilon", 1e-5f)) {
    const std::string where = graph.where(node);
    if (node.num_inputs() < 2 || node.num_inputs() > 3) {
      fail<ModelError>("{}: expects 2 or 3 inputs, got {}", where, node.num_inputs());
    }
    for (int i = 0; i < node.num_inputs(); ++i) {
      require_input_type(
          node, graph, i, [](DType t) { return t == DType::kFloat32; }, "float32");
    }
    if (node.attr_int("stash_type", 1) != 1) {
      fail<UnsupportedError>("{}: stash_type={} is not supported (only 1, float statistics)", where,
                             node.attr_int("stash_type", 1));
    }
  }

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& scale = ctx.input(1);
    const bool has_bias = ctx.has_input(2);
    for (int i = 0; i < (has_bias ? 3 : 2); ++i) {
      if (ctx.input(i).dtype() != DType::kFloat32) {
        fail<ShapeError>("{}: input {} must be float32, got {}", ctx.where(), i, dtype_name(ctx.input(i).dtype()));
      }
    }
    const int axis = normalize_axis(axis_, x.rank(), ctx);
    const Shape norm_shape(x.shape().begin() + axis, x.shape().end());
    const int64_t row = shape_numel(norm_shape);
    const int64_t rows = row > 0 ? x.numel() / row : 0;
    const std::vector<int64_t> scale_strides = param_strides(ctx, scale, norm_shape, "Scale");
    const std::vector<int64_t> bias_strides =
        has_bias ? param_strides(ctx, ctx.input(2), norm_shape, "B") : std::vector<int64_t>();
    // Flat offsets of Scale and B for each position of a row (the same for every row).
    std::vector<int64_t> scale_off(static_cast<size_t>(row)), bias_off(static_cast<size_t>(row));
    for (int64_t j = 0; j < row; ++j) {
      int64_t rest = j, so = 0, bo = 0;
      for (int d = static_cast<int>(norm_shape.size()) - 1; d >= 0; --d) {
        const int64_t idx = rest % norm_shape[d];
        rest /= norm_shape[d];
        so += idx * scale_strides[d];
        if (has_bias) bo += idx * bias_strides[d];
      }
      scale_off[j] = so;
      bias_off[j] = bo;
    }
    Tensor& y = ctx.output(0, DType::kFloat32, x.shape());
    Shape stat_shape = x.shape();
    for (size_t d = static_cast<size_t>(axis); d < stat_shape.size(); ++d) stat_shape[d] = 1;
    float* mean_out = ctx.num_outputs() > 1 ? ctx.output(1, DType::kFloat32, stat_shape).data<float>() : nullptr;
    float* inv_out = ctx.num_outputs() > 2 ? ctx.output(2, DType::kFloat32, stat_shape).data<float>() : nullptr;
    const float* xd = x.data<float>();
    const float* sd = scale.data<float>();
    const float* bd = has_bias ? ctx.input(2).data<float>() : nullptr;
    float* yd = y.data<float>();
    const double eps = epsilon_;
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelElements)
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = xd + r * row;
      float* yr = yd + r * row;
      const RowStats st = row_stats(xr, row, eps);
      const float mean = static_cast<float>(st.mean), inv = static_cast<float>(st.inv_std);
      for (int64_t j = 0; j < row; ++j) {
        const float v = (xr[j] - mean) * inv * sd[scale_off[j]];
        yr[j] = bd ? v + bd[bias_off[j]] : v;
      }
      if (mean_out) mean_out[r] = mean;
      if (inv_out) inv_out[r] = inv;
    }
  }

  std::string impl() const override {
    return "loop";
  }

 private:
  // Strides of a Scale/B tensor broadcast (unidirectionally) to the normalised shape.
  static std::vector<int64_t> param_strides(const OpContext& ctx, const Tensor& p, const Shape& norm_shape,
                                            const char* name) {
    bool ok = p.rank() <= static_cast<int>(norm_shape.size());
    for (int d = 0; ok && d < p.rank(); ++d) {
      const int64_t n = p.dim(d), want = norm_shape[norm_shape.size() - p.rank() + d];
      ok = n == want || n == 1;
    }
    if (!ok) {
      fail<ShapeError>("{}: {} of shape {} does not broadcast to the normalised shape {}", ctx.where(), name,
                       shape_str(p.shape()), shape_str(norm_shape));
    }
    return broadcast_strides(p.shape(), norm_shape);
  }

  int64_t axis_;
  float epsilon_;
};

class InstanceNormKernel final : public Kernel {
 public:
  InstanceNormKernel(const Node& node, const Graph& graph) : epsilon_(node.attr_float("epsilon", 1e-5f)) {
    if (node.num_inputs() != 3) fail<ModelError>("{}: expects 3 inputs, got {}", graph.where(node), node.num_inputs());
    for (int i = 0; i < 3; ++i) {
      require_input_type(
          node, graph, i, [](DType t) { return t == DType::kFloat32; }, "float32");
    }
  }

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& scale = ctx.input(1);
    const Tensor& bias = ctx.input(2);
    if (x.dtype() != DType::kFloat32 || scale.dtype() != DType::kFloat32 || bias.dtype() != DType::kFloat32) {
      fail<ShapeError>("{}: inputs must be float32", ctx.where());
    }
    if (x.rank() < 3) fail<ShapeError>("{}: input must be N x C x D1 ..., got {}", ctx.where(), shape_str(x.shape()));
    const int64_t n = x.dim(0), c = x.dim(1);
    if (scale.numel() != c || bias.numel() != c || scale.rank() != 1 || bias.rank() != 1) {
      fail<ShapeError>("{}: scale {} and B {} must have {} elements (the channels of {})", ctx.where(),
                       shape_str(scale.shape()), shape_str(bias.shape()), c, shape_str(x.shape()));
    }
    const int64_t spatial = n * c > 0 ? x.numel() / (n * c) : 0;
    Tensor& y = ctx.output(0, DType::kFloat32, x.shape());
    const float* xd = x.data<float>();
    const float* sd = scale.data<float>();
    const float* bd = bias.data<float>();
    float* yd = y.data<float>();
    const double eps = epsilon_;
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelElements)
    for (int64_t p = 0; p < n * c; ++p) {
      const float* xr = xd + p * spatial;
      float* yr = yd + p * spatial;
      const RowStats st = row_stats(xr, spatial, eps);
      const float mul = static_cast<float>(st.inv_std) * sd[p % c];
      const float add = bd[p % c] - static_cast<float>(st.mean) * mul;
      for (int64_t j = 0; j < spatial; ++j) yr[j] = xr[j] * mul + add;
    }
  }

  std::string impl() const override {
    return "loop";
  }

 private:
  float epsilon_;
};

}  // namespace

std::unique_ptr<Kernel> make_layer_normalization(const Node& n, const Graph& g) {
  return std::make_unique<LayerNormKernel>(n, g);
}
std::unique_ptr<Kernel> make_instance_normalization(const Node& n, const Graph& g) {
  return std::make_unique<InstanceNormKernel>(n, g);
}

}  // namespace eff
