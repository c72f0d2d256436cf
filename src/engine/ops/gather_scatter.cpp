// Index-driven ops of detection and NLP post-processing: TopK, NonZero, GatherND, ScatterND,
// ScatterElements, OneHot, EyeLike. Every index is checked against its axis (negative ones count
// from the end) and a bad one is one ShapeError naming the node.
#include <algorithm>
#include <numeric>
#include <optional>
#include <type_traits>

#include "engine/ops/broadcast.h"
#include "onnx/tensor_proto.h"

namespace eff {

namespace {

using namespace ops;

int64_t checked_index(const OpContext& ctx, int64_t idx, int64_t dim, int axis) {
  if (idx < -dim || idx >= dim) {
    fail<ShapeError>("{}: index {} is out of range for axis {} of size {}", ctx.where(), idx, axis, dim);
  }
  return idx < 0 ? idx + dim : idx;
}

void require_index_tensor(const OpContext& ctx, const Tensor& t) {
  if (t.dtype() != DType::kInt64 && t.dtype() != DType::kInt32) {
    fail<ShapeError>("{}: indices must be int32 or int64, got {}", ctx.where(), dtype_name(t.dtype()));
  }
}

// ---- TopK --------------------------------------------------------------------------------------

class TopKKernel final : public Kernel {
 public:
  // k_attr >= 0: opsets 1-9, where K is the attribute 'k' instead of input 1.
  TopKKernel(int64_t axis, bool largest, int64_t k_attr) : axis_(axis), largest_(largest), k_attr_(k_attr) {}

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    int64_t k = k_attr_;
    if (k < 0) {
      const Tensor& k_in = ctx.input(1);
      if (k_in.numel() != 1 || (k_in.dtype() != DType::kInt64 && k_in.dtype() != DType::kInt32)) {
        fail<ShapeError>("{}: K must be one int64 value, got {} {}", ctx.where(), dtype_name(k_in.dtype()),
                         shape_str(k_in.shape()));
      }
      k = k_in.get_i64(0);
    }
    const int axis = normalize_axis(axis_, x.rank(), ctx);
    const int64_t len = x.dim(axis);
    if (k < 0 || k > len) fail<ShapeError>("{}: K = {} for an axis of size {}", ctx.where(), k, len);
    Shape out_shape = x.shape();
    out_shape[axis] = k;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= x.dim(d);
    for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
    Tensor& values = ctx.output(0, x.dtype(), out_shape);
    Tensor& indices = ctx.output(1, DType::kInt64, out_shape);
    const bool largest = largest_;
    const bool ok = visit_numeric(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* xd = x.data<T>();
      T* vd = values.data<T>();
      int64_t* id = indices.data<int64_t>();
      std::vector<int64_t> order(static_cast<size_t>(len));
      for (int64_t p = 0; p < outer * inner; ++p) {
        const T* row = xd + (p / inner) * len * inner + p % inner;
        std::iota(order.begin(), order.end(), 0);
        // Ties keep the lower index first, as ONNX Runtime does.
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t a, int64_t b) {
          const T va = row[a * inner], vb = row[b * inner];
          if (va != vb) return largest ? va > vb : va < vb;
          return a < b;
        });
        const int64_t base = (p / inner) * k * inner + p % inner;
        for (int64_t j = 0; j < k; ++j) {
          vd[base + j * inner] = row[order[j] * inner];
          id[base + j * inner] = order[j];
        }
      }
    });
    if (!ok) fail<ShapeError>("{}: TopK of {} is not supported", ctx.where(), dtype_name(x.dtype()));
  }

 private:
  int64_t axis_;
  bool largest_;
  int64_t k_attr_;
};

// ---- NonZero -----------------------------------------------------------------------------------

