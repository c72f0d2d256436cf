#include "engine/executor.h"

#include <fmt/core.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <limits>
#include <thread>

#include "engine/blocked_layout.h"
#include "engine/buffer_pool.h"
#include "engine/dnnl_env.h"
#include "engine/kernel.h"
#include "engine/non_finite.h"
#include "engine/ops/pointwise_depthwise.h"
#include "engine/quantized_layers.h"
#include "engine/thread_governor.h"
#include "graph/passes.h"
#include "graph/value_shape.h"

namespace eff {

// ---- OpContext ---------------------------------------------------------------------------------

const Tensor& OpContext::input(int i) const {
  if (!has_input(i)) fail<ShapeError>("{}: input {} is required but missing", where(), i);
  return *inputs_[i];
}

Tensor& OpContext::output(int i, DType dtype, const Shape& shape) {
  EFF_ASSERT(i >= 0 && i < num_outputs());
  if (outputs_[i].defined()) pool_.release(outputs_[i]);
  outputs_[i] = pool_.acquire(dtype, shape);
  return outputs_[i];
}

void OpContext::set_output(int i, Tensor t) {
  EFF_ASSERT(i >= 0 && i < num_outputs());
  outputs_[i] = std::move(t);
}

// ---- layers ------------------------------------------------------------------------------------

std::vector<LayerInfo> find_layers(const Graph& g) {
  std::vector<LayerInfo> layers;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const bool is_layer_op = n.op == "Conv" || n.op == "ConvTranspose" || n.op == "Gemm" || n.op == "MatMul";
    // Integer ops with constant 8-bit weights are layers too; their weights are not input 1.
    IntegerLayerInputs integer;
    const bool is_integer_layer = integer_layer_inputs(g, n, integer);
    const int w = is_integer_layer ? integer.weights : 1;
    if ((!is_layer_op && !is_integer_layer) || n.inputs.size() < 2 || !g.is_constant(n.input(w)) ||
        g.is_constant(n.inputs[0])) {
      continue;
    }
    LayerInfo l;
    l.index = static_cast<int>(layers.size());
    l.node = static_cast<int>(i);
    l.name = n.name;
    l.op = n.op;
    l.activations = n.inputs[0];
    l.weights = n.input(w);
    l.bias = is_integer_layer ? (integer.bias >= 0 ? n.input(integer.bias) : kNoValue) : n.input(2);
    l.output = n.outputs.empty() ? kNoValue : n.outputs[0];
    l.fused_activation = n.attr_string("activation", "");
    l.fused_residual_add = n.attr_int(kResidualAddAttr, 0) != 0;
    l.activation_min = n.attr_float("activation_min", 0.f);
    l.activation_max = n.attr_float("activation_max", 0.f);
    if (is_integer_layer) runtime_act_values(g, n, integer, l.act_zero_value, l.act_scale_value);
    layers.push_back(std::move(l));
  }
  return layers;
}

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}

bool computes_images_apart(const Node& n) {
  // DeftLayer: every output is one fixed sequence of operations over its own image's inputs
  // (docs/deft.md; a batch equals its images run one by one, bit for bit). The others are
  // elementwise, per image plane, or a per-image view. The engine's oneDNN convs and matmuls are not
  // here: oneDNN may pick another algorithm (another order of sums) for another batch size.
  if (n.op == "DeftLayer" || n.op == "Relu" || n.op == "Add" || n.op == "GlobalAveragePool" ||
      n.op == "GlobalMaxPool" || n.op == "MaxPool" || n.op == "Identity")
    return true;
  return n.op == "Flatten" && n.attr_int("axis", 1) == 1;
}

// ---- Executor ----------------------------------------------------------------------------------

// A graph made ready to run: its kernels, liveness and value slots.
struct Executor::Plan {
  Graph graph;
  GraphVariant variant;  // what a specialisation was made for; default for the base plan
  uint64_t last_used = 0;
  std::vector<LayerInfo> layers;
  std::vector<int> layer_of_node;  // -1 when the node is not a layer
  std::vector<int> base_layer;     // each layer's index in the base plan's list, -1 if it has none
  std::vector<std::unique_ptr<Kernel>> kernels;
  std::vector<std::vector<ValueId>> release_after;  // values whose last use is node i
  std::vector<uint32_t> reusable_inputs;            // OpContext::input_reusable, per node
  std::vector<Tensor> values;
  std::vector<double> node_ms;  // with node timing on
  // A 1x1 conv whose only reader is a depthwise conv, both run as one primitive
  // (ops/pointwise_depthwise.h) when no observer needs the 1x1 conv's output: at the 1x1 conv's
  // index, the pair's kernel and the depthwise node's index; null where there is no such pair.
  std::vector<std::unique_ptr<PointwiseDepthwiseKernel>> pair_kernels;
  std::vector<int> pair_partner;
  std::vector<char> skip;  // this run: the node's output was computed with the node before it
  int64_t timed_runs = 0;
  bool warmed = false;  // the first run (and the other thread count's warm-up) is done
};

