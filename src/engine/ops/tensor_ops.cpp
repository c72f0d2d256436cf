// Data movement: Concat, Split, Slice, Transpose, Gather, DepthToSpace, SpaceToDepth. These copy elements without
// looking at them, so they work for every dtype (bytes of dtype_size each).
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>
#include <numeric>

#include "engine/blocked_layout.h"
#include "engine/ops/tensor_helpers.h"

namespace eff {

namespace {

// Element-copy work below this many bytes stays on one thread.
constexpr int64_t kParallelBytes = int64_t{1} << 20;

// Copies a strided view of `src` into the contiguous `dst`: output dims `dims`, source element
// strides `src_strides` (per output dim), starting at element `src_offset`.
void strided_copy(const std::byte* src, int64_t src_offset, const Shape& dims, const std::vector<int64_t>& src_strides,
                  std::byte* dst, size_t esize) {
  const int64_t total = shape_numel(dims);
  if (total == 0) return;
  if (dims.empty()) {
    std::memcpy(dst, src + src_offset * esize, esize);
    return;
  }
  const int nd = static_cast<int>(dims.size());
  const int64_t inner = dims.back();
  const int64_t inner_stride = src_strides.back();
  const int64_t rows = total / inner;
  auto copy_row = [&](int64_t r) {
    int64_t rest = r, off = src_offset;
    for (int d = nd - 2; d >= 0; --d) {
      off += (rest % dims[d]) * src_strides[d];
      rest /= dims[d];
    }
    std::byte* out = dst + r * inner * static_cast<int64_t>(esize);
    if (inner_stride == 1) {
      std::memcpy(out, src + off * static_cast<int64_t>(esize), static_cast<size_t>(inner) * esize);
      return;
    }
    auto loop = [&](auto tag) {
      using U = decltype(tag);
      const U* s = reinterpret_cast<const U*>(src) + off;
      U* o = reinterpret_cast<U*>(out);
      for (int64_t i = 0; i < inner; ++i) o[i] = s[i * inner_stride];
    };
    switch (esize) {
      case 1:
        loop(uint8_t{});
        break;
      case 2:
        loop(uint16_t{});
        break;
      case 4:
        loop(uint32_t{});
        break;
      default:
        loop(uint64_t{});
        break;
    }
  };
  const bool parallel = total * static_cast<int64_t>(esize) >= kParallelBytes;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t r = 0; r < rows; ++r) copy_row(r);
}

int64_t product(const Shape& s, int begin, int end) {
  int64_t p = 1;
  for (int d = begin; d < end; ++d) p *= s[d];
  return p;
}

// ---- Concat ------------------------------------------------------------------------------------

class ConcatKernel final : public Kernel {
 public:
  explicit ConcatKernel(int64_t axis) : axis_(axis) {}

  void run(OpContext& ctx) override {
    const Tensor& first = ctx.input(0);
    const int rank = first.rank();
    if (rank == 0) fail<ShapeError>("{}: cannot concatenate scalars", ctx.where());
    const int axis = ops::normalize_axis(axis_, rank, ctx);
    Shape out_shape = first.shape();
    out_shape[axis] = 0;
    for (int i = 0; i < ctx.num_inputs(); ++i) {
      const Tensor& t = ctx.input(i);
      bool ok = t.dtype() == first.dtype() && t.rank() == rank;
      for (int d = 0; ok && d < rank; ++d) ok = d == axis || t.dim(d) == first.dim(d);
      if (!ok) {
        fail<ShapeError>("{}: input {} ({} {}) does not match input 0 ({} {}) outside axis {}", ctx.where(), i,
                         dtype_name(t.dtype()), shape_str(t.shape()), dtype_name(first.dtype()),
                         shape_str(first.shape()), axis);
      }
      out_shape[axis] += t.dim(axis);
    }
    Tensor& out = ctx.output(0, first.dtype(), out_shape);
    const int64_t esize = static_cast<int64_t>(dtype_size(first.dtype()));
    const int64_t outer = product(out_shape, 0, axis);
    const int64_t inner_bytes = product(out_shape, axis + 1, rank) * esize;
    const int64_t out_row = out_shape[axis] * inner_bytes;
    std::byte* dst = static_cast<std::byte*>(out.raw());
    int64_t column = 0;
    for (int i = 0; i < ctx.num_inputs(); ++i) {
      const Tensor& t = ctx.input(i);
      const int64_t block = t.dim(axis) * inner_bytes;
      const std::byte* src = static_cast<const std::byte*>(t.raw());
      if (block > 0) {
#pragma omp parallel for schedule(static) if (outer * block >= kParallelBytes)
        for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * out_row + column, src + o * block, block);
      }
      column += block;
    }
  }