class NonZeroKernel final : public Kernel {
 public:
  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    std::vector<int64_t> hits;
    auto collect = [&](auto tag) {
      using T = decltype(tag);
      const T* d = static_cast<const T*>(x.raw());
      for (int64_t i = 0; i < x.numel(); ++i) {
        if (d[i] != T(0)) hits.push_back(i);
      }
    };
    if (x.dtype() == DType::kBool) {
      collect(uint8_t{});
    } else if (!visit_numeric(x.dtype(), collect)) {
      fail<ShapeError>("{}: NonZero of {} is not supported", ctx.where(), dtype_name(x.dtype()));
    }
    const int rank = x.rank();
    const int64_t n = static_cast<int64_t>(hits.size());
    Tensor& out = ctx.output(0, DType::kInt64, {rank, n});
    int64_t* o = out.data<int64_t>();
    for (int64_t j = 0; j < n; ++j) {
      int64_t rest = hits[j];
      for (int d = rank - 1; d >= 0; --d) {
        o[d * n + j] = rest % x.dim(d);
        rest /= x.dim(d);
      }
    }
  }
};

// ---- GatherND ----------------------------------------------------------------------------------

class GatherNDKernel final : public Kernel {
 public:
  explicit GatherNDKernel(int64_t batch_dims) : batch_dims_(batch_dims) {}

  void run(OpContext& ctx) override {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    require_index_tensor(ctx, indices);
    const int b = static_cast<int>(batch_dims_);
    const int64_t q = indices.rank() > 0 ? indices.dim(-1) : -1;
    if (indices.rank() < 1 || b < 0 || b >= indices.rank() || b > data.rank() || q < 1 || b + q > data.rank()) {
      fail<ShapeError>("{}: indices {} with batch_dims {} do not fit data {}", ctx.where(), shape_str(indices.shape()),
                       b, shape_str(data.shape()));
    }
    for (int d = 0; d < b; ++d) {
      if (indices.dim(d) != data.dim(d)) {
        fail<ShapeError>("{}: batch dimension {} differs between data {} and indices {}", ctx.where(), d,
                         shape_str(data.shape()), shape_str(indices.shape()));
      }
    }
    Shape out_shape(indices.shape().begin(), indices.shape().end() - 1);
    out_shape.insert(out_shape.end(), data.shape().begin() + b + q, data.shape().end());
    Tensor& out = ctx.output(0, data.dtype(), out_shape);
    const std::vector<int64_t> strides = strides_of(data.shape());
    int64_t batches = 1;
    for (int d = 0; d < b; ++d) batches *= data.dim(d);
    const int64_t per_batch = batches > 0 ? (indices.numel() / q) / batches : 0;
    const int64_t slice = b + q < data.rank() ? strides[b + q - 1] : 1;
    const int64_t batch_stride = b > 0 ? strides[b - 1] : 0;
    const size_t esize = dtype_size(data.dtype());
    const std::byte* src = static_cast<const std::byte*>(data.raw());
    std::byte* dst = static_cast<std::byte*>(out.raw());
    for (int64_t bi = 0; bi < batches; ++bi) {
      for (int64_t n = 0; n < per_batch; ++n) {
        const int64_t tuple = (bi * per_batch + n) * q;
        int64_t off = bi * batch_stride;
        for (int64_t j = 0; j < q; ++j) {
          const int axis = b + static_cast<int>(j);
          off += checked_index(ctx, indices.get_i64(tuple + j), data.dim(axis), axis) * strides[axis];
        }
        std::memcpy(dst + (bi * per_batch + n) * slice * esize, src + off * esize, static_cast<size_t>(slice) * esize);
      }
    }
  }

 private:
  int64_t batch_dims_;
};

// ---- ScatterND, ScatterElements ------------------------------------------------------------------

enum class ScatterReduction { kNone, kAdd, kMul, kMax, kMin };