struct Executor::SplitPart {
  std::unique_ptr<Plan> plan;
  BufferPool pool;
  DnnlEnv dnnl;
};

namespace {

// Each specialisation holds its own kernels (oneDNN plans, packed weights); a caller cycling
// through many shapes (images of every size) keeps only the most recent few.
constexpr size_t kMaxSpecializations = 4;

// Whether the shapes inside the graph follow its inputs' shapes beyond the batch size: then a
// graph specialised per input shape folds its shape arithmetic into constants.
bool shapes_depend_on_inputs(const Graph& g) {
  for (ValueId v : g.inputs) {
    const Value& in = g.value(v);
    if (!in.has_shape) return true;
    for (size_t d = 1; d < in.shape.size(); ++d) {
      if (in.shape[d] < 0) return true;
    }
  }
  for (const Node& n : g.nodes) {
    if (n.op == "Shape" || n.op == "Size") return true;
  }
  return false;
}

// Whether inputs holding NaN/Inf need a graph of their own: fused activations (oneDNN's ReLU post-op
// turns NaN into 0, ONNX Runtime's Relu keeps it) or a MaxPool (with NaN in a window, the result
// depends on the fold order: graph/passes.h mark_non_finite_orders).
bool differs_on_non_finite(const Graph& g) {
  return std::any_of(g.nodes.begin(), g.nodes.end(),
                     [](const Node& n) { return n.has_attr("activation") || n.op == "MaxPool"; });
}

bool has_fused_residual_add(const Graph& g) {
  return std::any_of(g.nodes.begin(), g.nodes.end(), [](const Node& n) { return n.has_attr(kResidualAddAttr); });
}

// A dynamically quantized layer's run-time scale or zero point: one element.
const Tensor& scalar_of(const Tensor& t, const Graph& g, const Node& n) {
  if (!t.defined() || t.numel() != 1) {
    fail<ShapeError>("{}: the activation scale and zero point must be scalars", g.where(n));
  }
  return t;
}

std::string shapes_str(const std::vector<Shape>& shapes) {
  std::string s;
  for (const Shape& x : shapes) s += (s.empty() ? "" : ", ") + shape_str(x);
  return s;
}

}  // namespace

Executor::Executor(Graph graph, ExecutorOptions options)
    : options_(std::move(options)), pool_(std::make_unique<BufferPool>()), dnnl_(std::make_unique<DnnlEnv>()) {
  threads_ = resolve_threads(options_.threads);
  if (options_.threads <= 0 && threads_ > 1) {
    governor_ = options_.governor ? options_.governor : std::make_shared<ThreadGovernor>(threads_);
  }
  const std::vector<LayerInfo> layers = find_layers(graph);
  for (const auto& entry : options_.transforms) {
    const std::string& name = entry.first;
    auto it = std::find_if(layers.begin(), layers.end(), [&](const LayerInfo& l) { return l.name == name; });
    if (it == layers.end()) fail<ConfigError>("{}: no conv/FC layer named '{}'", graph.source, name);
    // Integer-op layers consume 8-bit codes that the model's own (possibly run-time) scales and
    // zero points define: a format or threshold in real units has no place in them
    // (docs/quantization.md, "Value hooks").
    IntegerLayerInputs integer;
    if (entry.second.active() && integer_layer_inputs(graph, graph.nodes[it->node], integer)) {
      fail<UnsupportedError>(
          "{}: layer '{}' ({}) computes on 8-bit integer codes; value hooks (--precision-profile, --thresholds) "
          "apply to float layers only",
          graph.source, name, it->op);
    }
  }
  shape_dependent_ = options_.specialize && shapes_depend_on_inputs(graph);
  nan_sensitive_ = options_.specialize && differs_on_non_finite(graph);
  has_residual_adds_ = options_.specialize && has_fused_residual_add(graph);
  batch_split_ = std::any_of(graph.nodes.begin(), graph.nodes.end(),
                             [](const Node& n) { return n.attr_int(kBatchSplitAttr, 0) != 0; }) &&
                 std::all_of(graph.nodes.begin(), graph.nodes.end(), computes_images_apart) &&
                 options_.transforms.empty();
  base_ = make_plan(std::move(graph));
}

