// Gemm and MatMul on oneDNN's matmul primitive. Plans (primitive + memory objects + argument
// map) are cached per input shape and thread count; constant right-hand operands are reordered
// once into the primitive's preferred layout. Transposes are expressed as strides, so no operand
// is copied. A fused Relu (attribute activation="Relu") is an eltwise post-op.
//
// Gemm's C: when it can be the primitive's bias (beta folded into a constant C, or beta = 1; alpha
// folded into constant B, or alpha = 1) it is; otherwise Y is first filled with C broadcast and the
// primitive accumulates into it (sum post-op with scale beta, output scale alpha).
#include <algorithm>
#include <initializer_list>
#include <memory>
#include <unordered_map>

#include "engine/ops/dnnl_common.h"

namespace eff {

namespace {

using namespace ops;
using dnnl::memory;

constexpr size_t kMaxPlans = 8;

struct MatmulPlan {
  std::vector<Shape> key;  // input shapes (an omitted input: no entry)
  int threads = 0;
  Shape y_shape;
  std::string impl = "dnnl";
  bool trivial = false;    // empty output, or K = 0 (no primitive)
  bool c_as_bias = false;  // Gemm: C (or beta * C) is the primitive's bias
  dnnl::matmul prim;
  memory src, wei_user, wei, bias, dst;
  dnnl::reorder wei_reorder;
  bool weights_prepacked = false;
  std::unordered_map<int, memory> args;
};

// Builds the primitive and its memory objects. `packed` holds the constant right-hand operand
// (if any); `wei_user_md` describes it (or the run-time operand) as stored.
void build_matmul(MatmulPlan& plan, OpContext& ctx, const memory::desc& src_md, const memory::desc& wei_user_md,
                  const memory::desc& bias_md, const memory::desc& dst_md, const dnnl::primitive_attr& attr,
                  PackedWeights& packed, Scratchpad& scratchpad) {
  const dnnl::engine& engine = ctx.dnnl().engine;
  const bool constant = packed.defined();
  const memory::desc wei_md_req =
      constant ? memory::desc(wei_user_md.dims(), memory::data_type::f32, memory::format_tag::any) : wei_user_md;
  dnnl::matmul::primitive_desc pd;
  try {
    dnnl::matmul::desc d = bias_md.is_zero() ? dnnl::matmul::desc(src_md, wei_md_req, dst_md)
                                             : dnnl::matmul::desc(src_md, wei_md_req, bias_md, dst_md);
    pd = dnnl::matmul::primitive_desc(d, attr, engine);
  } catch (const dnnl::error& e) {
    fail<UnsupportedError>("{}: oneDNN cannot run this matrix product: {}", ctx.where(), e.what());
  }
  plan.prim = dnnl::matmul(pd);
  plan.impl = dnnl_impl_name(pd);
  scratchpad.reserve(pd, engine);
  plan.src = memory(src_md, engine, nullptr);
  plan.dst = memory(dst_md, engine, nullptr);
  plan.wei_user = memory(wei_user_md, engine, nullptr);
  const memory::desc wei_md = pd.weights_desc();
  if (constant) {
    plan.wei = packed.get(wei_user_md, wei_md, ctx.dnnl());
    plan.weights_prepacked = true;
  } else {
    plan.wei = plan.wei_user;
  }
  plan.args = {{DNNL_ARG_SRC, plan.src}, {DNNL_ARG_WEIGHTS, plan.wei}, {DNNL_ARG_DST, plan.dst}};
  if (!bias_md.is_zero()) {
    plan.bias = memory(bias_md, engine, nullptr);
    plan.args[DNNL_ARG_BIAS] = plan.bias;
  }
  if (!scratchpad.empty()) plan.args[DNNL_ARG_SCRATCHPAD] = scratchpad.memory();
}

void execute_matmul(MatmulPlan& plan, OpContext& ctx, const void* a, const void* b, const void* bias, void* y) {
  plan.src.set_data_handle(const_cast<void*>(a));
  plan.dst.set_data_handle(y);
  if (bias) plan.bias.set_data_handle(const_cast<void*>(bias));
  if (!plan.weights_prepacked) plan.wei_user.set_data_handle(const_cast<void*>(b));
  bind_scratchpad(plan.args, ctx.dnnl());
  plan.prim.execute(ctx.dnnl().stream, plan.args);
  ctx.dnnl().stream.wait();
}

// Finds the plan for these input shapes, or makes one with `make` (evicting the oldest).
template <class Make>
MatmulPlan& find_plan(std::vector<std::unique_ptr<MatmulPlan>>& plans, MatmulPlan*& last, std::string& last_impl,
                      std::initializer_list<const Tensor*> inputs, Make&& make) {
  const int threads = current_threads();
  // Compared in place: building a key vector would allocate on every run.
  auto matches = [&](const MatmulPlan& p) {
    if (p.threads != threads) return false;
    size_t i = 0;
    for (const Tensor* t : inputs) {
      if (t == nullptr) continue;
      if (i >= p.key.size() || p.key[i] != t->shape()) return false;
      ++i;
    }
    return i == p.key.size();
  };
  if (last && matches(*last)) return *last;
  for (auto& p : plans) {
    if (matches(*p)) {
      last = p.get();
      last_impl = p->impl;
      return *p;
    }
  }
  auto plan = std::make_unique<MatmulPlan>();
  for (const Tensor* t : inputs) {
    if (t) plan->key.push_back(t->shape());
  }
  plan->threads = threads;
  make(*plan);
  if (plans.size() >= kMaxPlans) {
    if (last == plans.front().get()) last = nullptr;
    plans.erase(plans.begin());
  }
  plans.push_back(std::move(plan));
  last = plans.back().get();
  last_impl = last->impl;
  return *last;
}

dnnl::primitive_attr matmul_attr(bool relu, float output_scale, float sum_scale) {
  dnnl::primitive_attr attr = user_scratchpad_attr();
  if (output_scale != 1.f) attr.set_output_scales(0, {output_scale});
  dnnl::post_ops ops;
  if (sum_scale != 0.f) ops.append_sum(sum_scale);
  if (relu) append_relu(ops);
  if (ops.len() > 0) attr.set_post_ops(ops);
  return attr;
}

// ---- Gemm --------------------------------------------------------------------------------------

class GemmKernel final : public Kernel {
 public:
  GemmKernel(const Node& node, const Graph& graph) {
    const std::string where = graph.where(node);
    const int n_in = node.num_inputs();
    if (n_in < 2 || n_in > 3) fail<ModelError>("{}: expects 2 or 3 inputs, got {}", where, n_in);
    for (int i = 0; i < n_in; ++i) require_f32_model(node, graph, i);
    trans_a_ = node.attr_int("transA", 0) != 0;
    trans_b_ = node.attr_int("transB", 0) != 0;
    alpha_ = node.attr_float("alpha", 1.f);
    beta_ = node.attr_float("beta", 1.f);
    relu_ = fused_relu(node, graph);
    if (graph.is_constant(node.inputs[1])) {
      const Tensor& b = graph.constant(node.inputs[1]);
      if (b.dtype() != DType::kFloat32 || b.rank() != 2) {
        fail<ModelError>("{}: B must be a 2-D float32 matrix, got {} {}", where, dtype_name(b.dtype()),
                         shape_str(b.shape()));
      }
      if (alpha_ == 1.f) {
        b_.set_source(b);
      } else {
        // alpha scales the product; folding it into the constant lets C stay the bias.
        Tensor scaled = b.clone();
        float* d = scaled.data<float>();
        for (int64_t i = 0; i < scaled.numel(); ++i) d[i] *= alpha_;
        b_.set_source(scaled);
      }
    }
    const ValueId c = node.input(2);
    if (c != kNoValue && graph.is_constant(c) && beta_ != 1.f && beta_ != 0.f) {
      const Tensor& ct = graph.constant(c);
      if (ct.dtype() == DType::kFloat32) {
        beta_c_ = ct.clone();
        float* d = beta_c_.data<float>();
        for (int64_t i = 0; i < beta_c_.numel(); ++i) d[i] *= beta_;
      }
    }
  }