ScatterReduction parse_reduction(const Node& node, const Graph& graph) {
  const std::string r = node.attr_string("reduction", "none");
  if (r == "none") return ScatterReduction::kNone;
  if (r == "add") return ScatterReduction::kAdd;
  if (r == "mul") return ScatterReduction::kMul;
  if (r == "max") return ScatterReduction::kMax;
  if (r == "min") return ScatterReduction::kMin;
  fail<UnsupportedError>("{}: reduction '{}' is not supported", graph.where(node), r);
}

template <class T>
inline T scatter_combine(ScatterReduction r, T old, T v) {
  switch (r) {
    case ScatterReduction::kNone:
      return v;
    case ScatterReduction::kAdd:
      return static_cast<T>(old + v);
    case ScatterReduction::kMul:
      return static_cast<T>(old * v);
    case ScatterReduction::kMax:
      return std::max(old, v);
    case ScatterReduction::kMin:
      return std::min(old, v);
  }
  return v;
}

// Calls f(T{}) with the element type for the reduction: numeric types for add/mul/max/min, the
// element's bits for plain replacement (any dtype).
template <class F>
void visit_scatter(const OpContext& ctx, DType dtype, ScatterReduction r, F&& f) {
  if (r == ScatterReduction::kNone) {
    visit_element_bits(dtype, f);
  } else if (!visit_numeric(dtype, f)) {
    fail<ShapeError>("{}: reduction over {} is not supported", ctx.where(), dtype_name(dtype));
  }
}

class ScatterNDKernel final : public Kernel {
 public:
  explicit ScatterNDKernel(ScatterReduction r) : reduction_(r) {}

  void run(OpContext& ctx) override {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const Tensor& updates = ctx.input(2);
    require_index_tensor(ctx, indices);
    const int64_t q = indices.rank() > 0 ? indices.dim(-1) : 0;
    Shape want(indices.shape().begin(), indices.shape().end() - (indices.rank() > 0 ? 1 : 0));
    if (q >= 1 && q <= data.rank()) want.insert(want.end(), data.shape().begin() + q, data.shape().end());
    if (q < 1 || q > data.rank() || updates.shape() != want || updates.dtype() != data.dtype()) {
      fail<ShapeError>("{}: data {}, indices {} and updates {} {} do not fit together", ctx.where(),
                       shape_str(data.shape()), shape_str(indices.shape()), dtype_name(updates.dtype()),
                       shape_str(updates.shape()));
    }
    Tensor& out = ctx.output(0, data.dtype(), data.shape());
    if (data.nbytes()) std::memcpy(out.raw(), data.raw(), data.nbytes());
    const std::vector<int64_t> strides = strides_of(data.shape());
    const int64_t slice = q < data.rank() ? strides[q - 1] : 1;
    const int64_t tuples = indices.numel() / q;
    const ScatterReduction r = reduction_;
    visit_scatter(ctx, data.dtype(), r, [&](auto tag) {
      using T = decltype(tag);
      T* o = static_cast<T*>(out.raw());
      const T* u = static_cast<const T*>(updates.raw());
      for (int64_t t = 0; t < tuples; ++t) {
        int64_t off = 0;
        for (int64_t j = 0; j < q; ++j) {
          const int axis = static_cast<int>(j);
          off += checked_index(ctx, indices.get_i64(t * q + j), data.dim(axis), axis) * strides[axis];
        }
        for (int64_t e = 0; e < slice; ++e) o[off + e] = scatter_combine<T>(r, o[off + e], u[t * slice + e]);
      }
    });
  }

 private:
  ScatterReduction reduction_;
};

class ScatterElementsKernel final : public Kernel {
 public:
  ScatterElementsKernel(int64_t axis, ScatterReduction r) : axis_(axis), reduction_(r) {}