std::unique_ptr<Executor::Plan> Executor::make_plan(Graph graph) const {
  auto plan = std::make_unique<Plan>();
  Plan& p = *plan;
  p.graph = std::move(graph);
  Graph& g = p.graph;
  p.layers = find_layers(g);
  p.layer_of_node.assign(g.nodes.size(), -1);
  for (const LayerInfo& l : p.layers) p.layer_of_node[l.node] = l.index;
  // Specialisations report their layers as the base graph's (observers key on them).
  for (const LayerInfo& l : p.layers) {
    int match = -1;
    if (base_) {
      for (const LayerInfo& b : base_->layers) {
        if (b.name == l.name) match = b.index;
      }
    } else {
      match = l.index;
    }
    p.base_layer.push_back(match);
  }

  // Weight transforms are applied once, before kernels are created (they may prepack weights).
  for (const LayerInfo& l : p.layers) {
    auto it = options_.transforms.find(l.name);
    if (it == options_.transforms.end() || it->second.weights.kind == OperandTransform::kNone) continue;
    Value& w = g.value(l.weights);
    if (w.constant->dtype() != DType::kFloat32) continue;
    Tensor copy = w.constant->clone();
    apply_operand_transform(copy.data<float>(), copy.numel(), it->second.weights);
    w.constant = std::move(copy);
  }

  p.kernels.resize(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const OpEntry* e = find_op(n.op);
    if (!e || (!n.domain.empty() && n.domain != "ai.onnx")) {
      fail<UnsupportedError>("{}: op {} is not supported", g.where(n), n.op);
    }
    p.kernels[i] = e->make(n, g);
  }

  p.pair_kernels.resize(g.nodes.size());
  p.pair_partner.assign(g.nodes.size(), -1);
  p.skip.assign(g.nodes.size(), 0);
  // A layer with an active value transform must see its own activations.
  const auto transformed = [&](const Node& n) {
    auto it = options_.transforms.find(n.name);
    return it != options_.transforms.end() && it->second.active();
  };
  pair_pointwise_depthwise(g, transformed, p.pair_kernels, p.pair_partner);

  // Liveness: release each intermediate value right after its last consumer.
  const size_t nv = g.values.size();
  std::vector<int> last_use(nv, -1);
  std::vector<char> keep(nv, 0);
  for (ValueId v : g.outputs) keep[v] = 1;
  for (size_t v = 0; v < nv; ++v) {
    if (g.values[v].constant) keep[v] = 1;
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (ValueId v : g.nodes[i].inputs) {
      if (v != kNoValue) last_use[v] = static_cast<int>(i);
    }
    for (ValueId v : g.nodes[i].outputs) {
      if (v != kNoValue && last_use[v] < static_cast<int>(i)) last_use[v] = static_cast<int>(i);
    }
  }
  // A dynamically quantized layer's run-time activation scale is read when the layer is observed.
  for (const LayerInfo& l : p.layers) {
    for (ValueId v : {l.act_scale_value, l.act_zero_value}) {
      if (v != kNoValue && last_use[v] < l.node) last_use[v] = l.node;
    }
  }
  p.release_after.resize(g.nodes.size());
  p.reusable_inputs.assign(g.nodes.size(), 0);
  std::vector<char> graph_input(nv, 0);
  for (ValueId v : g.inputs) graph_input[v] = 1;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const auto& ins = g.nodes[i].inputs;
    for (size_t k = 0; k < ins.size() && k < 32; ++k) {
      const ValueId v = ins[k];
      if (v != kNoValue && !keep[v] && !graph_input[v] && last_use[v] == static_cast<int>(i) &&
          std::count(ins.begin(), ins.end(), v) == 1) {
        p.reusable_inputs[i] |= 1u << k;
      }
    }
  }
  for (size_t v = 0; v < nv; ++v) {
    if (!keep[v] && last_use[v] >= 0) p.release_after[last_use[v]].push_back(static_cast<ValueId>(v));
  }

  p.values.resize(nv);
  for (size_t v = 0; v < nv; ++v) {
    if (g.values[v].constant) p.values[v] = *g.values[v].constant;
  }
  return plan;
}