  void run(OpContext& ctx) override {
    const Tensor& a = f32_input(ctx, 0);
    const Tensor& b = f32_input(ctx, 1);
    const Tensor* c = ctx.has_input(2) ? &f32_input(ctx, 2) : nullptr;
    if (a.rank() != 2 || b.rank() != 2) {
      fail<ShapeError>("{}: A and B must be 2-D, got {} and {}", ctx.where(), shape_str(a.shape()),
                       shape_str(b.shape()));
    }
    const int64_t m = trans_a_ ? a.dim(1) : a.dim(0);
    const int64_t k = trans_a_ ? a.dim(0) : a.dim(1);
    const int64_t kb = trans_b_ ? b.dim(1) : b.dim(0);
    const int64_t n = trans_b_ ? b.dim(0) : b.dim(1);
    if (k != kb) {
      fail<ShapeError>("{}: A {} and B {} do not multiply (transA={}, transB={})", ctx.where(), shape_str(a.shape()),
                       shape_str(b.shape()), trans_a_ ? 1 : 0, trans_b_ ? 1 : 0);
    }
    int64_t cm = 1, cn = 1;  // C as a broadcastable [cm, cn]
    if (c) {
      const Shape& cs = c->shape();
      const bool ok = cs.size() <= 2 && (cs.empty() || cs.back() == 1 || cs.back() == n) &&
                      (cs.size() < 2 || cs[0] == 1 || cs[0] == m);
      if (!ok) {
        fail<ShapeError>("{}: C of shape {} does not broadcast to [{}, {}]", ctx.where(), shape_str(cs), m, n);
      }
      if (!cs.empty()) cn = cs.back();
      if (cs.size() == 2) cm = cs[0];
    }
    const bool use_c = c && beta_ != 0.f;

    MatmulPlan& plan = find_plan(plans_, last_, last_impl_, {&a, &b, c}, [&](MatmulPlan& p) {
      p.y_shape = {m, n};
      if (m == 0 || n == 0 || k == 0) {
        p.trivial = true;
        return;
      }
      const bool b_folded = b_.defined();
      p.c_as_bias = use_c && (alpha_ == 1.f || b_folded) && (beta_ == 1.f || beta_c_.defined());
      const float out_scale = b_folded ? 1.f : alpha_;
      const float sum_scale = use_c && !p.c_as_bias ? beta_ : 0.f;
      const memory::desc src_md({m, k}, memory::data_type::f32, trans_a_ ? dnnl_dims{1, m} : dnnl_dims{k, 1});
      const memory::desc wei_md({k, n}, memory::data_type::f32, trans_b_ ? dnnl_dims{1, k} : dnnl_dims{n, 1});
      const memory::desc bias_md = p.c_as_bias ? plain_desc({cm, cn}) : memory::desc();
      build_matmul(p, ctx, src_md, wei_md, bias_md, plain_desc({m, n}), matmul_attr(relu_, out_scale, sum_scale), b_,
                   scratchpad_);
    });
    Tensor& y = ctx.output(0, DType::kFloat32, plan.y_shape);
    if (y.numel() == 0) return;
    if (plan.trivial || (use_c && !plan.c_as_bias)) {
      // Y starts as C broadcast (K = 0: Y is just beta * C, then the activation).
      const float* cd = c ? c->data<float>() : nullptr;
      float* yd = y.data<float>();
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          yd[i * n + j] = use_c ? cd[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)] : 0.f;
        }
      }
      if (plan.trivial) {
        for (int64_t i = 0; i < m * n; ++i) {
          float v = yd[i] * (use_c ? beta_ : 0.f);
          yd[i] = relu_ ? std::max(v, 0.f) : v;
        }
        return;
      }
    }
    const void* bias = nullptr;
    if (plan.c_as_bias) bias = beta_ == 1.f ? c->raw() : beta_c_.raw();
    execute_matmul(plan, ctx, a.raw(), b.raw(), bias, y.raw());
  }

  std::string impl() const override { return last_impl_; }

 private:
  bool trans_a_ = false, trans_b_ = false;
  float alpha_ = 1.f, beta_ = 1.f;
  bool relu_ = false;
  PackedWeights b_;  // constant B, already scaled by alpha
  Tensor beta_c_;    // constant C scaled by beta (when beta is not 0 or 1)
  std::vector<std::unique_ptr<MatmulPlan>> plans_;
  MatmulPlan* last_ = nullptr;
  std::string last_impl_ = "dnnl";
  Scratchpad scratchpad_;
};