  void run(OpContext& ctx) override {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    const Tensor& updates = ctx.input(2);
    require_index_tensor(ctx, indices);
    const int rank = data.rank();
    bool ok =
        rank > 0 && indices.rank() == rank && updates.shape() == indices.shape() && updates.dtype() == data.dtype();
    for (int d = 0; ok && d < rank; ++d) ok = indices.dim(d) <= data.dim(d);
    if (!ok) {
      fail<ShapeError>("{}: data {}, indices {} and updates {} {} do not fit together", ctx.where(),
                       shape_str(data.shape()), shape_str(indices.shape()), dtype_name(updates.dtype()),
                       shape_str(updates.shape()));
    }
    const int axis = normalize_axis(axis_, rank, ctx);
    Tensor& out = ctx.output(0, data.dtype(), data.shape());
    if (data.nbytes()) std::memcpy(out.raw(), data.raw(), data.nbytes());
    const std::vector<int64_t> strides = strides_of(data.shape());
    const ScatterReduction r = reduction_;
    visit_scatter(ctx, data.dtype(), r, [&](auto tag) {
      using T = decltype(tag);
      T* o = static_cast<T*>(out.raw());
      const T* u = static_cast<const T*>(updates.raw());
      for (int64_t i = 0; i < indices.numel(); ++i) {
        const int64_t idx = checked_index(ctx, indices.get_i64(i), data.dim(axis), axis);
        int64_t rest = i, off = 0;
        for (int d = rank - 1; d >= 0; --d) {
          const int64_t c = rest % indices.dim(d);
          rest /= indices.dim(d);
          off += (d == axis ? idx : c) * strides[d];
        }
        o[off] = scatter_combine<T>(r, o[off], u[i]);
      }
    });
  }

 private:
  int64_t axis_;
  ScatterReduction reduction_;
};

// ---- OneHot ------------------------------------------------------------------------------------

class OneHotKernel final : public Kernel {
 public:
  explicit OneHotKernel(int64_t axis) : axis_(axis) {}

  void run(OpContext& ctx) override {
    const Tensor& indices = ctx.input(0);
    const Tensor& depth_in = ctx.input(1);
    const Tensor& values = ctx.input(2);
    if (depth_in.numel() != 1 || !is_numeric(depth_in.dtype()) || !is_numeric(indices.dtype())) {
      fail<ShapeError>("{}: depth must be one number and indices numeric, got {} {} and {}", ctx.where(),
                       dtype_name(depth_in.dtype()), shape_str(depth_in.shape()), dtype_name(indices.dtype()));
    }
    if (values.numel() != 2) {
      fail<ShapeError>("{}: values must hold [off, on], got {}", ctx.where(), shape_str(values.shape()));
    }
    const double depth_value = depth_in.get_f64(0);
    if (!(depth_value >= 1)) fail<ShapeError>("{}: depth {} is not positive", ctx.where(), depth_value);
    const int out_rank = indices.rank() + 1;
    const int axis = normalize_axis(axis_, out_rank, ctx);
    Shape out_shape = indices.shape();
    // Bounded before the cast: a depth beyond the tensor limit is refused by the size check.
    const int64_t depth = depth_value > 1e15 ? int64_t{1} << 50 : static_cast<int64_t>(depth_value);
    out_shape.insert(out_shape.begin() + axis, depth);
    Tensor& out = broadcast_output(ctx, 0, values.dtype(), out_shape);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= out_shape[d];
    for (int d = axis + 1; d < out_rank; ++d) inner *= out_shape[d];
    visit_element_bits(values.dtype(), [&](auto tag) {
      using U = decltype(tag);
      const U off = static_cast<const U*>(values.raw())[0], on = static_cast<const U*>(values.raw())[1];
      U* o = static_cast<U*>(out.raw());
      std::fill(o, o + out.numel(), off);
      for (int64_t a = 0; a < outer; ++a) {
        for (int64_t c = 0; c < inner; ++c) {
          const double raw = indices.get_f64(a * inner + c);
          int64_t idx = static_cast<int64_t>(std::clamp(raw, -1e15, 1e15));
          if (idx < 0) idx += depth;
          if (idx >= 0 && idx < depth) o[(a * depth + idx) * inner + c] = on;  // else all "off"
        }
      }
    });
  }