 private:
  int64_t axis_;
};

// ---- Split -------------------------------------------------------------------------------------

class SplitKernel final : public Kernel {
 public:
  SplitKernel(int64_t axis, int64_t num_outputs) : axis_(axis), num_outputs_(num_outputs) {}

  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const int axis = ops::normalize_axis(axis_, in.rank(), ctx);
    const int64_t dim = in.dim(axis);
    const int n = ctx.num_outputs();
    const ops::IntOperand given = ops::int_operand(ctx, "split", 1);
    std::vector<int64_t> sizes;
    if (given.present) {
      sizes = given.values;
    } else if (num_outputs_ > 0) {
      // Opset 18: chunks of ceil(dim / n), the last one smaller.
      const int64_t chunk = (dim + num_outputs_ - 1) / num_outputs_;
      for (int64_t i = 0, left = dim; i < num_outputs_; ++i, left -= chunk) sizes.push_back(std::min(chunk, left));
    } else {
      if (dim % n != 0) {
        fail<ShapeError>("{}: axis {} of size {} does not split into {} equal parts", ctx.where(), axis, dim, n);
      }
      sizes.assign(static_cast<size_t>(n), dim / n);
    }
    int64_t sum = 0;
    for (int64_t s : sizes) {
      if (s < 0 || s > dim)
        fail<ShapeError>("{}: split size {} does not fit axis {} of size {}", ctx.where(), s, axis, dim);
      sum += s;
    }
    if (static_cast<int>(sizes.size()) != n || sum != dim) {
      fail<ShapeError>("{}: split sizes [{}] do not divide axis {} of size {} into {} outputs", ctx.where(),
                       fmt::join(sizes, ", "), axis, dim, n);
    }
    const int64_t esize = static_cast<int64_t>(dtype_size(in.dtype()));
    const int64_t outer = product(in.shape(), 0, axis);
    const int64_t inner_bytes = product(in.shape(), axis + 1, in.rank()) * esize;
    const int64_t in_row = dim * inner_bytes;
    const std::byte* src = static_cast<const std::byte*>(in.raw());
    int64_t column = 0;
    for (int i = 0; i < n; ++i) {
      Shape shape = in.shape();
      shape[axis] = sizes[i];
      Tensor& out = ctx.output(i, in.dtype(), shape);
      const int64_t block = sizes[i] * inner_bytes;
      std::byte* dst = static_cast<std::byte*>(out.raw());
      if (block > 0) {
#pragma omp parallel for schedule(static) if (outer * block >= kParallelBytes)
        for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * block, src + o * in_row + column, block);
      }
      column += block;
    }
  }

 private:
  int64_t axis_;
  int64_t num_outputs_;
};

// ---- Slice -------------------------------------------------------------------------------------

