// Pad: constant, reflect, edge and wrap modes; negative pads crop. Pads come from the 'pads'
// (opset 2-10) or 'paddings' (opset 1) attribute, or from inputs (opset 11+, with the optional
// constant_value and, from opset 18, axes inputs).
#include <fmt/ranges.h>

#include <algorithm>

#include "engine/ops/tensor_helpers.h"

namespace eff {

namespace {

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

class PadKernel final : public Kernel {
 public:
  PadKernel(PadMode mode, float attr_value) : mode_(mode), attr_value_(attr_value) {}

  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const int rank = in.rank();
    ops::IntOperand pads = ops::int_operand(ctx, "pads", 1);
    if (!pads.present) pads = ops::int_operand(ctx, "paddings", 1);
    if (!pads.present) fail<ShapeError>("{}: pads are missing", ctx.where());

    std::vector<int> axes;
    if (ctx.has_input(3)) {
      axes = ops::normalize_axes(ctx.input(3).to_i64_vector(), rank, ctx);
    } else {
      for (int d = 0; d < rank; ++d) axes.push_back(d);
    }
    const size_t k = axes.size();
    if (pads.values.size() != 2 * k) {
      fail<ShapeError>("{}: pads [{}] must have {} entries for input shape {}", ctx.where(),
                       fmt::join(pads.values, ", "), 2 * k, shape_str(in.shape()));
    }
    std::vector<int64_t> before(static_cast<size_t>(rank), 0), after(static_cast<size_t>(rank), 0);
    for (size_t i = 0; i < k; ++i) {
      before[axes[i]] = pads.values[i];
      after[axes[i]] = pads.values[i + k];
    }

    Shape out_shape(static_cast<size_t>(rank));
    for (int d = 0; d < rank; ++d) {
      const int64_t n = in.dim(d);
      out_shape[d] = n + before[d] + after[d];
      if (out_shape[d] < 0) {
        fail<ShapeError>("{}: pads {} / {} make axis {} of size {} negative", ctx.where(), before[d], after[d], d, n);
      }
      if (mode_ != PadMode::kConstant && n == 0 && out_shape[d] > 0) {
        fail<ShapeError>("{}: cannot pad the empty axis {} in this mode", ctx.where(), d);
      }
    }
    // The source index along axis d of output position o (-1: the constant value).
    auto source = [&](int d, int64_t o) -> int64_t {
      const int64_t n = in.dim(d);
      const int64_t i = o - before[d];
      if (i >= 0 && i < n) return i;
      switch (mode_) {
        case PadMode::kConstant:
          return -1;
        case PadMode::kEdge:
          return i < 0 ? 0 : n - 1;
        case PadMode::kWrap:
          return ((i % n) + n) % n;
        case PadMode::kReflect: {
          if (n == 1) return 0;
          const int64_t period = 2 * (n - 1);
          const int64_t m = ((i % period) + period) % period;
          return m < n ? m : period - m;
        }
      }
      return -1;
    };

    Tensor& out = ctx.output(0, in.dtype(), out_shape);
    if (out.numel() == 0) return;
    uint64_t fill_bits = 0;
    if (ctx.has_input(2) && ctx.input(2).numel() > 0) {
      const Tensor& v = ctx.input(2);
      if (v.dtype() == in.dtype()) {
        std::memcpy(&fill_bits, v.raw(), dtype_size(v.dtype()));
      } else {
        fill_bits = ops::element_bits_from_double(in.dtype(), v.get_f64(0));
      }
    } else {
      fill_bits = ops::element_bits_from_double(in.dtype(), attr_value_);
    }

    ops::visit_element_bits(in.dtype(), [&](auto tag) {
      using U = decltype(tag);
      const U fill = static_cast<U>(fill_bits);
      const U* src = static_cast<const U*>(in.raw());
      U* dst = static_cast<U*>(out.raw());
      if (rank == 0) {
        dst[0] = src[0];
        return;
      }
      const std::vector<int64_t> in_strides = ops::strides_of(in.shape());
      const int last = rank - 1;
      const int64_t inner = out_shape[last];
      const int64_t rows = out.numel() / inner;
      // Along the last axis, outputs [copy_begin, copy_end) come straight from the input row.
      const int64_t copy_begin = std::clamp<int64_t>(before[last], 0, inner);
      const int64_t copy_end = std::clamp<int64_t>(before[last] + in.dim(last), copy_begin, inner);
#pragma omp parallel for schedule(static) if (out.numel() >= ops::kParallelElements)
      for (int64_t r = 0; r < rows; ++r) {
        U* row = dst + r * inner;
        int64_t rest = r, off = 0;
        bool constant_row = false;
        for (int d = rank - 2; d >= 0; --d) {
          const int64_t s = source(d, rest % out_shape[d]);
          rest /= out_shape[d];
          if (s < 0) constant_row = true;
          off += s * in_strides[d];
        }
        if (constant_row) {
          for (int64_t i = 0; i < inner; ++i) row[i] = fill;
          continue;
        }
        const U* in_row = src + off;
        for (int64_t i = 0; i < copy_begin; ++i) {
          const int64_t s = source(last, i);
          row[i] = s < 0 ? fill : in_row[s];
        }
        const int64_t shift = before[last];
        for (int64_t i = copy_begin; i < copy_end; ++i) row[i] = in_row[i - shift];
        for (int64_t i = copy_end; i < inner; ++i) {
          const int64_t s = source(last, i);
          row[i] = s < 0 ? fill : in_row[s];
        }
      }
    });
  }

 private:
  PadMode mode_;
  float attr_value_;
};

}  // namespace

std::unique_ptr<Kernel> make_pad(const Node& node, const Graph& graph) {
  const std::string mode = node.attr_string("mode", "constant");
  PadMode m;
  if (mode == "constant") {
    m = PadMode::kConstant;
  } else if (mode == "reflect") {
    m = PadMode::kReflect;
  } else if (mode == "edge") {
    m = PadMode::kEdge;
  } else if (mode == "wrap") {
    m = PadMode::kWrap;
  } else {
    fail<UnsupportedError>("{}: mode '{}' is not supported", graph.where(node), mode);
  }
  if (!node.has_attr("pads") && !node.has_attr("paddings") && node.num_inputs() < 2) {
    fail<ModelError>("{}: pads are missing", graph.where(node));
  }
  return std::make_unique<PadKernel>(m, node.attr_float("value", 0.0f));
}

}  // namespace eff
