// BatchNormalization (inference), LRN, Softmax and LogSoftmax as plain loops: each is one or two
// passes over memory, parallel over planes or rows with a static schedule so results do not
// depend on the thread count. (Batch norms after a conv are usually folded away by a pass.)
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "engine/ops/dnnl_common.h"

namespace eff {

namespace {

using namespace ops;

// ---- BatchNormalization ---------------------------------------------------------------------------

class BatchNormKernel final : public Kernel {
 public:
  BatchNormKernel(const Node& node, const Graph& graph) {
    const std::string where = graph.where(node);
    if (node.num_inputs() != 5) fail<ModelError>("{}: expects 5 inputs, got {}", where, node.num_inputs());
    if (node.attr_int("training_mode", 0) != 0) {
      fail<UnsupportedError>("{}: training_mode=1 is not supported (inference only)", where);
    }
    if (node.attr_int("spatial", 1) == 0) {
      fail<UnsupportedError>("{}: spatial=0 (per-element statistics) is not supported", where);
    }
    for (size_t i = 1; i < node.outputs.size(); ++i) {
      if (node.outputs[i] != kNoValue) {
        fail<UnsupportedError>("{}: the running statistics outputs are training-mode only", where);
      }
    }
    for (int i = 0; i < 5; ++i) require_f32_model(node, graph, i);
    epsilon_ = node.attr_float("epsilon", 1e-5f);
    bool all_constant = true;
    for (int i = 1; i < 5; ++i) all_constant = all_constant && graph.is_constant(node.inputs[i]);
    if (all_constant) {
      const Tensor& scale = graph.constant(node.inputs[1]);
      const int64_t c = scale.numel();
      for (int i = 1; i < 5; ++i) {
        const Tensor& t = graph.constant(node.inputs[i]);
        if (t.dtype() != DType::kFloat32 || t.rank() != 1 || t.numel() != c) {
          fail<ModelError>("{}: scale, B, mean and var must be float32 vectors of one length, input {} is {} {}", where,
                           i, dtype_name(t.dtype()), shape_str(t.shape()));
        }
      }
      fold(scale, graph.constant(node.inputs[2]), graph.constant(node.inputs[3]), graph.constant(node.inputs[4]));
      folded_ = true;
    }
  }

  void run(OpContext& ctx) override {
    const Tensor& x = f32_input(ctx, 0);
    if (x.rank() < 2) {
      fail<ShapeError>("{}: input of shape {} has no channel dimension", ctx.where(), shape_str(x.shape()));
    }
    const int64_t c = x.dim(1);
    if (!folded_) {
      for (int i = 1; i < 5; ++i) {
        const Tensor& t = f32_input(ctx, i);
        if (t.rank() != 1 || t.dim(0) != c) {
          fail<ShapeError>("{}: input {} of shape {} does not match {} channels", ctx.where(), i, shape_str(t.shape()),
                           c);
        }
      }
      fold(ctx.input(1), ctx.input(2), ctx.input(3), ctx.input(4));
    } else if (static_cast<int64_t>(mul_.size()) != c) {
      fail<ShapeError>("{}: input has {} channels, the parameters {}", ctx.where(), c, mul_.size());
    }
    Tensor& y = ctx.output(0, DType::kFloat32, x.shape());
    const int64_t planes = x.dim(0) * c;
    if (planes == 0) return;
    const int64_t plane = x.numel() / planes;
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    const float* mul = mul_.data();
    const float* add = add_.data();
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelMin)
    for (int64_t p = 0; p < planes; ++p) {
      const float a = mul[p % c], b = add[p % c];
      const float* src = xd + p * plane;
      float* dst = yd + p * plane;
      for (int64_t i = 0; i < plane; ++i) dst[i] = src[i] * a + b;
    }
  }

  std::string impl() const override {
    return "loop:batchnorm";
  }

 private:
  // y = (x - mean) / sqrt(var + eps) * scale + B  =  x * mul + add
  void fold(const Tensor& scale, const Tensor& bias, const Tensor& mean, const Tensor& var) {
    const int64_t c = scale.numel();
    mul_.resize(c);
    add_.resize(c);
    const float* s = scale.data<float>();
    const float* b = bias.data<float>();
    const float* m = mean.data<float>();
    const float* v = var.data<float>();
    for (int64_t i = 0; i < c; ++i) {
      const float inv = 1.f / std::sqrt(v[i] + epsilon_);
      mul_[i] = s[i] * inv;
      add_[i] = b[i] - m[i] * mul_[i];
    }
  }

  float epsilon_ = 1e-5f;
  bool folded_ = false;
  std::vector<float> mul_, add_;
};

// ---- LRN ---------------------------------------------------------------------------------------

class LrnKernel final : public Kernel {
 public:
  LrnKernel(const Node& node, const Graph& graph) {
    const std::string where = graph.where(node);
    if (node.num_inputs() != 1) fail<ModelError>("{}: expects 1 input, got {}", where, node.num_inputs());
    require_f32_model(node, graph, 0);
    if (!node.has_attr("size")) fail<ModelError>("{}: attribute size is required", where);
    size_ = node.attr_int("size", 1);
    if (size_ < 1) fail<ModelError>("{}: size={} must be positive", where, size_);
    alpha_ = node.attr_float("alpha", 1e-4f);
    beta_ = node.attr_float("beta", 0.75f);
    bias_ = node.attr_float("bias", 1.f);
  }