Executor::Plan& Executor::plan_for(const std::vector<Tensor>& inputs) {
  GraphVariant want;
  if (nan_sensitive_) {
    want.separate_activations =
        std::any_of(inputs.begin(), inputs.end(), [](const Tensor& t) { return has_non_finite(t); });
  }
  if (shape_dependent_) {
    for (const Tensor& t : inputs) want.input_shapes.push_back(t.shape());
  }
  want.separate_residual_adds = has_residual_adds_ && options_.observer && options_.observer->reads_output_values();
  if (want == GraphVariant{}) return *base_;
  ++clock_;
  for (auto& p : specialized_) {
    if (p->variant == want) {
      p->last_used = clock_;
      return *p;
    }
  }
  Graph g;
  try {
    g = options_.specialize(want);
  } catch (const ShapeError&) {
    throw;
  } catch (const Error& e) {
    std::vector<Shape> shapes;
    for (const Tensor& t : inputs) shapes.push_back(t.shape());
    fail<ShapeError>("{} (for input shape(s) {})", e.what(), shapes_str(shapes));
  }
  if (g.inputs.size() != base_->graph.inputs.size()) {
    fail("internal error: {}: the specialised graph has {} inputs, not {}", base_->graph.source, g.inputs.size(),
         base_->graph.inputs.size());
  }
  std::unique_ptr<Plan> plan = make_plan(std::move(g));
  plan->variant = std::move(want);
  plan->last_used = clock_;
  if (specialized_.size() >= kMaxSpecializations) {
    auto oldest = std::min_element(specialized_.begin(), specialized_.end(),
                                   [](const auto& a, const auto& b) { return a->last_used < b->last_used; });
    if (oldest->get() == last_plan_) last_plan_ = nullptr;
    specialized_.erase(oldest);
  }
  specialized_.push_back(std::move(plan));
  return *specialized_.back();
}

Executor::~Executor() = default;

std::vector<Executor::NodeTime> Executor::node_times() const {
  std::vector<NodeTime> out;
  if (!last_plan_ || last_plan_->node_ms.empty()) return out;
  const Plan& p = *last_plan_;
  for (size_t i = 0; i < p.graph.nodes.size(); ++i) {
    out.push_back({p.graph.nodes[i].name, p.graph.nodes[i].op, p.node_ms[i], p.timed_runs});
    // A 1x1 conv and the depthwise conv it ran with as one primitive in the last run: the pair's
    // time is the 1x1 conv's.
    const int partner = p.pair_partner[i];
    if (partner >= 0 && p.skip[partner]) out.back().op = "Conv+DepthwiseConv";
    if (p.skip[i]) out.back().op = "(in 1x1 Conv before)";
  }
  return out;
}

const Graph& Executor::graph() const {
  return base_->graph;
}

const std::vector<LayerInfo>& Executor::layers() const {
  return base_->layers;
}

size_t Executor::pool_allocations() const {
  return pool_->allocations();
}

std::string Executor::kernel_impl(size_t node) const {
  const Plan& p = *base_;
  if (node < p.pair_kernels.size() && p.pair_kernels[node] && !p.pair_kernels[node]->impl().empty()) {
    return fmt::format("{} + depthwise post-op (node {})", p.pair_kernels[node]->impl(), p.pair_partner[node]);
  }
  return p.kernels.at(node)->impl();
}

void Executor::check_input(size_t i, const Tensor& t) const {
  const Graph& g = base_->graph;
  const Value& v = g.value(g.inputs[i]);
  // float32 for a float16 input is rounded to float16 on entry (lower_float16 put a Cast there):
  // images and data sets are float32, and this is what converting them first would give.
  if (v.has_type && v.dtype == DType::kFloat16 && t.dtype() == DType::kFloat32) {
    static std::atomic<bool> noticed{false};  // once per process, not once per batch
    if (!noticed.exchange(true)) {
      fmt::print(stderr, "note: {}: input '{}' is float16; float32 values are rounded to float16\n", g.source, v.name);
    }
  } else if (v.has_type && t.dtype() != v.dtype) {
    fail<ShapeError>("{}: input '{}' expects {}, got {}", g.source, v.name, dtype_name(v.dtype), dtype_name(t.dtype()));
  }
  if (!shape_admits(v, t.shape())) {
    fail<ShapeError>("{}: input '{}' expects shape {}, got {}", g.source, v.name, declared_shape_text(v),
                     shape_str(t.shape()));
  }
}

namespace {
// Set while Executor::run warms a plan at the thread count it did not run at (below).
thread_local int warm_up_threads = 0;
// Plans whose first run took longer than this are not warmed at the other thread count: that
// would add as much again to one-shot runs of big models, whose plan-building is small beside
// an inference anyway.
constexpr double kWarmOtherCountBelowMs = 100.0;
}  // namespace

