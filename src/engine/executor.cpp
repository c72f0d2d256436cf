#include "engine/executor.h"

#include <fmt/core.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>

#include "engine/buffer_pool.h"
#include "engine/dnnl_env.h"
#include "engine/kernel.h"
#include "engine/quantized_layers.h"

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
    layers.push_back(std::move(l));
  }
  return layers;
}

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}

// ---- Executor ----------------------------------------------------------------------------------

Executor::Executor(Graph graph, ExecutorOptions options)
    : graph_(std::move(graph)),
      options_(std::move(options)),
      pool_(std::make_unique<BufferPool>()),
      dnnl_(std::make_unique<DnnlEnv>()) {
  threads_ = resolve_threads(options_.threads);
  layers_ = find_layers(graph_);
  layer_of_node_.assign(graph_.nodes.size(), -1);
  for (const LayerInfo& l : layers_) layer_of_node_[l.node] = l.index;

  for (const auto& entry : options_.transforms) {
    const std::string& name = entry.first;
    bool found = std::any_of(layers_.begin(), layers_.end(), [&](const LayerInfo& l) { return l.name == name; });
    if (!found) fail<ConfigError>("{}: no conv/FC layer named '{}'", graph_.source, name);
  }

  // Weight transforms are applied once, before kernels are created (they may prepack weights).
  for (const LayerInfo& l : layers_) {
    auto it = options_.transforms.find(l.name);
    if (it == options_.transforms.end() || it->second.weights.kind == OperandTransform::kNone) continue;
    Value& w = graph_.value(l.weights);
    if (w.constant->dtype() != DType::kFloat32) continue;
    Tensor copy = w.constant->clone();
    apply_operand_transform(copy.data<float>(), copy.numel(), it->second.weights);
    w.constant = std::move(copy);
  }

  kernels_.resize(graph_.nodes.size());
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    const Node& n = graph_.nodes[i];
    const OpEntry* e = find_op(n.op);
    if (!e || (!n.domain.empty() && n.domain != "ai.onnx")) {
      fail<UnsupportedError>("{}: op {} is not supported", graph_.where(n), n.op);
    }
    kernels_[i] = e->make(n, graph_);
  }

  // Liveness: release each intermediate value right after its last consumer.
  const size_t nv = graph_.values.size();
  std::vector<int> last_use(nv, -1);
  std::vector<char> keep(nv, 0);
  for (ValueId v : graph_.outputs) keep[v] = 1;
  for (size_t v = 0; v < nv; ++v) {
    if (graph_.values[v].constant) keep[v] = 1;
  }
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    for (ValueId v : graph_.nodes[i].inputs) {
      if (v != kNoValue) last_use[v] = static_cast<int>(i);
    }
    for (ValueId v : graph_.nodes[i].outputs) {
      if (v != kNoValue && last_use[v] < static_cast<int>(i)) last_use[v] = static_cast<int>(i);
    }
  }
  release_after_.resize(graph_.nodes.size());
  for (size_t v = 0; v < nv; ++v) {
    if (!keep[v] && last_use[v] >= 0) release_after_[last_use[v]].push_back(static_cast<ValueId>(v));
  }

  values_.resize(nv);
  for (size_t v = 0; v < nv; ++v) {
    if (graph_.values[v].constant) values_[v] = *graph_.values[v].constant;
  }
}

Executor::~Executor() = default;

size_t Executor::pool_allocations() const {
  return pool_->allocations();
}

std::string Executor::kernel_impl(size_t node) const {
  return kernels_.at(node)->impl();
}