class SliceKernel final : public Kernel {
 public:
  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const int rank = in.rank();
    const ops::IntOperand starts = ops::int_operand(ctx, "starts", 1);
    const ops::IntOperand ends = ops::int_operand(ctx, "ends", 2);
    const ops::IntOperand axes_given = ops::int_operand(ctx, "axes", 3);
    const ops::IntOperand steps_given =
        ctx.node().has_attr("starts") ? ops::IntOperand{} : ops::int_operand(ctx, "steps", 4);
    if (!starts.present || !ends.present || starts.values.size() != ends.values.size()) {
      fail<ShapeError>("{}: starts and ends must be given with the same length", ctx.where());
    }
    const size_t k = starts.values.size();
    std::vector<int64_t> axes(k);
    if (axes_given.present) {
      if (axes_given.values.size() != k) fail<ShapeError>("{}: axes must have {} entries", ctx.where(), k);
      axes = axes_given.values;
    } else {
      std::iota(axes.begin(), axes.end(), 0);
    }
    std::vector<int64_t> steps(k, 1);
    if (steps_given.present) {
      if (steps_given.values.size() != k) fail<ShapeError>("{}: steps must have {} entries", ctx.where(), k);
      steps = steps_given.values;
    }
    const std::vector<int> norm_axes = ops::normalize_axes(axes, rank, ctx);

    Shape out_shape = in.shape();
    std::vector<int64_t> begin(static_cast<size_t>(rank), 0), step(static_cast<size_t>(rank), 1);
    for (size_t i = 0; i < k; ++i) {
      const int a = norm_axes[i];
      const int64_t dim = in.dim(a);
      const int64_t s = steps[i];
      if (s == 0) fail<ShapeError>("{}: step for axis {} is 0", ctx.where(), a);
      step[a] = s;
      if (dim == 0) {
        out_shape[a] = 0;
        continue;
      }
      // Negative positions count from the end; then clamp so that huge values like INT64_MAX
      // (meaning "to the end") and out-of-range starts select what exists.
      int64_t b = starts.values[i], e = ends.values[i];
      if (b < 0) b = b < -dim ? -1 : b + dim;  // stays in int64 range: dim >= 0
      if (e < 0) e = e < -dim ? -1 : e + dim;
      if (s > 0) {
        b = std::clamp<int64_t>(b, 0, dim);
        e = std::clamp<int64_t>(e, 0, dim);
        out_shape[a] = e > b ? 1 + (e - b - 1) / s : 0;
      } else {
        b = std::clamp<int64_t>(b, 0, dim - 1);
        e = std::clamp<int64_t>(e, -1, dim - 1);
        // |s| as unsigned: -INT64_MIN does not fit int64.
        const uint64_t magnitude = uint64_t{0} - static_cast<uint64_t>(s);
        out_shape[a] = b > e ? 1 + static_cast<int64_t>(static_cast<uint64_t>(b - e - 1) / magnitude) : 0;
      }
      begin[a] = b;
      if (out_shape[a] <= 1) step[a] = 1;  // a single element: keeps step * stride in range
    }
    Tensor& out = ctx.output(0, in.dtype(), out_shape);
    if (out.numel() == 0) return;
    const std::vector<int64_t> in_strides = ops::strides_of(in.shape());
    int64_t offset = 0;
    std::vector<int64_t> src_strides(static_cast<size_t>(rank));
    for (int d = 0; d < rank; ++d) {
      offset += begin[d] * in_strides[d];
      src_strides[d] = step[d] * in_strides[d];
    }
    strided_copy(static_cast<const std::byte*>(in.raw()), offset, out_shape, src_strides,
                 static_cast<std::byte*>(out.raw()), dtype_size(in.dtype()));
  }
};

// ---- Transpose ---------------------------------------------------------------------------------