 private:
  int64_t axis_;
};

// ---- EyeLike -----------------------------------------------------------------------------------

class EyeLikeKernel final : public Kernel {
 public:
  EyeLikeKernel(std::optional<DType> dtype, int64_t k) : dtype_(dtype), k_(k) {}

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    if (x.rank() != 2) fail<ShapeError>("{}: input must be 2-D, got {}", ctx.where(), shape_str(x.shape()));
    const DType dtype = dtype_.value_or(x.dtype());
    Tensor& out = ctx.output(0, dtype, x.shape());
    const uint64_t one = element_bits_from_double(dtype, 1.0);
    const int64_t rows = x.dim(0), cols = x.dim(1), k = k_;
    visit_element_bits(dtype, [&](auto tag) {
      using U = decltype(tag);
      U* o = static_cast<U*>(out.raw());
      std::fill(o, o + out.numel(), U(0));
      for (int64_t i = 0; i < rows; ++i) {
        if (k >= cols - i || k < -i) continue;  // the diagonal misses row i (no overflow for any k)
        o[i * cols + i + k] = static_cast<U>(one);
      }
    });
  }

 private:
  std::optional<DType> dtype_;
  int64_t k_;
};

}  // namespace

std::unique_ptr<Kernel> make_top_k(const Node& node, const Graph& graph) {
  const bool k_attribute = graph.opset > 0 && graph.opset < 10;
  if (node.num_inputs() != (k_attribute ? 1 : 2)) {
    fail<ModelError>("{}: expects {} inputs, got {}", graph.where(node), k_attribute ? 1 : 2, node.num_inputs());
  }
  const int64_t k = k_attribute ? node.attr_int("k", -1) : -1;
  if (k_attribute && k < 0) fail<ModelError>("{}: attribute 'k' is missing or negative", graph.where(node));
  return std::make_unique<TopKKernel>(node.attr_int("axis", -1), node.attr_int("largest", 1) != 0, k);
}

std::unique_ptr<Kernel> make_non_zero(const Node&, const Graph&) {
  return std::make_unique<NonZeroKernel>();
}

std::unique_ptr<Kernel> make_gather_nd(const Node& node, const Graph&) {
  return std::make_unique<GatherNDKernel>(node.attr_int("batch_dims", 0));
}

std::unique_ptr<Kernel> make_scatter_nd(const Node& node, const Graph& graph) {
  if (node.num_inputs() != 3) fail<ModelError>("{}: expects 3 inputs, got {}", graph.where(node), node.num_inputs());
  return std::make_unique<ScatterNDKernel>(parse_reduction(node, graph));
}

std::unique_ptr<Kernel> make_scatter_elements(const Node& node, const Graph& graph) {
  if (node.num_inputs() != 3) fail<ModelError>("{}: expects 3 inputs, got {}", graph.where(node), node.num_inputs());
  return std::make_unique<ScatterElementsKernel>(node.attr_int("axis", 0), parse_reduction(node, graph));
}

std::unique_ptr<Kernel> make_one_hot(const Node& node, const Graph& graph) {
  if (node.num_inputs() != 3) fail<ModelError>("{}: expects 3 inputs, got {}", graph.where(node), node.num_inputs());
  return std::make_unique<OneHotKernel>(node.attr_int("axis", -1));
}

std::unique_ptr<Kernel> make_eye_like(const Node& node, const Graph& graph) {
  std::optional<DType> dtype;
  if (node.has_attr("dtype")) {
    dtype = dtype_from_onnx(static_cast<int32_t>(node.attr_int("dtype", 1)), graph.where(node) + ": attribute 'dtype'");
  }
  return std::make_unique<EyeLikeKernel>(dtype, node.attr_int("k", 0));
}

}  // namespace eff