void Executor::check_input(size_t i, const Tensor& t) const {
  const Value& v = graph_.value(graph_.inputs[i]);
  // float32 for a float16 input is rounded to float16 on entry (lower_float16 put a Cast there):
  // images and data sets are float32, and this is what converting them first would give.
  if (v.has_type && v.dtype == DType::kFloat16 && t.dtype() == DType::kFloat32) {
    static std::atomic<bool> noticed{false};  // once per process, not once per batch
    if (!noticed.exchange(true)) {
      fmt::print(stderr, "note: {}: input '{}' is float16; float32 values are rounded to float16\n", graph_.source,
                 v.name);
    }
  } else if (v.has_type && t.dtype() != v.dtype) {
    fail<ShapeError>("{}: input '{}' expects {}, got {}", graph_.source, v.name, dtype_name(v.dtype),
                     dtype_name(t.dtype()));
  }
  if (!v.has_shape) return;
  bool ok = static_cast<int>(v.shape.size()) == t.rank();
  for (size_t d = 0; ok && d < v.shape.size(); ++d) {
    if (v.shape[d] >= 0 && v.shape[d] != t.shape()[d]) ok = false;
  }
  if (!ok) {
    std::string want = "[";
    for (size_t d = 0; d < v.shape.size(); ++d) {
      if (d) want += ", ";
      want += v.shape[d] >= 0 ? std::to_string(v.shape[d])
                              : (d < v.dim_names.size() && !v.dim_names[d].empty() ? v.dim_names[d] : "?");
    }
    want += "]";
    fail<ShapeError>("{}: input '{}' expects shape {}, got {}", graph_.source, v.name, want, shape_str(t.shape()));
  }
}

std::vector<Tensor> Executor::run(const std::vector<Tensor>& inputs) {
  if (inputs.size() != graph_.inputs.size()) {
    fail<ShapeError>("{}: the model takes {} input(s), got {}", graph_.source, graph_.inputs.size(), inputs.size());
  }
  omp_set_num_threads(threads_);
  for (size_t i = 0; i < inputs.size(); ++i) {
    check_input(i, inputs[i]);
    values_[graph_.inputs[i]] = inputs[i];
  }

  std::vector<const Tensor*> in_ptrs;
  std::vector<Tensor> outs;
  Tensor transformed;  // a layer's activations after its transform
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    const Node& n = graph_.nodes[i];
    in_ptrs.assign(n.inputs.size(), nullptr);
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      if (n.inputs[k] != kNoValue) in_ptrs[k] = &values_[n.inputs[k]];
    }
    const int layer = layer_of_node_[i];
    const LayerTransform* xf = nullptr;
    if (layer >= 0) {
      auto it = options_.transforms.find(layers_[layer].name);
      if (it != options_.transforms.end() && it->second.active()) xf = &it->second;
    }
    if (xf && (xf->prune_threshold > 0 || xf->activations.kind != OperandTransform::kNone)) {
      const Tensor& a = *in_ptrs[0];
      if (a.dtype() != DType::kFloat32) fail<ShapeError>("{}: activations must be float32", graph_.where(n));
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
      in_ptrs[0] = &transformed;
    }

    outs.assign(n.outputs.size(), Tensor());
    OpContext ctx(n, graph_, in_ptrs, outs, *pool_, *dnnl_, threads_);
    kernels_[i]->run(ctx);
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      if (n.outputs[k] == kNoValue) {
        pool_->release(outs[k]);
        continue;
      }
      if (!outs[k].defined()) fail<ShapeError>("internal error: {}: output {} was not produced", graph_.where(n), k);
      values_[n.outputs[k]] = std::move(outs[k]);
    }
    if (layer >= 0 && options_.observer) {
      options_.observer->on_layer(layers_[layer], *in_ptrs[0], values_[layers_[layer].weights], values_[n.outputs[0]]);
    }
    if (transformed.defined()) pool_->release(transformed);
    for (ValueId v : release_after_[i]) pool_->release(values_[v]);
  }

  std::vector<Tensor> result;
  result.reserve(graph_.outputs.size());
  for (ValueId v : graph_.outputs) result.push_back(values_[v]);
  // Graph outputs are handed to the caller; inputs are the caller's. Drop our references.
  for (ValueId v : graph_.outputs) {
    if (!graph_.values[v].constant) values_[v] = Tensor();
  }
  for (size_t i = 0; i < inputs.size(); ++i) values_[graph_.inputs[i]] = Tensor();
  return result;
}

}  // namespace eff