class TransposeKernel final : public Kernel {
 public:
  explicit TransposeKernel(std::vector<int64_t> perm) : perm_(std::move(perm)) {}

  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    const int rank = in.rank();
    std::vector<int64_t> perm = perm_;
    if (perm.empty()) {
      for (int d = rank - 1; d >= 0; --d) perm.push_back(d);
    }
    if (static_cast<int>(perm.size()) != rank) {
      fail<ShapeError>("{}: perm has {} entries for a rank-{} input", ctx.where(), perm.size(), rank);
    }
    std::vector<char> seen(static_cast<size_t>(rank), 0);
    for (int64_t p : perm) {
      if (p < 0 || p >= rank || seen[p]) {
        fail<ShapeError>("{}: perm [{}] is not a permutation of 0..{}", ctx.where(), fmt::join(perm, ", "), rank - 1);
      }
      seen[p] = 1;
    }
    Shape out_shape(static_cast<size_t>(rank));
    for (int d = 0; d < rank; ++d) out_shape[d] = in.dim(static_cast<int>(perm[d]));
    Tensor& out = ctx.output(0, in.dtype(), out_shape);
    if (out.numel() == 0) return;
    // Input axes that stay adjacent and in order move together: merge them so that the inner
    // loop copies runs as long as possible.
    const std::vector<int64_t> in_strides = ops::strides_of(in.shape());
    Shape dims;
    std::vector<int64_t> strides;
    for (int d = 0; d < rank; ++d) {
      const int64_t n = out_shape[d];
      if (n == 1) continue;
      const int64_t s = in_strides[perm[d]];
      if (!dims.empty() && strides.back() == s * n) {
        dims.back() *= n;
        strides.back() = s;
      } else {
        dims.push_back(n);
        strides.push_back(s);
      }
    }
    const std::byte* src = static_cast<const std::byte*>(in.raw());
    std::byte* dst = static_cast<std::byte*>(out.raw());
    if (!dims.empty() && strides.back() != 1) {
      // The output's rows gather with a stride; read the input's contiguous axis in tiles instead.
      for (size_t p = 0; p + 1 < dims.size(); ++p) {
        if (strides[p] == 1) {
          ops::visit_element_bits(in.dtype(), [&](auto tag) {
            using U = decltype(tag);
            tiled_transpose(reinterpret_cast<const U*>(src), dims, strides, static_cast<int>(p),
                            reinterpret_cast<U*>(dst));
          });
          return;
        }
      }
    }
    strided_copy(src, 0, dims, strides, dst, dtype_size(in.dtype()));
  }

 private:
  // dims/strides describe the output (row-major) and the input element stride of each output
  // axis; axis p has input stride 1 and the last axis q does not. Copies 2-D tiles of (p, q) so
  // that both the reads along p and the writes along q stay within a few cache lines.
  template <class U>
  static void tiled_transpose(const U* src, const Shape& dims, const std::vector<int64_t>& strides, int p, U* dst) {
    constexpr int64_t kTile = 64;
    const int nd = static_cast<int>(dims.size());
    const int q = nd - 1;
    const std::vector<int64_t> out_strides = ops::strides_of(dims);
    const int64_t np = dims[p], nq = dims[q];
    const int64_t tiles_p = (np + kTile - 1) / kTile, tiles_q = (nq + kTile - 1) / kTile;
    int64_t outer = 1;
    for (int d = 0; d < q; ++d) {
      if (d != p) outer *= dims[d];
    }
    const int64_t jobs = outer * tiles_p * tiles_q;
    const int64_t sq = strides[q], op = out_strides[p];
#pragma omp parallel for schedule(static) if (shape_numel(dims) * static_cast <int64_t>(sizeof(U)) >= kParallelBytes)
    for (int64_t job = 0; job < jobs; ++job) {
      const int64_t tq = job % tiles_q, tp = (job / tiles_q) % tiles_p;
      int64_t rest = job / (tiles_q * tiles_p), src_off = 0, dst_off = 0;
      for (int d = q - 1; d >= 0; --d) {
        if (d == p) continue;
        const int64_t idx = rest % dims[d];
        rest /= dims[d];
        src_off += idx * strides[d];
        dst_off += idx * out_strides[d];
      }
      const int64_t p_end = std::min(np, (tp + 1) * kTile), q_end = std::min(nq, (tq + 1) * kTile);
      for (int64_t i = tp * kTile; i < p_end; ++i) {
        const U* s = src + src_off + i;
        U* o = dst + dst_off + i * op;
        for (int64_t j = tq * kTile; j < q_end; ++j) o[j] = s[j * sq];
      }
    }
  }

  std::vector<int64_t> perm_;
};