// Node i's kernel, its time added to `node_ms` when that is not null, its outputs kept in
// `values`; a tensor over the size limit is reported naming the node.
static void run_node(const Graph& g, size_t i, Kernel& kernel, double* node_ms, OpContext& ctx,
                     std::vector<Tensor>& outs, std::vector<Tensor>& values, BufferPool& pool) {
  const Node& n = g.nodes[i];
  try {
    if (node_ms != nullptr) {
      const auto t0 = std::chrono::steady_clock::now();
      kernel.run(ctx);
      *node_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    } else {
      kernel.run(ctx);
    }
  } catch (const TensorLimitError& e) {
    fail<ShapeError>("{}: {}", g.where(n), e.what());
  }
  for (size_t k = 0; k < n.outputs.size(); ++k) {
    if (n.outputs[k] == kNoValue) {
      pool.release(outs[k]);
      continue;
    }
    if (!outs[k].defined()) fail<ShapeError>("internal error: {}: output {} was not produced", g.where(n), k);
    values[n.outputs[k]] = std::move(outs[k]);
  }
}

// The pair of 1x1 conv `i` and the depthwise conv reading it as one primitive: the depthwise conv's
// output into `pair_output`; false when oneDNN has no kernel for the pair here (nothing computed).
static bool run_pair(const Graph& g, size_t i, PointwiseDepthwiseKernel& kernel, double* node_ms, OpContext& ctx,
                     std::vector<Tensor>& outs, Tensor& pair_output) {
  const auto t0 = std::chrono::steady_clock::now();
  try {
    if (!kernel.run(ctx)) return false;
  } catch (const TensorLimitError& e) {
    fail<ShapeError>("{}: {}", g.where(g.nodes[i]), e.what());
  }
  if (node_ms != nullptr) {
    *node_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  pair_output = std::move(outs[0]);
  return true;
}

std::vector<Tensor> Executor::run(const std::vector<Tensor>& inputs) {
  const Graph& base_graph = base_->graph;
  if (inputs.size() != base_graph.inputs.size()) {
    fail<ShapeError>("{}: the model takes {} input(s), got {}", base_graph.source, base_graph.inputs.size(),
                     inputs.size());
  }
  for (size_t i = 0; i < inputs.size(); ++i) check_input(i, inputs[i]);
  int64_t work = 0;
  for (const Tensor& t : inputs) work += t.numel();
  const bool warming = warm_up_threads > 0;
  const int threads = warming ? warm_up_threads : governor_ ? governor_->next() : threads_;
  if (!warming) last_run_threads_ = threads;
  const auto started = std::chrono::steady_clock::now();
  omp_set_num_threads(threads);
  // A run on the governor's full team that is already over its stall budget finishes on one
  // thread (kernels give the same bits on any thread count; both counts' primitives are warm).
  int node_threads = threads;
  const double stall_budget_ms =
      governor_ && !warming ? governor_->stall_budget_ms(work, threads) : std::numeric_limits<double>::infinity();
  // With no reference time yet, the team is judged by how long its threads waited for a core (a
  // run cut for that builds the remaining nodes' one-thread primitives if no warm-up did).
  const bool judge_by_wait = governor_ && !warming && governor_->judges_by_wait(work, threads);
  const double wait_at_start = judge_by_wait ? governor_->wait_ms() : -1;
  bool starved = false;
  const auto team_starved = [&](double elapsed_ms) {
    if (wait_at_start < 0 || elapsed_ms < ThreadGovernor::kWaitJudgeAfterMs) return false;
    starved = ThreadGovernor::team_starved(elapsed_ms, governor_->wait_ms() - wait_at_start);
    return starved;
  };
  const auto team_stalling = [&](double elapsed_ms) {
    return elapsed_ms > stall_budget_ms || team_starved(elapsed_ms);
  };
  Plan& p = plan_for(inputs);
  const Graph& g = p.graph;
  last_plan_ = &p;
  if (node_timing_) {
    p.node_ms.resize(g.nodes.size(), 0.0);
    ++p.timed_runs;
  }
  // The batch split: each thread's share of the images through every node (no stall cut part-way:
  // a part cannot hand its images to the other thread).
  const int parts = split_parts(p, inputs, threads);
  if (!warming) last_run_parts_ = parts;
  std::vector<Tensor> result;
  if (parts > 1) result = run_split(p, inputs, parts);
  std::vector<Tensor>& values = p.values;
  for (size_t i = 0; parts == 1 && i < inputs.size(); ++i) values[g.inputs[i]] = inputs[i];

  std::vector<const Tensor*> in_ptrs;
  std::vector<Tensor> outs;
  Tensor transformed;  // a layer's activations after its transform
  std::fill(p.skip.begin(), p.skip.end(), 0);
  for (size_t i = 0; parts == 1 && i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (p.skip[i]) {  // computed with the 1x1 conv before it
      for (ValueId v : p.release_after[i]) pool_->release(values[v]);
      continue;
    }
    in_ptrs.assign(n.inputs.size(), nullptr);
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      if (n.inputs[k] != kNoValue) in_ptrs[k] = &values[n.inputs[k]];
    }
    const int layer = p.layer_of_node[i];
    const LayerTransform* xf = nullptr;
    if (layer >= 0) {
      auto it = options_.transforms.find(p.layers[layer].name);
      if (it != options_.transforms.end() && it->second.active()) xf = &it->second;
    }
    bool in_done = false;  // the activations are transformed (in place or into `transformed`)
    if (xf && (xf->prune_threshold > 0 || xf->activations.kind != OperandTransform::kNone)) {
      // Every transform is elementwise or takes a range per sample. A blocked tensor with whole
      // blocks of channels holds exactly each sample's values, only in another order, so it is
      // transformed as it is; with padding channels in storage, through a plain NCHW copy.
      // Fixed point maps the padding's zeros to zeros, so it runs over the padded storage as well;
      // on activations no later node reads (nor a view of them), in place.
      Tensor& in = values[n.inputs[0]];
      const bool fixed = xf->activations.kind == OperandTransform::kFixedPoint;
      const bool padded = reads_blocked(n) && (in.rank() != 4 || in.dim(1) % kBlockedChannels != 0);
      if (fixed && in.dtype() == DType::kFloat32 && (!padded || in.rank() == 4)) {
        const int64_t count = padded ? shape_numel(blocked_storage_shape(in.shape())) : in.numel();
        if ((p.reusable_inputs[i] & 1u) != 0 && in.storage() && in.storage().use_count() == 1) {
          prune_and_quantize_fixed_in_place(in.data<float>(), count, xf->prune_threshold, xf->activations.fixed);
        } else {
          transformed = padded ? acquire_blocked(*pool_, in.shape()) : pool_->acquire(DType::kFloat32, in.shape());
          prune_and_quantize_fixed(in.data<float>(), transformed.data<float>(), count, xf->prune_threshold,
                                   xf->activations.fixed);
          in_ptrs[0] = &transformed;
        }
        in_done = true;
      }
    }
    if (xf && !in_done && (xf->prune_threshold > 0 || xf->activations.kind != OperandTransform::kNone)) {
      const Tensor& in = *in_ptrs[0];
      const bool padded = reads_blocked(n) && (in.rank() != 4 || in.dim(1) % kBlockedChannels != 0);
      Tensor plain = padded ? unblocked_copy(in, *pool_) : Tensor();
      const Tensor& a = plain.defined() ? plain : *in_ptrs[0];
      if (a.dtype() != DType::kFloat32) fail<ShapeError>("{}: activations must be float32", g.where(n));
      transformed = pool_->acquire(DType::kFloat32, a.shape());
      float* d = transformed.data<float>();
      if (xf->activations.kind == OperandTransform::kFixedPoint) {
        prune_and_quantize_fixed(a.data<float>(), d, a.numel(), xf->prune_threshold, xf->activations.fixed);
      } else {
        std::memcpy(transformed.raw(), a.raw(), a.nbytes());
        apply_prune(d, a.numel(), xf->prune_threshold);
        const int64_t sample = a.rank() > 0 && a.dim(0) > 0 ? a.numel() / a.dim(0) : 0;
        apply_operand_transform(d, a.numel(), xf->activations, sample);
      }
      if (plain.defined()) {
        pool_->release(plain);
        Tensor blocked = blocked_copy(transformed, *pool_);
        pool_->release(transformed);
        transformed = std::move(blocked);
      }
      in_ptrs[0] = &transformed;
    }

    outs.assign(n.outputs.size(), Tensor());
    if (node_threads > 1 && i > 0 &&
        team_stalling(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count())) {
      node_threads = 1;
      omp_set_num_threads(1);
      ++runs_cut_to_one_thread_;
    }
    OpContext ctx(n, g, in_ptrs, outs, *pool_, *dnnl_, node_threads);
    ctx.set_reusable_inputs(p.reusable_inputs[i]);
    // An observer sees every layer's output, the 1x1 conv's too: the pair then runs apart.
    if (p.pair_partner[i] < 0 || options_.observer ||
        !run_pair(g, i, *p.pair_kernels[i], node_timing_ ? &p.node_ms[i] : nullptr, ctx, outs,
                  values[g.nodes[p.pair_partner[i]].outputs[0]])) {
      run_node(g, i, *p.kernels[i], node_timing_ ? &p.node_ms[i] : nullptr, ctx, outs, values, *pool_);
    } else {
      p.skip[p.pair_partner[i]] = 1;
    }
    if (layer >= 0 && options_.observer && p.base_layer[layer] >= 0) {
      // Observers see plain NCHW, whatever layout the convs pass between them.
      Tensor in_plain = reads_blocked(n) ? unblocked_copy(*in_ptrs[0], *pool_) : Tensor();
      Tensor out_plain = writes_blocked(n) ? unblocked_copy(values[n.outputs[0]], *pool_) : Tensor();
      const LayerInfo& info = base_->layers[p.base_layer[layer]];
      const LayerInfo& here = p.layers[layer];
      // The base layer, with what this plan does differently: this run's activation quantization
      // (dynamically quantized layers), what is fused into the layer (a plan that keeps
      // activations or residual Adds apart).
      const bool runtime_act = here.act_zero_value != kNoValue || here.act_scale_value != kNoValue;
      const bool adjusted = runtime_act || here.fused_residual_add != info.fused_residual_add ||
                            here.fused_activation != info.fused_activation;
      LayerInfo runtime;
      if (adjusted) {
        runtime = info;
        runtime.fused_residual_add = here.fused_residual_add;
        runtime.fused_activation = here.fused_activation;
        runtime.activation_min = here.activation_min;
        runtime.activation_max = here.activation_max;
      }
      if (runtime_act) {
        runtime.has_runtime_act = true;
        if (here.act_zero_value != kNoValue) {
          runtime.runtime_act_zero = static_cast<int32_t>(scalar_of(values[here.act_zero_value], g, n).get_i64(0));
        }
        if (here.act_scale_value != kNoValue) {
          runtime.runtime_act_scale = static_cast<float>(scalar_of(values[here.act_scale_value], g, n).get_f64(0));
        }
      }
      options_.observer->on_layer(adjusted ? runtime : info, in_plain.defined() ? in_plain : *in_ptrs[0],
                                  values[p.layers[layer].weights],
                                  out_plain.defined() ? out_plain : values[n.outputs[0]]);
      if (in_plain.defined()) pool_->release(in_plain);
      if (out_plain.defined()) pool_->release(out_plain);
    }
    if (transformed.defined()) pool_->release(transformed);
    for (ValueId v : p.release_after[i]) pool_->release(values[v]);
  }

  if (parts == 1) {
    result.reserve(g.outputs.size());
    for (ValueId v : g.outputs) result.push_back(values[v]);
    // Graph outputs are handed to the caller; inputs are the caller's. Drop our references.
    for (ValueId v : g.outputs) {
      if (!g.values[v].constant) values[v] = Tensor();
    }
    for (size_t i = 0; i < inputs.size(); ++i) values[g.inputs[i]] = Tensor();
  }
  const double wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  if (governor_) {
    if (warming) {
      governor_->note(work, threads, wall_ms);
    } else {
      // A run cut to one thread for its wait was starved; otherwise judge the whole run's wait.
      if (!starved && node_threads == threads) team_starved(wall_ms);
      governor_->record(work, threads, wall_ms, std::chrono::steady_clock::now(), starved);
    }
  }
  if (node_threads != threads) omp_set_num_threads(threads);
  // Kernels build their oneDNN primitives (JIT code) per thread count on first use, ~40-80x a
  // small model's inference: when the governor later falls back to one thread or probes the full
  // team again, that run would be the slowest by far (the quiet bench's worst run, 37x its
  // median). So the first run of a plan also runs once, unrecorded, at the other count (not
  // while an observer watches: it would see the inputs twice).
  if (!p.warmed && !warming) {
    p.warmed = true;
    if (governor_ && governor_->max_threads() > 1 && wall_ms < kWarmOtherCountBelowMs && !node_timing_ &&
        !options_.observer) {
      warm_up_threads = threads == 1 ? governor_->max_threads() : 1;
      try {
        // Twice: the first builds that count's kernels; the second's time is the governor's
        // reference for it (a full team slower than one thread is stalling: thread_governor.h).
        run(inputs);
        run(inputs);
      } catch (...) {
        warm_up_threads = 0;
        throw;
      }
      warm_up_threads = 0;
      omp_set_num_threads(threads);
    }
  }
  return result;
}