// ---- MatMul ------------------------------------------------------------------------------------

class MatMulKernel final : public Kernel {
 public:
  MatMulKernel(const Node& node, const Graph& graph) {
    const std::string where = graph.where(node);
    if (node.num_inputs() != 2) fail<ModelError>("{}: expects 2 inputs, got {}", where, node.num_inputs());
    require_f32_model(node, graph, 0);
    require_f32_model(node, graph, 1);
    relu_ = fused_relu(node, graph);
    if (graph.is_constant(node.inputs[1])) {
      const Tensor& b = graph.constant(node.inputs[1]);
      if (b.dtype() != DType::kFloat32) {
        fail<UnsupportedError>("{}: B has type {}, only float32 is supported", where, dtype_name(b.dtype()));
      }
      b_.set_source(b);
    }
  }

  void run(OpContext& ctx) override {
    const Tensor& a = f32_input(ctx, 0);
    const Tensor& b = f32_input(ctx, 1);
    if (a.rank() == 0 || b.rank() == 0) {
      fail<ShapeError>("{}: MatMul operands must have rank >= 1, got {} and {}", ctx.where(), shape_str(a.shape()),
                       shape_str(b.shape()));
    }
    MatmulPlan& plan = find_plan(plans_, last_, last_impl_, {&a, &b}, [&](MatmulPlan& p) {
      // numpy: a 1-D A is a row [1, K], a 1-D B a column [K, 1]; the added dims leave the output.
      Shape as = a.shape(), bs = b.shape();
      if (as.size() == 1) as.insert(as.begin(), 1);
      if (bs.size() == 1) bs.push_back(1);
      const int64_t m = as[as.size() - 2], k = as.back();
      const int64_t kb = bs[bs.size() - 2], n = bs.back();
      if (k != kb) {
        fail<ShapeError>("{}: shapes {} and {} do not multiply", ctx.where(), shape_str(a.shape()),
                         shape_str(b.shape()));
      }
      const size_t batch_rank = std::max(as.size(), bs.size()) - 2;
      Shape batch(batch_rank, 1);
      auto batch_dim = [&](const Shape& s, size_t i) -> int64_t {  // i-th of batch_rank, right-aligned
        const size_t off = batch_rank - (s.size() - 2);
        return i < off ? 1 : s[i - off];
      };
      for (size_t i = 0; i < batch_rank; ++i) {
        const int64_t da = batch_dim(as, i), db = batch_dim(bs, i);
        if (da != db && da != 1 && db != 1) {
          fail<ShapeError>("{}: batch dimensions of {} and {} do not broadcast", ctx.where(), shape_str(a.shape()),
                           shape_str(b.shape()));
        }
        batch[i] = da == 1 ? db : da;
      }
      Shape y_shape = batch;
      if (a.rank() > 1) y_shape.push_back(m);
      if (b.rank() > 1) y_shape.push_back(n);
      p.y_shape = y_shape;
      if (shape_numel(y_shape) == 0 || k == 0) {
        p.trivial = true;
        return;
      }
      const int64_t b_batch = shape_numel(Shape(bs.begin(), bs.end() - 2));
      const int64_t a_batch = shape_numel(Shape(as.begin(), as.end() - 2));
      const dnnl::primitive_attr attr = matmul_attr(relu_, 1.f, 0.f);
      if (b_batch == 1) {
        // B is one matrix: fold A's batch into its rows, a single 2-D product.
        const int64_t rows = a_batch * m;
        PackedWeights& packed = b_;
        build_matmul(p, ctx, plain_desc({rows, k}), plain_desc({k, n}), memory::desc(), plain_desc({rows, n}), attr,
                     packed, scratchpad_);
        return;
      }
      if (batch_rank + 2 > DNNL_MAX_NDIMS) {
        fail<UnsupportedError>("{}: MatMul of rank {} (at most {} supported)", ctx.where(), batch_rank + 2,
                               DNNL_MAX_NDIMS);
      }
      dnnl_dims ad, bd, yd;
      for (size_t i = 0; i < batch_rank; ++i) {
        ad.push_back(batch_dim(as, i));
        bd.push_back(batch_dim(bs, i));
        yd.push_back(batch[i]);
      }
      ad.insert(ad.end(), {m, k});
      bd.insert(bd.end(), {k, n});
      yd.insert(yd.end(), {m, n});
      PackedWeights none;
      build_matmul(p, ctx, plain_desc(ad), plain_desc(bd), memory::desc(), plain_desc(yd), attr, none, scratchpad_);
    });
    Tensor& y = ctx.output(0, DType::kFloat32, plan.y_shape);
    if (y.numel() == 0) return;
    if (plan.trivial) {  // K = 0: every output is an empty sum
      std::fill(y.data<float>(), y.data<float>() + y.numel(), 0.f);
      return;
    }
    execute_matmul(plan, ctx, a.raw(), b.raw(), nullptr, y.raw());
  }

  std::string impl() const override { return last_impl_; }

 private:
  bool relu_ = false;
  PackedWeights b_;
  std::vector<std::unique_ptr<MatmulPlan>> plans_;
  MatmulPlan* last_ = nullptr;
  std::string last_impl_ = "dnnl";
  Scratchpad scratchpad_;
};

}  // namespace

std::unique_ptr<Kernel> make_gemm(const Node& node, const Graph& graph) {
  return std::make_unique<GemmKernel>(node, graph);
}

std::unique_ptr<Kernel> make_matmul(const Node& node, const Graph& graph) {
  return std::make_unique<MatMulKernel>(node, graph);
}

}  // namespace eff