// ---- Gather ------------------------------------------------------------------------------------

class GatherKernel final : public Kernel {
 public:
  explicit GatherKernel(int64_t axis) : axis_(axis) {}

  void run(OpContext& ctx) override {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    if (indices.dtype() != DType::kInt64 && indices.dtype() != DType::kInt32) {
      fail<ShapeError>("{}: indices must be int32 or int64, got {}", ctx.where(), dtype_name(indices.dtype()));
    }
    const int axis = ops::normalize_axis(axis_, data.rank(), ctx);
    const int64_t dim = data.dim(axis);
    std::vector<int64_t> idx = indices.to_i64_vector();
    for (int64_t& i : idx) {
      if (i < -dim || i >= dim) {
        fail<ShapeError>("{}: index {} is out of range for axis {} of size {}", ctx.where(), i, axis, dim);
      }
      if (i < 0) i += dim;
    }
    Shape out_shape(data.shape().begin(), data.shape().begin() + axis);
    out_shape.insert(out_shape.end(), indices.shape().begin(), indices.shape().end());
    out_shape.insert(out_shape.end(), data.shape().begin() + axis + 1, data.shape().end());
    Tensor& out = ctx.output(0, data.dtype(), out_shape);
    if (out.numel() == 0) return;
    const int64_t esize = static_cast<int64_t>(dtype_size(data.dtype()));
    const int64_t outer = product(data.shape(), 0, axis);
    const int64_t inner_bytes = product(data.shape(), axis + 1, data.rank()) * esize;
    const int64_t count = static_cast<int64_t>(idx.size());
    const std::byte* src = static_cast<const std::byte*>(data.raw());
    std::byte* dst = static_cast<std::byte*>(out.raw());
#pragma omp parallel for schedule(static) if (outer * count * inner_bytes >= kParallelBytes)
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < count; ++j) {
        std::memcpy(dst + (o * count + j) * inner_bytes, src + (o * dim + idx[j]) * inner_bytes, inner_bytes);
      }
    }
  }

 private:
  int64_t axis_;
};

// ---- DepthToSpace, SpaceToDepth ----------------------------------------------------------------

// Both are a reshape to 6-D, a transpose and a reshape back: one strided copy of the 4-D input.
class SpaceDepthKernel final : public Kernel {
 public:
  enum class Mode { kDepthToSpaceDcr, kDepthToSpaceCrd, kSpaceToDepth };
  SpaceDepthKernel(Mode mode, int64_t block) : mode_(mode), block_(block) {}

  void run(OpContext& ctx) override {
    const Tensor& in = ctx.input(0);
    if (in.rank() != 4)
      fail<ShapeError>("{}: input must be 4-D (N x C x H x W), got {}", ctx.where(), shape_str(in.shape()));
    const int64_t n = in.dim(0), c = in.dim(1), h = in.dim(2), w = in.dim(3), b = block_;
    // Blocks must fit (b <= H, W or b * b <= C): this also keeps b * b and C * b * b in range.
    const bool fits = mode_ == Mode::kSpaceToDepth ? b <= h && b <= w : b <= c / b;
    if (!fits) fail<ShapeError>("{}: blocksize {} does not fit the input {}", ctx.where(), b, shape_str(in.shape()));
    const int64_t sn = c * h * w;
    Shape dims;                // the 6-D output view
    std::vector<int64_t> src;  // input element stride of each of its axes
    Shape out_shape;
    if (mode_ == Mode::kSpaceToDepth) {
      if (h % b != 0 || w % b != 0) {
        fail<ShapeError>("{}: H and W of {} must be multiples of blocksize {}", ctx.where(), shape_str(in.shape()), b);
      }
      // [N, C, H/b, b, W/b, b] -> [N, b, b, C, H/b, W/b]
      dims = {n, b, b, c, h / b, w / b};
      src = {sn, w, 1, h * w, b * w, b};
      out_shape = {n, c * b * b, h / b, w / b};
    } else {
      if (c % (b * b) != 0) {
        fail<ShapeError>("{}: channels of {} must be a multiple of blocksize^2 = {}", ctx.where(),
                         shape_str(in.shape()), b * b);
      }
      const int64_t cb = c / (b * b), hw = h * w;
      dims = {n, cb, h, b, w, b};
      if (mode_ == Mode::kDepthToSpaceDcr) {
        // [N, b1, b2, C', H, W] -> [N, C', H, b1, W, b2]
        src = {sn, hw, w, b * cb * hw, 1, cb * hw};
      } else {
        // [N, C', b1, b2, H, W] -> [N, C', H, b1, W, b2]
        src = {sn, b * b * hw, w, b * hw, 1, hw};
      }
      out_shape = {n, cb, h * b, w * b};
    }
    Tensor& out = ctx.output(0, in.dtype(), out_shape);
    strided_copy(static_cast<const std::byte*>(in.raw()), 0, dims, src, static_cast<std::byte*>(out.raw()),
                 dtype_size(in.dtype()));
  }