int Executor::split_parts(const Plan& p, const std::vector<Tensor>& inputs, int threads) const {
  // Only the base plan (specialisations may fuse less or fold shapes) and only without an observer
  // (it would see the parts' layers as separate calls).
  if (!batch_split_ || threads < 2 || &p != base_.get() || options_.observer || inputs.empty()) return 1;
  const Tensor& first = inputs[0];
  if (first.rank() < 1 || first.dim(0) < 2) return 1;
  for (const Tensor& t : inputs)
    if (t.rank() < 1 || t.dim(0) != first.dim(0)) return 1;
  return static_cast<int>(std::min<int64_t>(threads, first.dim(0)));
}

namespace {
// Images [begin, end) of a tensor whose first dimension is the batch: a view of its storage.
Tensor batch_slice(const Tensor& t, int64_t begin, int64_t end) {
  Shape shape = t.shape();
  const size_t image_bytes = t.nbytes() / static_cast<size_t>(shape[0]);
  shape[0] = end - begin;
  std::shared_ptr<std::byte[]> at(t.storage(), t.storage().get() + static_cast<size_t>(begin) * image_bytes);
  return Tensor(t.dtype(), std::move(shape), std::move(at), static_cast<size_t>(end - begin) * image_bytes);
}
}  // namespace