  void run(OpContext& ctx) override {
    const Tensor& x = f32_input(ctx, 0);
    if (x.rank() < 2) {
      fail<ShapeError>("{}: input of shape {} has no channel dimension", ctx.where(), shape_str(x.shape()));
    }
    Tensor& y = ctx.output(0, DType::kFloat32, x.shape());
    const int64_t n = x.dim(0), c = x.dim(1);
    if (n * c == 0) return;
    const int64_t plane = x.numel() / (n * c);
    // Channels c - floor((size-1)/2) .. c + ceil((size-1)/2), clipped to the tensor.
    const int64_t before = (size_ - 1) / 2, after = size_ - 1 - before;
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    const float scale = alpha_ / static_cast<float>(size_);
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelMin)
    for (int64_t nc = 0; nc < n * c; ++nc) {
      const int64_t b = nc / c, ch = nc % c;
      const int64_t lo = std::max<int64_t>(0, ch - before), hi = std::min<int64_t>(c - 1, ch + after);
      const float* src = xd + nc * plane;
      float* dst = yd + nc * plane;
      for (int64_t i = 0; i < plane; ++i) {
        float sum = 0.f;
        for (int64_t k = lo; k <= hi; ++k) {
          const float v = xd[(b * c + k) * plane + i];
          sum += v * v;
        }
        dst[i] = src[i] / std::pow(bias_ + scale * sum, beta_);
      }
    }
  }

  std::string impl() const override {
    return "loop:lrn";
  }

 private:
  int64_t size_ = 1;
  float alpha_ = 1e-4f, beta_ = 0.75f, bias_ = 1.f;
};

// ---- Softmax, LogSoftmax -----------------------------------------------------------------------

template <bool kLog>
class SoftmaxKernel final : public Kernel {
 public:
  SoftmaxKernel(const Node& node, const Graph& graph) {
    if (node.num_inputs() != 1) fail<ModelError>("{}: expects 1 input, got {}", graph.where(node), node.num_inputs());
    require_f32_model(node, graph, 0);
    // Before opset 13 the input is flattened to 2-D at `axis` and normalised along the second
    // dimension; from 13 on it is normalised along `axis` alone.
    flatten_ = graph.opset > 0 && graph.opset < 13;
    axis_ = node.attr_int("axis", flatten_ ? 1 : -1);
  }

  void run(OpContext& ctx) override {
    const Tensor& x = f32_input(ctx, 0);
    Tensor& y = ctx.output(0, DType::kFloat32, x.shape());
    if (x.rank() == 0) {
      y.data<float>()[0] = kLog ? 0.f : 1.f;
      return;
    }
    if (axis_ < -x.rank() || axis_ >= x.rank()) {
      fail<ShapeError>("{}: axis {} is out of range for a rank-{} input", ctx.where(), axis_, x.rank());
    }
    const int axis = static_cast<int>(axis_ < 0 ? axis_ + x.rank() : axis_);
    int64_t outer = 1, len = 1, inner = 1;
    for (int i = 0; i < axis; ++i) outer *= x.dim(i);
    if (flatten_) {
      for (int i = axis; i < x.rank(); ++i) len *= x.dim(i);
    } else {
      len = x.dim(axis);
      for (int i = axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
    }
    if (x.numel() == 0) return;
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    const int64_t rows = outer * inner;
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelMin)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t o = r / inner, j = r % inner;
      const float* src = xd + o * len * inner + j;
      float* dst = yd + o * len * inner + j;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < len; ++i) mx = std::max(mx, src[i * inner]);
      float sum = 0.f;
      if constexpr (kLog) {
        for (int64_t i = 0; i < len; ++i) sum += std::exp(src[i * inner] - mx);
        const float shift = mx + std::log(sum);
        for (int64_t i = 0; i < len; ++i) dst[i * inner] = src[i * inner] - shift;
      } else {
        for (int64_t i = 0; i < len; ++i) {
          const float e = std::exp(src[i * inner] - mx);
          dst[i * inner] = e;
          sum += e;
        }
        const float inv = 1.f / sum;
        for (int64_t i = 0; i < len; ++i) dst[i * inner] *= inv;
      }
    }
  }

  std::string impl() const override {
    return kLog ? "loop:log_softmax" : "loop:softmax";
  }

 private:
  bool flatten_ = false;
  int64_t axis_ = -1;
};

}  // namespace

std::unique_ptr<Kernel> make_batch_normalization(const Node& node, const Graph& graph) {
  return std::make_unique<BatchNormKernel>(node, graph);
}

std::unique_ptr<Kernel> make_lrn(const Node& node, const Graph& graph) {
  return std::make_unique<LrnKernel>(node, graph);
}

std::unique_ptr<Kernel> make_softmax(const Node& node, const Graph& graph) {
  return std::make_unique<SoftmaxKernel<false>>(node, graph);
}

std::unique_ptr<Kernel> make_log_softmax(const Node& node, const Graph& graph) {
  return std::make_unique<SoftmaxKernel<true>>(node, graph);
}

}  // namespace eff