 private:
  Mode mode_;
  int64_t block_;
};

}  // namespace

std::unique_ptr<Kernel> make_concat(const Node& node, const Graph& graph) {
  if (writes_blocked(node)) return make_blocked_concat(node, graph);  // ops/blocked_ops.cpp
  if (!node.has_attr("axis") && graph.opset >= 4) {
    fail<ModelError>("{}: attribute 'axis' is missing", graph.where(node));
  }
  return std::make_unique<ConcatKernel>(node.attr_int("axis", 1));
}

std::unique_ptr<Kernel> make_split(const Node& node, const Graph& graph) {
  const int64_t num_outputs = node.attr_int("num_outputs", 0);
  if (num_outputs < 0 || (num_outputs > 0 && num_outputs != static_cast<int64_t>(node.outputs.size()))) {
    fail<ModelError>("{}: num_outputs={} but the node has {} outputs", graph.where(node), num_outputs,
                     node.outputs.size());
  }
  return std::make_unique<SplitKernel>(node.attr_int("axis", 0), num_outputs);
}

std::unique_ptr<Kernel> make_slice(const Node& node, const Graph& graph) {
  if (!node.has_attr("starts") && node.num_inputs() < 3) {
    fail<ModelError>("{}: needs starts and ends (inputs or attributes)", graph.where(node));
  }
  return std::make_unique<SliceKernel>();
}

std::unique_ptr<Kernel> make_transpose(const Node& node, const Graph&) {
  return std::make_unique<TransposeKernel>(node.attr_ints("perm"));
}

std::unique_ptr<Kernel> make_gather(const Node& node, const Graph&) {
  return std::make_unique<GatherKernel>(node.attr_int("axis", 0));
}

std::unique_ptr<Kernel> make_depth_to_space(const Node& node, const Graph& graph) {
  const int64_t block = node.attr_int("blocksize", 0);
  if (block <= 0) fail<ModelError>("{}: blocksize must be positive, got {}", graph.where(node), block);
  const std::string mode = node.attr_string("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") fail<UnsupportedError>("{}: mode '{}' is not supported", graph.where(node), mode);
  return std::make_unique<SpaceDepthKernel>(
      mode == "DCR" ? SpaceDepthKernel::Mode::kDepthToSpaceDcr : SpaceDepthKernel::Mode::kDepthToSpaceCrd, block);
}

std::unique_ptr<Kernel> make_space_to_depth(const Node& node, const Graph& graph) {
  const int64_t block = node.attr_int("blocksize", 0);
  if (block <= 0) fail<ModelError>("{}: blocksize must be positive, got {}", graph.where(node), block);
  return std::make_unique<SpaceDepthKernel>(SpaceDepthKernel::Mode::kSpaceToDepth, block);
}

}  // namespace eff