std::vector<Tensor> Executor::run_split(Plan& p, const std::vector<Tensor>& inputs, int parts) {
  while (static_cast<int>(split_parts_.size()) + 1 < parts) {
    auto part = std::make_unique<SplitPart>();
    part->plan = make_plan(base_->graph);
    split_parts_.push_back(std::move(part));
  }
  const int64_t n = inputs[0].dim(0);
  std::vector<std::vector<Tensor>> outs(static_cast<size_t>(parts));
  std::vector<std::exception_ptr> failed(static_cast<size_t>(parts));
#pragma omp parallel num_threads(parts)
  {
    // A smaller team (dynamic threads, a nested region) runs several parts per thread.
    for (int k = omp_get_thread_num(); k < parts; k += omp_get_num_threads()) {
      try {
        std::vector<Tensor> slices;
        for (const Tensor& t : inputs) slices.push_back(batch_slice(t, n * k / parts, n * (k + 1) / parts));
        outs[k] =
            k == 0 ? run_part(p, *pool_, *dnnl_, slices)
                   : run_part(*split_parts_[k - 1]->plan, split_parts_[k - 1]->pool, split_parts_[k - 1]->dnnl, slices);
      } catch (...) {
        failed[k] = std::current_exception();
      }
    }
  }
  for (const std::exception_ptr& e : failed)
    if (e) std::rethrow_exception(e);
  // The parts' outputs one after another along the batch.
  std::vector<Tensor> result;
  for (size_t o = 0; o < outs[0].size(); ++o) {
    Shape shape = outs[0][o].shape();
    int64_t total = 0;
    for (int k = 0; k < parts; ++k) {
      const Tensor& t = outs[k][o];
      const int64_t images = n * (k + 1) / parts - n * k / parts;
      if (t.rank() < 1 || t.dim(0) != images || t.dtype() != outs[0][o].dtype())
        fail<ShapeError>("internal error: {}: output {} of a batch split part is not {} image(s)", base_->graph.source,
                         o, images);
      total += images;
    }
    shape[0] = total;
    Tensor joined(outs[0][o].dtype(), std::move(shape));
    size_t at = 0;
    for (int k = 0; k < parts; ++k) {
      std::memcpy(static_cast<std::byte*>(joined.raw()) + at, outs[k][o].raw(), outs[k][o].nbytes());
      at += outs[k][o].nbytes();
    }
    result.push_back(std::move(joined));
  }
  return result;
}

std::vector<Tensor> Executor::run_part(Plan& p, BufferPool& pool, DnnlEnv& dnnl, const std::vector<Tensor>& inputs) {
  const Graph& g = p.graph;
  if (node_timing_ && &p != base_.get()) {
    p.node_ms.resize(g.nodes.size(), 0.0);
    ++p.timed_runs;
  }
  std::vector<Tensor>& values = p.values;
  for (size_t i = 0; i < inputs.size(); ++i) values[g.inputs[i]] = inputs[i];
  std::vector<const Tensor*> in_ptrs;
  std::vector<Tensor> outs;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    in_ptrs.assign(n.inputs.size(), nullptr);
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      if (n.inputs[k] != kNoValue) in_ptrs[k] = &values[n.inputs[k]];
    }
    outs.assign(n.outputs.size(), Tensor());
    OpContext ctx(n, g, in_ptrs, outs, pool, dnnl, 1);
    ctx.set_reusable_inputs(p.reusable_inputs[i]);
    run_node(g, i, *p.kernels[i], node_timing_ ? &p.node_ms[i] : nullptr, ctx, outs, values, pool);
    for (ValueId v : p.release_after[i]) pool.release(values[v]);
  }
  std::vector<Tensor> result;
  for (ValueId v : g.outputs) result.push_back(values[v]);
  for (ValueId v : g.outputs) {
    if (!g.values[v].constant) values[v] = Tensor();
  }
  for (size_t i = 0; i < inputs.size(); ++i) values[g.inputs[i]] = Tensor();
  return result;
}

int Executor::thread_fallbacks() const {
  return governor_ ? governor_->fallbacks() : 0;
}

}  // namespace eff
